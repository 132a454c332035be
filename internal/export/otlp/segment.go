package otlp

import (
	"fmt"
	"strconv"
)

// The X-Ray document model, as far as the translation needs it. Every field is optional
// in the JSON; a zero value means absent unless a has* flag says otherwise.

type xsegment struct {
	name, id, typ, namespace                  []byte
	traceIDText, parentIDText                 []byte
	origin, user, resourceARN, serviceVersion []byte
	traceID                                   [16]byte // set by validate
	spanID, parentID                          [8]byte
	start, end                                int64 // Unix nanoseconds
	hasStart, hasEnd, inProgress              bool
	errorF, fault, thr, traced                optBool
	http                                      xhttp
	aws                                       xaws
	sql                                       xsql
	cause                                     xcause
	annotations                               []xannotation
	metadata                                  []xmetadata
	precursorIDs                              [][]byte
	links                                     []xlink
	firstChild, lastChild, nextSibling        *xsegment
	raw                                       []byte // the element's text when it came inside a top-level array
	independentElement                        bool   // came from a top-level array
}

// optBool is a JSON boolean that may be absent.
type optBool uint8

const (
	boolAbsent optBool = iota
	boolFalse
	boolTrue
)

func (b optBool) set() bool    { return b != boolAbsent }
func (b optBool) isTrue() bool { return b == boolTrue }

type xhttp struct {
	method, url, userAgent, clientIP []byte
	xForwardedFor                    optBool
	status                           int64
	hasStatus                        bool
	contentLength                    int64
	contentLengthStr                 []byte
	hasContentLength                 bool
}

type xaws struct {
	present bool

	accountID, operation, region, requestID, queueURL, tableName []byte
	bucketName, key                                              []byte
	retries                                                      int64
	hasRetries                                                   bool

	ec2       struct{ instanceID, availabilityZone, instanceSize, amiID []byte }
	ecs       struct{ container, containerID, containerARN, taskARN, taskFamily, clusterARN, availabilityZone, launchType []byte }
	eks       struct{ pod, clusterName, containerID []byte }
	beanstalk struct {
		environment, versionLabel []byte
		deploymentID              int64
		hasDeploymentID           bool
	}
	xray struct {
		sdk, sdkVersion     []byte
		autoInstrumentation optBool
	}
	logGroups, logGroupARNs [][]byte
}

type xsql struct {
	present                                       bool
	url, connectionString, sanitizedQuery, dbType []byte
	dbVersion, driverVersion, user, preparation   []byte
}

type xcause struct {
	present     bool
	exceptionID []byte // cause given as an exception id
	exceptions  []xexception
}

type xexception struct {
	id, message, typ, cause []byte
	remote                  optBool
	truncated, skipped      int64
	hasTruncated, hasSkip   bool
	stack                   []xframe
}

type xframe struct {
	path, label []byte
	line        int64
	hasLine     bool
}

type annotationKind uint8

const (
	annString annotationKind = iota
	annInt
	annDouble
	annBool
)

type xannotation struct {
	key  []byte
	kind annotationKind
	s    []byte
	i    int64
	f    float64
	b    bool
}

type xmetadata struct {
	key, json []byte
}

type xlink struct {
	traceID, spanID []byte
	attrs           []xannotation
}

// parser turns documents into xsegment trees. Everything it returns (nodes, slices,
// text) lives in buffers it reuses, so it is valid only until the next parse; that keeps
// steady-state parsing free of allocations.
type parser struct {
	decoder
	slab   [][]xsegment // chunks never move, so node pointers stay valid while parsing
	used   int
	tops   []*xsegment
	anns   []xannotation
	metas  []xmetadata
	excs   []xexception
	frames []xframe
	strs   [][]byte
	links  []xlink
}

const slabChunk = 32

func (p *parser) newNode() *xsegment {
	c := p.used / slabChunk
	if c == len(p.slab) {
		p.slab = append(p.slab, make([]xsegment, slabChunk))
	}
	n := &p.slab[c][p.used%slabChunk]
	*n = xsegment{}
	p.used++
	return n
}

func (p *parser) resetDoc(doc []byte) {
	p.decoder.reset(doc)
	p.used = 0
	clear(p.tops)
	p.tops = p.tops[:0]
	p.anns, p.metas, p.excs, p.frames, p.strs, p.links = p.anns[:0], p.metas[:0], p.excs[:0], p.frames[:0], p.strs[:0], p.links[:0]
}

