package otlp

import (
	"fmt"
	"strconv"
)

// The X-Ray document model, as far as the translation needs it. Every field is optional
// in the JSON; a zero value means absent unless a has* flag says otherwise.

type xsegment struct {
	name, id, typ, namespace                        []byte
	traceIDText, parentIDText                       []byte
	origin, user, resourceARN, serviceVersion       []byte
	traceID                                         [16]byte // set by validate
	spanID, parentID                                [8]byte
	start, end                                      int64 // Unix nanoseconds
	hasStart, hasEnd, inProgress                    bool
	errorF, fault, thr, traced                      optBool
	http                                            xhttp
	aws                                             xaws
	sql                                             xsql
	cause                                           xcause
	annotations                                     []xannotation
	metadata                                        []xmetadata
	precursorIDs                                    [][]byte
	links                                           []xlink
	firstChild, lastChild, nextSibling              *xsegment
	raw                                             []byte // the element's text when it came inside a top-level array
	independentElement                              bool   // came from a top-level array
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

// parseDocument reads one segment document: an object, or (spec choice) an array of
// independent subsegments. It appends what it finds to out.
func (d *decoder) parseDocument(doc []byte, out []xsegment) ([]xsegment, error) {
	d.reset(doc)
	switch d.peek() {
	case '{':
		var s xsegment
		d.parseSegment(&s)
		if err := d.end(); err != nil {
			return out, invalid("InvalidJSON", "%v", err)
		}
		return append(out, s), nil
	case '[':
		n0 := len(out)
		d.array()
		for n := 0; d.elem(&n); {
			d.ws()
			start := d.i
			if d.peek() != '{' {
				d.skip()
				continue
			}
			var s xsegment
			d.parseSegment(&s)
			s.raw = doc[start:d.i]
			s.independentElements = true
			out = append(out, s)
		}
		if err := d.end(); err != nil {
			return out[:n0], invalid("InvalidJSON", "%v", err)
		}
		if len(out) == n0 {
			return out, invalid("InvalidJSON", "the array holds no subsegment")
		}
		return out, nil
	case 0:
		return out, invalid("InvalidJSON", "empty document")
	default:
		d.skip()
		if d.err != nil {
			return out, invalid("InvalidJSON", "%v", d.err)
		}
		return out, invalid("InvalidJSON", "a segment document must be a JSON object")
	}
}

// parseSegment reads a (sub)segment object at d.i.
func (d *decoder) parseSegment(s *xsegment) {
	if !d.object() {
		return
	}
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		switch string(k) {
		case "name":
			s.name, _ = d.str()
		case "id":
			s.id, _ = d.str()
		case "trace_id":
			s.traceID, _ = d.str()
		case "parent_id":
			s.parentID, _ = d.str()
		case "type":
			s.typ, _ = d.str()
		case "namespace":
			s.namespace, _ = d.str()
		case "origin":
			s.origin, _ = d.str()
		case "user":
			s.user, _ = d.str()
		case "resource_arn":
			s.resourceARN, _ = d.str()
		case "start_time":
			s.start, s.hasStart = d.time()
		case "end_time":
			s.end, s.hasEnd = d.time()
		case "in_progress":
			s.inProgress, _ = d.boolean()
		case "error":
			s.errorF = d.optBool()
		case "fault":
			s.fault = d.optBool()
		case "throttle":
			s.thr = d.optBool()
		case "traced":
			s.traced = d.optBool()
		case "service":
			d.parseService(s)
		case "http":
			d.parseHTTP(&s.http)
		case "aws":
			d.parseAWS(&s.aws)
		case "sql":
			d.parseSQL(&s.sql)
		case "cause":
			d.parseCause(&s.cause)
		case "annotations":
			s.annotations = d.parseAnnotations(s.annotations)
		case "metadata":
			d.parseMetadata(s)
		case "precursor_ids":
			s.precursorIDs = d.strings(s.precursorIDs)
		case "links":
			d.parseLinks(s)
		case "subsegments":
			if !d.array() {
				continue
			}
			for n := 0; d.elem(&n); {
				if d.peek() != '{' {
					d.skip()
					continue
				}
				s.subsegments = append(s.subsegments, xsegment{})
				d.parseSegment(&s.subsegments[len(s.subsegments)-1])
			}
		default:
			d.skip()
		}
	}
}

func (d *decoder) time() (int64, bool) {
	raw, ok := d.number()
	if !ok {
		return 0, false
	}
	t, err := parseTime(raw)
	return t, err == nil
}

func (d *decoder) optBool() optBool {
	v, ok := d.boolean()
	switch {
	case !ok:
		return boolAbsent
	case v:
		return boolTrue
	default:
		return boolFalse
	}
}

func (d *decoder) strings(dst []string) []string {
	if !d.array() {
		return dst
	}
	for n := 0; d.elem(&n); {
		if v, ok := d.str(); ok {
			dst = append(dst, v)
		}
	}
	return dst
}

func (d *decoder) parseService(s *xsegment) {
	if !d.object() {
		return
	}
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		if string(k) == "version" {
			s.serviceVersion, _ = d.str()
		} else {
			d.skip()
		}
	}
}

func (d *decoder) parseHTTP(h *xhttp) {
	if !d.object() {
		return
	}
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		switch string(k) {
		case "request":
			if !d.object() {
				continue
			}
			for m := 0; ; {
				k, ok := d.member(&m)
				if !ok {
					break
				}
				switch string(k) {
				case "method":
					h.method, _ = d.str()
				case "url":
					h.url, _ = d.str()
				case "user_agent":
					h.userAgent, _ = d.str()
				case "client_ip":
					h.clientIP, _ = d.str()
				case "x_forwarded_for":
					h.xForwardedFor = d.optBool()
				default:
					d.skip()
				}
			}
		case "response":
			if !d.object() {
				continue
			}
			for m := 0; ; {
				k, ok := d.member(&m)
				if !ok {
					break
				}
				switch string(k) {
				case "status":
					h.status, h.hasStatus = d.int64()
				case "content_length":
					if d.peek() == '"' {
						h.contentLengthStr, h.hasContentLength = d.str()
					} else {
						h.contentLength, h.hasContentLength = d.int64()
					}
				default:
					d.skip()
				}
			}
		default:
			d.skip()
		}
	}
}

func (d *decoder) parseAWS(a *xaws) {
	if !d.object() {
		return
	}
	a.present = true
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		switch string(k) {
		case "account_id":
			a.accountID, _ = d.str()
		case "operation":
			a.operation, _ = d.str()
		case "region":
			a.region, _ = d.str()
		case "request_id":
			a.requestID, _ = d.str()
		case "queue_url":
			a.queueURL, _ = d.str()
		case "table_name":
			a.tableName, _ = d.str()
		case "bucket_name":
			a.bucketName, _ = d.str()
		case "key":
			a.key, _ = d.str()
		case "retries":
			a.retries, a.hasRetries = d.int64()
		case "ec2":
			d.fields(func(k []byte) {
				switch string(k) {
				case "instance_id":
					a.ec2.instanceID, _ = d.str()
				case "availability_zone":
					a.ec2.availabilityZone, _ = d.str()
				case "instance_size":
					a.ec2.instanceSize, _ = d.str()
				case "ami_id":
					a.ec2.amiID, _ = d.str()
				default:
					d.skip()
				}
			})
		case "ecs":
			d.fields(func(k []byte) {
				e := &a.ecs
				switch string(k) {
				case "container":
					e.container, _ = d.str()
				case "container_id":
					e.containerID, _ = d.str()
				case "container_arn":
					e.containerARN, _ = d.str()
				case "task_arn":
					e.taskARN, _ = d.str()
				case "task_family":
					e.taskFamily, _ = d.str()
				case "cluster_arn":
					e.clusterARN, _ = d.str()
				case "availability_zone":
					e.availabilityZone, _ = d.str()
				case "launch_type":
					e.launchType, _ = d.str()
				default:
					d.skip()
				}
			})
		case "eks":
			d.fields(func(k []byte) {
				switch string(k) {
				case "pod":
					a.eks.pod, _ = d.str()
				case "cluster_name":
					a.eks.clusterName, _ = d.str()
				case "container_id":
					a.eks.containerID, _ = d.str()
				default:
					d.skip()
				}
			})
		case "elastic_beanstalk":
			d.fields(func(k []byte) {
				b := &a.beanstalk
				switch string(k) {
				case "environment_name":
					b.environment, _ = d.str()
				case "version_label":
					b.versionLabel, _ = d.str()
				case "deployment_id":
					b.deploymentID, b.hasDeploymentID = d.int64()
				default:
					d.skip()
				}
			})
		case "xray":
			d.fields(func(k []byte) {
				switch string(k) {
				case "sdk":
					a.xray.sdk, _ = d.str()
				case "sdk_version":
					a.xray.sdkVersion, _ = d.str()
				case "auto_instrumentation":
					a.xray.autoInstrumentation = d.optBool()
				default:
					d.skip()
				}
			})
		case "cloudwatch_logs":
			if !d.array() {
				continue
			}
			for m := 0; d.elem(&m); {
				d.fields(func(k []byte) {
					switch string(k) {
					case "log_group":
						if v, ok := d.str(); ok {
							a.logGroups = append(a.logGroups, v)
						}
					case "arn":
						if v, ok := d.str(); ok {
							a.logGroupARNs = append(a.logGroupARNs, v)
						}
					default:
						d.skip()
					}
				})
			}
		default:
			d.skip()
		}
	}
}