// invalidError is why a document cannot be translated; code goes to export.Unprocessed.
type invalidError struct {
	code, msg string
}

func (e *invalidError) Error() string { return e.code + ": " + e.msg }

func invalid(code, format string, args ...any) *invalidError {
	return &invalidError{code: code, msg: fmt.Sprintf(format, args...)}
}

// parse reads and validates one document: an object, or (spec choice) an array of
// independent subsegments. It returns the top-level (sub)segments.
func (p *parser) parse(doc []byte) ([]*xsegment, error) {
	p.resetDoc(doc)
	switch p.peek() {
	case '{':
		s := p.newNode()
		p.parseSegment(s)
		if err := p.end(); err != nil {
			return nil, invalid("InvalidJSON", "%v", err)
		}
		p.tops = append(p.tops, s)
	case '[':
		p.array()
		for n := 0; p.elem(&n); {
			p.ws()
			start := p.i
			if p.peek() != '{' {
				p.skip()
				continue
			}
			s := p.newNode()
			p.parseSegment(s)
			s.raw = doc[start:p.i]
			s.independentElement = true
			p.tops = append(p.tops, s)
		}
		if err := p.end(); err != nil {
			return nil, invalid("InvalidJSON", "%v", err)
		}
		if len(p.tops) == 0 {
			return nil, invalid("InvalidJSON", "the array holds no subsegment")
		}
	case 0:
		return nil, invalid("InvalidJSON", "empty document")
	default:
		p.skip()
		if p.err != nil {
			return nil, invalid("InvalidJSON", "%v", p.err)
		}
		return nil, invalid("InvalidJSON", "a segment document must be a JSON object")
	}
	for _, s := range p.tops {
		if err := s.validate(true); err != nil {
			return nil, err
		}
	}
	return p.tops, nil
}

// parseSegment reads a (sub)segment object at p.i.
func (p *parser) parseSegment(s *xsegment) {
	if !p.object() {
		return
	}
	for n := 0; ; {
		k, ok := p.member(&n)
		if !ok {
			return
		}
		switch string(k) {
		case "name":
			s.name, _ = p.text()
		case "id":
			s.id, _ = p.text()
		case "trace_id":
			s.traceIDText, _ = p.text()
		case "parent_id":
			s.parentIDText, _ = p.text()
		case "type":
			s.typ, _ = p.text()
		case "namespace":
			s.namespace, _ = p.text()
		case "origin":
			s.origin, _ = p.text()
		case "user":
			s.user, _ = p.text()
		case "resource_arn":
			s.resourceARN, _ = p.text()
		case "start_time":
			s.start, s.hasStart = p.time()
		case "end_time":
			s.end, s.hasEnd = p.time()
		case "in_progress":
			s.inProgress, _ = p.boolean()
		case "error":
			s.errorF = p.optBool()
		case "fault":
			s.fault = p.optBool()
		case "throttle":
			s.thr = p.optBool()
		case "traced":
			s.traced = p.optBool()
		case "service":
			p.fields(func(k []byte) {
				if string(k) == "version" {
					s.serviceVersion, _ = p.text()
				} else {
					p.skip()
				}
			})
		case "http":
			p.parseHTTP(&s.http)
		case "aws":
			p.parseAWS(&s.aws)
		case "sql":
			p.parseSQL(&s.sql)
		case "cause":
			p.parseCause(&s.cause)
		case "annotations":
			s.annotations = p.parseAnnotations()
		case "metadata":
			p.parseMetadata(s)
		case "precursor_ids":
			s.precursorIDs = p.strings()
		case "links":
			p.parseLinks(s)
		case "subsegments":
			if !p.array() {
				continue
			}
			for n := 0; p.elem(&n); {
				if p.peek() != '{' {
					p.skip()
					continue
				}
				c := p.newNode()
				p.parseSegment(c)
				if s.lastChild == nil {
					s.firstChild = c
				} else {
					s.lastChild.nextSibling = c
				}
				s.lastChild = c
			}
		default:
			p.skip()
		}
	}
}

func (p *parser) time() (int64, bool) {
	raw, ok := p.number()
	if !ok {
		return 0, false
	}
	t, err := parseTime(raw)
	return t, err == nil
}

func (p *parser) optBool() optBool {
	v, ok := p.boolean()
	switch {
	case !ok:
		return boolAbsent
	case v:
		return boolTrue
	default:
		return boolFalse
	}
}

// strings reads an array of strings into the shared arena.
func (p *parser) strings() [][]byte {
	if !p.array() {
		return nil
	}
	start := len(p.strs)
	for n := 0; p.elem(&n); {
		if v, ok := p.text(); ok {
			p.strs = append(p.strs, v)
		}
	}
	return p.strs[start:len(p.strs):len(p.strs)]
}

// fields calls fn for each member of an object; fn must consume the value.
func (p *parser) fields(fn func(key []byte)) {
	if !p.object() {
		return
	}
	for n := 0; ; {
		k, ok := p.member(&n)
		if !ok {
			return
		}
		fn(k)
	}
}

func (p *parser) parseHTTP(h *xhttp) {
	p.fields(func(k []byte) {
		switch string(k) {
		case "request":
			p.fields(func(k []byte) {
				switch string(k) {
				case "method":
					h.method, _ = p.text()
				case "url":
					h.url, _ = p.text()
				case "user_agent":
					h.userAgent, _ = p.text()
				case "client_ip":
					h.clientIP, _ = p.text()
				case "x_forwarded_for":
					h.xForwardedFor = p.optBool()
				default:
					p.skip()
				}
			})
		case "response":
			p.fields(func(k []byte) {
				switch string(k) {
				case "status":
					h.status, h.hasStatus = p.int64()
				case "content_length":
					if p.peek() == '"' {
						h.contentLengthStr, h.hasContentLength = p.text()
					} else {
						h.contentLength, h.hasContentLength = p.int64()
					}
				default:
					p.skip()
				}
			})
		default:
			p.skip()
		}
	})
}

func (p *parser) parseAWS(a *xaws) {
	if p.peek() == '{' {
		a.present = true
	}
	p.fields(func(k []byte) {
		switch string(k) {
		case "account_id":
			a.accountID, _ = p.text()
		case "operation":
			a.operation, _ = p.text()
		case "region":
			a.region, _ = p.text()
		case "request_id":
			a.requestID, _ = p.text()
		case "queue_url":
			a.queueURL, _ = p.text()
		case "table_name":
			a.tableName, _ = p.text()
		case "bucket_name":
			a.bucketName, _ = p.text()
		case "key":
			a.key, _ = p.text()
		case "retries":
			a.retries, a.hasRetries = p.int64()
		case "ec2":
			p.fields(func(k []byte) {
				switch string(k) {
				case "instance_id":
					a.ec2.instanceID, _ = p.text()
				case "availability_zone":
					a.ec2.availabilityZone, _ = p.text()
				case "instance_size":
					a.ec2.instanceSize, _ = p.text()
				case "ami_id":
					a.ec2.amiID, _ = p.text()
				default:
					p.skip()
				}
			})
		case "ecs":
			e := &a.ecs
			p.fields(func(k []byte) {
				switch string(k) {
				case "container":
					e.container, _ = p.text()
				case "container_id":
					e.containerID, _ = p.text()
				case "container_arn":
					e.containerARN, _ = p.text()
				case "task_arn":
					e.taskARN, _ = p.text()
				case "task_family":
					e.taskFamily, _ = p.text()
				case "cluster_arn":
					e.clusterARN, _ = p.text()
				case "availability_zone":
					e.availabilityZone, _ = p.text()
				case "launch_type":
					e.launchType, _ = p.text()
				default:
					p.skip()
				}
			})
		case "eks":
			p.fields(func(k []byte) {
				switch string(k) {
				case "pod":
					a.eks.pod, _ = p.text()
				case "cluster_name":
					a.eks.clusterName, _ = p.text()
				case "container_id":
					a.eks.containerID, _ = p.text()
				default:
					p.skip()
				}
			})
		case "elastic_beanstalk":
			b := &a.beanstalk
			p.fields(func(k []byte) {
				switch string(k) {
				case "environment_name":
					b.environment, _ = p.text()
				case "version_label":
					b.versionLabel, _ = p.text()
				case "deployment_id":
					b.deploymentID, b.hasDeploymentID = p.int64()
				default:
					p.skip()
				}
			})
		case "xray":
			p.fields(func(k []byte) {
				switch string(k) {
				case "sdk":
					a.xray.sdk, _ = p.text()
				case "sdk_version":
					a.xray.sdkVersion, _ = p.text()
				case "auto_instrumentation":
					a.xray.autoInstrumentation = p.optBool()
				default:
					p.skip()
				}
			})
		case "cloudwatch_logs":
			p.parseLogGroups(a)
		default:
			p.skip()
		}
	})
}