// fields calls fn for each member of an object; fn must consume the value.
func (d *decoder) fields(fn func(key []byte)) {
	if !d.object() {
		return
	}
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		fn(k)
	}
}

func (d *decoder) parseSQL(q *xsql) {
	if !d.object() {
		return
	}
	q.present = true
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		switch string(k) {
		case "url":
			q.url, _ = d.str()
		case "connection_string":
			q.connectionString, _ = d.str()
		case "sanitized_query":
			q.sanitizedQuery, _ = d.str()
		case "database_type":
			q.dbType, _ = d.str()
		case "database_version":
			q.dbVersion, _ = d.str()
		case "driver_version":
			q.driverVersion, _ = d.str()
		case "user":
			q.user, _ = d.str()
		case "preparation":
			q.preparation, _ = d.str()
		default:
			d.skip()
		}
	}
}

func (d *decoder) parseCause(c *xcause) {
	switch d.peek() {
	case '"':
		c.exceptionID, c.present = d.str()
		return
	case '{':
	default:
		d.skip()
		return
	}
	d.object()
	c.present = true
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		switch string(k) {
		case "working_directory":
			c.workingDir, _ = d.str()
		case "paths":
			c.paths = d.strings(c.paths)
		case "exceptions":
			if !d.array() {
				continue
			}
			for m := 0; d.elem(&m); {
				if d.peek() != '{' {
					d.skip()
					continue
				}
				c.exceptions = append(c.exceptions, xexception{})
				d.parseException(&c.exceptions[len(c.exceptions)-1])
			}
		default:
			d.skip()
		}
	}
}

func (d *decoder) parseException(e *xexception) {
	d.fields(func(k []byte) {
		switch string(k) {
		case "id":
			e.id, _ = d.str()
		case "message":
			e.message, _ = d.str()
		case "type":
			e.typ, _ = d.str()
		case "cause":
			e.cause, _ = d.str()
		case "remote":
			e.remote = d.optBool()
		case "truncated":
			e.truncated, e.hasTruncated = d.int64()
		case "skipped":
			e.skipped, e.hasSkip = d.int64()
		case "stack":
			if !d.array() {
				return
			}
			for m := 0; d.elem(&m); {
				var f xframe
				d.fields(func(k []byte) {
					switch string(k) {
					case "path":
						f.path, _ = d.str()
					case "label":
						f.label, _ = d.str()
					case "line":
						f.line, f.hasLine = d.int64()
					default:
						d.skip()
					}
				})
				e.stack = append(e.stack, f)
			}
		default:
			d.skip()
		}
	})
}