func (p *parser) parseLogGroups(a *xaws) {
	if !p.array() {
		return
	}
	// Names and ARNs interleave, so they cannot share the arena as contiguous runs; they
	// are rare enough to get slices of their own.
	for n := 0; p.elem(&n); {
		p.fields(func(k []byte) {
			switch string(k) {
			case "log_group":
				if v, ok := p.text(); ok {
					a.logGroups = append(a.logGroups, v)
				}
			case "arn":
				if v, ok := p.text(); ok {
					a.logGroupARNs = append(a.logGroupARNs, v)
				}
			default:
				p.skip()
			}
		})
	}
}

func (p *parser) parseSQL(q *xsql) {
	if p.peek() == '{' {
		q.present = true
	}
	p.fields(func(k []byte) {
		switch string(k) {
		case "url":
			q.url, _ = p.text()
		case "connection_string":
			q.connectionString, _ = p.text()
		case "sanitized_query":
			q.sanitizedQuery, _ = p.text()
		case "database_type":
			q.dbType, _ = p.text()
		case "database_version":
			q.dbVersion, _ = p.text()
		case "driver_version":
			q.driverVersion, _ = p.text()
		case "user":
			q.user, _ = p.text()
		case "preparation":
			q.preparation, _ = p.text()
		default:
			p.skip()
		}
	})
}

func (p *parser) parseCause(c *xcause) {
	switch p.peek() {
	case '"':
		c.exceptionID, c.present = p.text()
		return
	case '{':
		c.present = true
	}
	p.fields(func(k []byte) {
		if string(k) != "exceptions" {
			p.skip()
			return
		}
		if !p.array() {
			return
		}
		start := len(p.excs)
		for m := 0; p.elem(&m); {
			if p.peek() != '{' {
				p.skip()
				continue
			}
			var e xexception
			p.parseException(&e)
			p.excs = append(p.excs, e)
		}
		c.exceptions = p.excs[start:len(p.excs):len(p.excs)]
	})
}

func (p *parser) parseException(e *xexception) {
	p.fields(func(k []byte) {
		switch string(k) {
		case "id":
			e.id, _ = p.text()
		case "message":
			e.message, _ = p.text()
		case "type":
			e.typ, _ = p.text()
		case "cause":
			e.cause, _ = p.text()
		case "remote":
			e.remote = p.optBool()
		case "truncated":
			e.truncated, e.hasTruncated = p.int64()
		case "skipped":
			e.skipped, e.hasSkip = p.int64()
		case "stack":
			if !p.array() {
				return
			}
			start := len(p.frames)
			for m := 0; p.elem(&m); {
				var f xframe
				p.fields(func(k []byte) {
					switch string(k) {
					case "path":
						f.path, _ = p.text()
					case "label":
						f.label, _ = p.text()
					case "line":
						f.line, f.hasLine = p.int64()
					default:
						p.skip()
					}
				})
				p.frames = append(p.frames, f)
			}
			e.stack = p.frames[start:len(p.frames):len(p.frames)]
		default:
			p.skip()
		}
	})
}

// parseAnnotations keeps string, number and boolean values; spec §5.4 drops the others.
// A repeated key keeps its last value, as a JSON decoder would.
func (p *parser) parseAnnotations() []xannotation {
	if !p.object() {
		return nil
	}
	start := len(p.anns)
	for n := 0; ; {
		k, ok := p.member(&n)
		if !ok {
			break
		}
		a := xannotation{}
		switch c := p.peek(); {
		case c == '"':
			a.kind = annString
			a.s, ok = p.text()
		case c == 't' || c == 'f':
			a.kind = annBool
			a.b, ok = p.boolean()
		case c == '-' || (c >= '0' && c <= '9'):
			var raw []byte
			raw, ok = p.number()
			if v, isInt := parseInt(raw); isInt {
				a.kind, a.i = annInt, v
			} else {
				a.kind = annDouble
				var err error
				a.f, err = strconv.ParseFloat(string(raw), 64)
				ok = ok && err == nil
			}
		default:
			p.skip()
			ok = false
		}
		if !ok {
			continue
		}
		a.key = k
		p.anns = appendAnnotation(p.anns, start, a)
	}
	return p.anns[start:len(p.anns):len(p.anns)]
}