// parseAnnotations keeps string, number and boolean values; spec §5.4 drops the others.
func (d *decoder) parseAnnotations(dst []xannotation) []xannotation {
	if !d.object() {
		return dst
	}
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return dst
		}
		a := xannotation{key: string(k)}
		switch c := d.peek(); {
		case c == '"':
			a.kind = annString
			a.s, ok = d.str()
		case c == 't' || c == 'f':
			a.kind = annBool
			a.b, ok = d.boolean()
		case c == '-' || (c >= '0' && c <= '9'):
			var raw []byte
			raw, ok = d.number()
			if v, isInt := parseInt(raw); isInt {
				a.kind, a.i = annInt, v
			} else {
				a.kind = annDouble
				var err error
				a.f, err = strconv.ParseFloat(string(raw), 64)
				ok = ok && err == nil
			}
		default:
			d.skip()
			ok = false
		}
		if ok {
			dst = append(dst, a)
		}
	}
}

// parseMetadata keeps each namespace's value as compact JSON, as awsxrayreceiver does.
func (d *decoder) parseMetadata(s *xsegment) {
	if !d.object() {
		return
	}
	var buf []byte
	for n := 0; ; {
		k, ok := d.member(&n)
		if !ok {
			return
		}
		key := string(k)
		v := d.raw()
		if d.err != nil {
			return
		}
		buf = compactJSON(buf[:0], v)
		s.metadata = append(s.metadata, xmetadata{key: key, json: string(buf)})
	}
}

func (d *decoder) parseLinks(s *xsegment) {
	if !d.array() {
		return
	}
	for n := 0; d.elem(&n); {
		var l xlink
		d.fields(func(k []byte) {
			switch string(k) {
			case "trace_id":
				l.traceID, _ = d.str()
			case "id":
				l.spanID, _ = d.str()
			case "attributes":
				l.attrs = d.parseAnnotations(l.attrs)
			default:
				d.skip()
			}
		})
		s.links = append(s.links, l)
	}
}

// validate applies the checks without which a span cannot be built: ids, name, start.
// Embedded subsegments inherit the trace id.
func (s *xsegment) validate(top bool) error {
	if s.id == "" {
		return invalid("MissingId", "the (sub)segment has no \"id\"")
	}
	if _, ok := decodeSpanID(s.id); !ok {
		return invalid("InvalidId", "id %q is not 16 hex digits", s.id)
	}
	if top {
		if s.traceID == "" {
			return invalid("MissingTraceId", "segment %s has no \"trace_id\"", s.id)
		}
		if _, ok := decodeTraceID(s.traceID); !ok {
			return invalid("InvalidTraceId", "trace_id %q is not 1-<8 hex>-<24 hex>", s.traceID)
		}
		if s.parentID != "" {
			if _, ok := decodeSpanID(s.parentID); !ok {
				return invalid("InvalidParentId", "parent_id %q is not 16 hex digits", s.parentID)
			}
		} else if s.typ == "subsegment" {
			return invalid("MissingParentId", "independent subsegment %s has no \"parent_id\"", s.id)
		}
	}
	if s.name == "" {
		return invalid("MissingName", "segment %s has no \"name\"", s.id)
	}
	if !s.hasStart {
		return invalid("MissingStartTime", "segment %s has no numeric \"start_time\"", s.id)
	}
	for i := range s.subsegments {
		if err := s.subsegments[i].validate(false); err != nil {
			return err
		}
	}
	return nil
}

// count is the number of spans s becomes.
func (s *xsegment) count() int {
	n := 1
	for i := range s.subsegments {
		n += s.subsegments[i].count()
	}
	return n
}

// decodeTraceID turns "1-5f84c7a1-e7d1852db8c4fd35d88bf49a" into its 16 bytes.
func decodeTraceID(s string) ([16]byte, bool) {
	var id [16]byte
	if len(s) != 35 || s[0] != '1' || s[1] != '-' || s[10] != '-' {
		return id, false
	}
	if !hexInto(id[:4], s[2:10]) || !hexInto(id[4:], s[11:]) {
		return id, false
	}
	return id, true
}

func decodeSpanID(s string) ([8]byte, bool) {
	var id [8]byte
	if len(s) != 16 || !hexInto(id[:], s) {
		return id, false
	}
	return id, true
}

func hexInto(dst []byte, s string) bool {
	for i := range dst {
		hi, lo := unhex(s[2*i]), unhex(s[2*i+1])
		if hi < 0 || lo < 0 {
			return false
		}
		dst[i] = byte(hi<<4 | lo)
	}
	return true
}