func appendAnnotation(l []xannotation, start int, a xannotation) []xannotation {
	for i := start; i < len(l); i++ {
		if string(l[i].key) == string(a.key) {
			l[i] = a
			return l
		}
	}
	return append(l, a)
}

// parseMetadata keeps each namespace's value as compact JSON, as awsxrayreceiver does.
func (p *parser) parseMetadata(s *xsegment) {
	if !p.object() {
		return
	}
	start := len(p.metas)
	for n := 0; ; {
		k, ok := p.member(&n)
		if !ok {
			break
		}
		v := p.raw()
		if p.err != nil {
			return
		}
		p.metas = append(p.metas, xmetadata{key: k, json: p.compact(v)})
	}
	s.metadata = p.metas[start:len(p.metas):len(p.metas)]
}

func (p *parser) parseLinks(s *xsegment) {
	if !p.array() {
		return
	}
	start := len(p.links)
	for n := 0; p.elem(&n); {
		var l xlink
		p.fields(func(k []byte) {
			switch string(k) {
			case "trace_id":
				l.traceID, _ = p.text()
			case "id":
				l.spanID, _ = p.text()
			case "attributes":
				l.attrs = p.parseAnnotations()
			default:
				p.skip()
			}
		})
		p.links = append(p.links, l)
	}
	s.links = p.links[start:len(p.links):len(p.links)]
}

// validate applies the checks without which a span cannot be built (ids, name, start)
// and decodes the ids. Embedded subsegments inherit the trace id.
func (s *xsegment) validate(top bool) error {
	if len(s.id) == 0 {
		return invalid("MissingId", "the (sub)segment has no \"id\"")
	}
	var ok bool
	if s.spanID, ok = decodeSpanID(s.id); !ok {
		return invalid("InvalidId", "id %q is not 16 hex digits", s.id)
	}
	if top {
		if len(s.traceIDText) == 0 {
			return invalid("MissingTraceId", "segment %s has no \"trace_id\"", s.id)
		}
		if s.traceID, ok = decodeTraceID(s.traceIDText); !ok {
			return invalid("InvalidTraceId", "trace_id %q is not 1-<8 hex>-<24 hex>", s.traceIDText)
		}
		if len(s.parentIDText) > 0 {
			if s.parentID, ok = decodeSpanID(s.parentIDText); !ok {
				return invalid("InvalidParentId", "parent_id %q is not 16 hex digits", s.parentIDText)
			}
		} else if string(s.typ) == "subsegment" {
			return invalid("MissingParentId", "independent subsegment %s has no \"parent_id\"", s.id)
		}
	}
	if len(s.name) == 0 {
		return invalid("MissingName", "segment %s has no \"name\"", s.id)
	}
	if !s.hasStart {
		return invalid("MissingStartTime", "segment %s has no numeric \"start_time\"", s.id)
	}
	for c := s.firstChild; c != nil; c = c.nextSibling {
		if err := c.validate(false); err != nil {
			return err
		}
	}
	return nil
}

// decodeTraceID turns "1-5f84c7a1-e7d1852db8c4fd35d88bf49a" into its 16 bytes.
func decodeTraceID(s []byte) ([16]byte, bool) {
	var id [16]byte
	if len(s) != 35 || s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return id, false
	}
	if !hexInto(id[:4], s[2:10]) || !hexInto(id[4:], s[11:]) {
		return id, false
	}
	return id, true
}

func decodeSpanID(s []byte) ([8]byte, bool) {
	var id [8]byte
	if len(s) != 16 || !hexInto(id[:], s) {
		return id, false
	}
	return id, true
}

func hexInto(dst, s []byte) bool {
	for i := range dst {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi < 0 || lo < 0 {
			return false
		}
		dst[i] = byte(hi<<4 | lo)
	}
	return true
}
