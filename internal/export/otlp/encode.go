package otlp

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
)

// The mapping is written once, straight into the OTLP protobuf wire format
// (opentelemetry/proto/collector/trace/v1 ExportTraceServiceRequest). Building pdata
// objects and marshalling them cost three times the CPU budget per segment; Translate
// decodes these same bytes with pdata, so the public data model and the wire agree by
// construction.

// Field numbers of the OTLP trace protos.
const (
	fReqResourceSpans = 1 // ExportTraceServiceRequest

	fRSResource   = 1 // ResourceSpans
	fRSScopeSpans = 2
	fResAttrs     = 1 // Resource
	fSSSpans      = 2 // ScopeSpans

	fSpanTraceID  = 1
	fSpanSpanID   = 2
	fSpanParentID = 4
	fSpanName     = 5
	fSpanKind     = 6
	fSpanStart    = 7
	fSpanEnd      = 8
	fSpanAttrs    = 9
	fSpanEvents   = 11
	fSpanLinks    = 13
	fSpanStatus   = 15

	fEventTime  = 1
	fEventName  = 2
	fEventAttrs = 3

	fLinkTraceID = 1
	fLinkSpanID  = 2
	fLinkAttrs   = 4

	fStatusMessage = 2
	fStatusCode    = 3

	fKVKey   = 1
	fKVValue = 2

	fAnyString = 1
	fAnyBool   = 2
	fAnyInt    = 3
	fAnyDouble = 4
	fAnyArray  = 5
	fArrValues = 1

	wireVarint  = 0
	wireFixed64 = 1
	wireLen     = 2

	kindInternal = 1
	kindServer   = 2
	kindClient   = 3
	statusError  = 2
)

// pb appends protobuf fields to b. Messages are written in place: begin leaves one byte
// for the length, end fills it in and, for a message of 128 bytes or more, moves the
// content right to make room for a longer varint.
type pb struct {
	b []byte
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func (p *pb) varint(v uint64) {
	for v >= 0x80 {
		p.b = append(p.b, byte(v)|0x80)
		v >>= 7
	}
	p.b = append(p.b, byte(v))
}

// tag writes a field key; every field used here has a number below 16.
func (p *pb) tag(field, wire int) { p.b = append(p.b, byte(field<<3|wire)) }

func (p *pb) begin(field int) int {
	p.b = append(p.b, byte(field<<3|wireLen), 0)
	return len(p.b)
}

func (p *pb) end(start int) {
	n := len(p.b) - start
	if n < 0x80 {
		p.b[start-1] = byte(n)
		return
	}
	extra := varintLen(uint64(n)) - 1
	for i := 0; i < extra; i++ {
		p.b = append(p.b, 0)
	}
	copy(p.b[start+extra:], p.b[start:start+n])
	i := start - 1
	for v := uint64(n); ; i++ {
		if v < 0x80 {
			p.b[i] = byte(v)
			break
		}
		p.b[i] = byte(v) | 0x80
		v >>= 7
	}
}

func bytesLen[T ~string | ~[]byte](v T) int { return varintLen(uint64(len(v))) + len(v) }

func appendBytesField[T ~string | ~[]byte](p *pb, field int, v T) {
	p.tag(field, wireLen)
	p.varint(uint64(len(v)))
	p.b = append(p.b, v...)
}

func (p *pb) fixed64(field int, v uint64) {
	p.tag(field, wireFixed64)
	p.b = binary.LittleEndian.AppendUint64(p.b, v)
}

// kvHead writes a KeyValue's key and the headers of the KeyValue and of its AnyValue,
// whose own content is valueLen bytes.
func kvHead[K ~string | ~[]byte](p *pb, field int, key K, valueLen int) {
	kvLen := 1 + bytesLen(key) + 1 + varintLen(uint64(valueLen)) + valueLen
	p.tag(field, wireLen)
	p.varint(uint64(kvLen))
	appendBytesField(p, fKVKey, key)
	p.tag(fKVValue, wireLen)
	p.varint(uint64(valueLen))
}

func kvStr[K, V ~string | ~[]byte](p *pb, field int, key K, v V) {
	kvHead(p, field, key, 1+bytesLen(v))
	appendBytesField(p, fAnyString, v)
}

// kvStrIf writes a string attribute unless the value is empty (absent in the document).
func kvStrIf[V ~string | ~[]byte](p *pb, field int, key string, v V) {
	if len(v) > 0 {
		kvStr(p, field, key, v)
	}
}

func kvInt[K ~string | ~[]byte](p *pb, field int, key K, v int64) {
	kvHead(p, field, key, 1+varintLen(uint64(v)))
	p.tag(fAnyInt, wireVarint)
	p.varint(uint64(v))
}

func kvBool[K ~string | ~[]byte](p *pb, field int, key K, v bool) {
	kvHead(p, field, key, 2)
	p.tag(fAnyBool, wireVarint)
	if v {
		p.b = append(p.b, 1)
	} else {
		p.b = append(p.b, 0)
	}
}

func kvDouble[K ~string | ~[]byte](p *pb, field int, key K, v float64) {
	kvHead(p, field, key, 9)
	p.fixed64(fAnyDouble, math.Float64bits(v))
}

func kvOptBool(p *pb, field int, key string, v optBool) {
	if v.set() {
		kvBool(p, field, key, v.isTrue())
	}
}

func kvStrings(p *pb, field int, key string, vs [][]byte) {
	kv := p.begin(field)
	appendBytesField(p, fKVKey, key)
	val := p.begin(fKVValue)
	arr := p.begin(fAnyArray)
	for _, v := range vs {
		p.tag(fArrValues, wireLen)
		p.varint(uint64(1 + bytesLen(v)))
		appendBytesField(p, fAnyString, v)
	}
	p.end(arr)
	p.end(val)
	p.end(kv)
}

func kvAnnotation(p *pb, field int, a *xannotation) {
	switch a.kind {
	case annString:
		kvStr(p, field, a.key, a.s)
	case annInt:
		kvInt(p, field, a.key, a.i)
	case annDouble:
		kvDouble(p, field, a.key, a.f)
	case annBool:
		kvBool(p, field, a.key, a.b)
	}
}

// encoder writes one ExportTraceServiceRequest. Consecutive documents with the same
// resource attributes share one ResourceSpans, which keeps the request small.
type encoder struct {
	p       pb
	res     pb     // resource attributes of the current document
	openRes []byte // those of the open ResourceSpans
	rs, ss  int    // open ResourceSpans and ScopeSpans, 0 when none
	spans   int
	tmp     []byte
}

func (e *encoder) reset() {
	e.p.b, e.openRes, e.rs, e.ss, e.spans = e.p.b[:0], e.openRes[:0], 0, 0, 0
}

// document adds a validated top-level (sub)segment and everything embedded in it.
func (e *encoder) document(s *xsegment) {
	e.res.b = e.res.b[:0]
	resourceAttrs(&e.res, s)
	if e.rs == 0 || !bytes.Equal(e.res.b, e.openRes) {
		e.closeResource()
		e.rs = e.p.begin(fReqResourceSpans)
		r := e.p.begin(fRSResource)
		e.p.b = append(e.p.b, e.res.b...)
		e.p.end(r)
		e.ss = e.p.begin(fRSScopeSpans)
		e.openRes = append(e.openRes[:0], e.res.b...)
	}
	var parent *[8]byte
	if len(s.parentIDText) > 0 {
		parent = &s.parentID
	}
	e.span(s, &s.traceID, parent, string(s.typ) != "subsegment")
}

func (e *encoder) closeResource() {
	if e.rs != 0 {
		e.p.end(e.ss)
		e.p.end(e.rs)
		e.rs, e.ss = 0, 0
	}
}

// finish closes the request and returns its bytes, valid until the next reset.
func (e *encoder) finish() []byte {
	e.closeResource()
	return e.p.b
}

func (e *encoder) span(s *xsegment, tid *[16]byte, parent *[8]byte, isSegment bool) {
	p := &e.p
	e.spans++
	sp := p.begin(fSSSpans)
	appendBytesField(p, fSpanTraceID, tid[:])
	appendBytesField(p, fSpanSpanID, s.spanID[:])
	if parent != nil {
		appendBytesField(p, fSpanParentID, parent[:])
	}
	appendBytesField(p, fSpanName, s.name)
	kind := kindInternal
	switch {
	case isSegment:
		kind = kindServer
	case string(s.namespace) == "aws" || string(s.namespace) == "remote":
		kind = kindClient
	}
	p.tag(fSpanKind, wireVarint)
	p.b = append(p.b, byte(kind))
	end := s.start
	if s.hasEnd && !s.inProgress {
		end = s.end
	}
	p.fixed64(fSpanStart, uint64(s.start))
	p.fixed64(fSpanEnd, uint64(end))

	const f = fSpanAttrs
	if s.inProgress || !s.hasEnd {
		kvBool(p, f, attrXRayInProgress, true)
	}
	kvStrIf(p, f, attrEndUserID, s.user)
	if string(s.namespace) == "aws" {
		kvStr(p, f, attrAWSService, s.name)
	}
	e.httpAttrs(&s.http)
	e.awsAttrs(&s.aws)
	e.sqlAttrs(&s.sql)
	kvOptBool(p, f, attrXRayTraced, s.traced)
	kvOptBool(p, f, attrXRayError, s.errorF)
	kvOptBool(p, f, attrXRayFault, s.fault)
	kvOptBool(p, f, attrXRayThrottle, s.thr)
	if len(s.precursorIDs) > 0 {
		kvStrings(p, f, attrXRayPrecursorIDs, s.precursorIDs)
	}
	for i := range s.annotations {
		kvAnnotation(p, f, &s.annotations[i])
	}
	for _, m := range s.metadata {
		e.tmp = append(append(e.tmp[:0], attrXRayMetadataPrefix...), m.key...)
		kvStr(p, f, e.tmp, m.json)
	}
	e.exceptions(s, end)
	e.links(s)
	e.status(s)
	p.end(sp)

	for c := s.firstChild; c != nil; c = c.nextSibling {
		e.span(c, tid, &s.spanID, false)
	}
}

// status follows X-Ray's classification (spec §9): error, throttle and fault flags and
// HTTP statuses from 400 up are errors; so is a cause, as awsxrayreceiver does.
func (e *encoder) status(s *xsegment) {
	bad := s.errorF.isTrue() || s.fault.isTrue() || s.thr.isTrue() || s.cause.present ||
		(s.http.hasStatus && s.http.status >= 400)
	if !bad {
		return
	}
	p := &e.p
	st := p.begin(fSpanStatus)
	switch {
	case len(s.cause.exceptionID) > 0:
		appendBytesField(p, fStatusMessage, s.cause.exceptionID)
	case len(s.cause.exceptions) > 0 && len(s.cause.exceptions[0].message) > 0:
		appendBytesField(p, fStatusMessage, s.cause.exceptions[0].message)
	}
	p.tag(fStatusCode, wireVarint)
	p.b = append(p.b, statusError)
	p.end(st)
}

func (e *encoder) httpAttrs(h *xhttp) {
	p := &e.p
	const f = fSpanAttrs
	kvStrIf(p, f, attrHTTPMethod, h.method)
	kvStrIf(p, f, attrHTTPClientIP, h.clientIP)
	kvStrIf(p, f, attrHTTPUserAgent, h.userAgent)
	kvStrIf(p, f, attrHTTPURL, h.url)
	kvOptBool(p, f, attrXRayXForwardedFor, h.xForwardedFor)
	if h.hasStatus {
		kvInt(p, f, attrHTTPStatus, h.status)
	}
	if h.hasContentLength {
		if h.contentLengthStr != nil {
			kvStr(p, f, attrHTTPContentLength, h.contentLengthStr)
		} else {
			kvInt(p, f, attrHTTPContentLength, h.contentLength)
		}
	}
}

func (e *encoder) awsAttrs(a *xaws) {
	if !a.present {
		return
	}
	p := &e.p
	const f = fSpanAttrs
	kvStrIf(p, f, attrAWSAccountID, a.accountID)
	kvStrIf(p, f, attrAWSOperation, a.operation)
	kvStrIf(p, f, attrAWSRegion, a.region)
	kvStrIf(p, f, attrAWSRequestID, a.requestID)
	kvStrIf(p, f, attrAWSQueueURL, a.queueURL)
	kvStrIf(p, f, attrAWSTableName, a.tableName)
	kvStrIf(p, f, attrAWSS3Bucket, a.bucketName)
	kvStrIf(p, f, attrAWSS3Key, a.key)
	if a.hasRetries {
		kvInt(p, f, attrXRayRetries, a.retries)
	}
}

func (e *encoder) sqlAttrs(q *xsql) {
	if !q.present {
		return
	}
	p := &e.p
	const f = fSpanAttrs
	switch {
	case len(q.url) > 0:
		if conn, name, ok := splitSQLURL(q.url); ok {
			kvStr(p, f, attrDBConnection, conn)
			kvStr(p, f, attrDBName, name)
		} else {
			kvStr(p, f, attrDBConnection, q.url)
		}
	case len(q.connectionString) > 0:
		kvStr(p, f, attrDBConnection, q.connectionString)
	}
	kvStrIf(p, f, attrDBSystem, q.dbType)
	kvStrIf(p, f, attrDBStatement, q.sanitizedQuery)
	kvStrIf(p, f, attrDBUser, q.user)
	kvStrIf(p, f, attrXRaySQLVersion, q.dbVersion)
	kvStrIf(p, f, attrXRaySQLDriver, q.driverVersion)
	kvStrIf(p, f, attrXRaySQLPreparation, q.preparation)
}

// splitSQLURL splits "protocol://host:port/dbname?params" into the part before the last
// path element and the database name.
func splitSQLURL(u []byte) (conn, name []byte, ok bool) {
	scheme := bytes.Index(u, []byte("//"))
	if scheme < 1 {
		return nil, nil, false
	}
	rest := u
	if q := bytes.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q]
	}
	slash := bytes.LastIndexByte(rest, '/')
	if slash <= scheme+2 || slash == len(rest)-1 {
		return nil, nil, false
	}
	return rest[:slash], rest[slash+1:], true
}

// exceptions turns cause.exceptions into "exception" events at the span's end.
func (e *encoder) exceptions(s *xsegment, end int64) {
	p := &e.p
	for i := range s.cause.exceptions {
		x := &s.cause.exceptions[i]
		ev := p.begin(fSpanEvents)
		p.fixed64(fEventTime, uint64(end))
		appendBytesField(p, fEventName, exceptionEventName)
		const f = fEventAttrs
		kvStrIf(p, f, attrXRayExceptionID, x.id)
		kvStrIf(p, f, attrExceptionMessage, x.message)
		kvStrIf(p, f, attrExceptionType, x.typ)
		kvOptBool(p, f, attrXRayExceptionRem, x.remote)
		if x.hasTruncated {
			kvInt(p, f, attrXRayExceptionTrunc, x.truncated)
		}
		if x.hasSkip {
			kvInt(p, f, attrXRayExceptionSkip, x.skipped)
		}
		kvStrIf(p, f, attrXRayExceptionCause, x.cause)
		if len(x.stack) > 0 {
			e.tmp = appendStackTrace(e.tmp[:0], x)
			kvStr(p, f, attrExceptionStack, e.tmp)
		}
		p.end(ev)
	}
}

// appendStackTrace writes the Java-like text awsxrayreceiver produces:
//
//	Type: message
//		at label(path: line)
func appendStackTrace(dst []byte, x *xexception) []byte {
	dst = append(dst, x.typ...)
	dst = append(dst, ": "...)
	dst = append(dst, x.message...)
	dst = append(dst, '\n')
	for _, f := range x.stack {
		dst = append(dst, "\tat "...)
		dst = append(dst, f.label...)
		dst = append(dst, '(')
		dst = append(dst, f.path...)
		dst = append(dst, ": "...)
		if f.hasLine {
			dst = strconv.AppendInt(dst, f.line, 10)
		} else {
			dst = append(dst, "<unknown>"...)
		}
		dst = append(dst, ")\n"...)
	}
	return dst
}

func (e *encoder) links(s *xsegment) {
	p := &e.p
	for i := range s.links {
		l := &s.links[i]
		tid, ok1 := decodeTraceID(l.traceID)
		sid, ok2 := decodeSpanID(l.spanID)
		if !ok1 || !ok2 {
			continue
		}
		lk := p.begin(fSpanLinks)
		appendBytesField(p, fLinkTraceID, tid[:])
		appendBytesField(p, fLinkSpanID, sid[:])
		for j := range l.attrs {
			kvAnnotation(p, fLinkAttrs, &l.attrs[j])
		}
		p.end(lk)
	}
}

// resourceAttrs writes the Resource's attributes for a top-level document.
func resourceAttrs(p *pb, s *xsegment) {
	const f = fResAttrs
	kvStr(p, f, attrServiceName, s.name)
	a := &s.aws
	if a.present || bytes.HasPrefix(s.origin, []byte("AWS::")) {
		kvStr(p, f, attrCloudProvider, "aws")
	} else {
		kvStr(p, f, attrCloudProvider, "unknown")
	}
	kvStrIf(p, f, attrCloudPlatform, cloudPlatform(s.origin))
	kvStrIf(p, f, attrXRayOrigin, s.origin)
	if a.present {
		kvStrIf(p, f, attrCloudAccountID, a.accountID)
		if len(a.logGroupARNs) > 0 {
			kvStrings(p, f, attrLogGroupARNs, a.logGroupARNs)
		}
		if len(a.logGroups) > 0 {
			kvStrings(p, f, attrLogGroupNames, a.logGroups)
		}
		// The availability zone may be given twice (EC2 and ECS); the ECS one wins, as a
		// later Put does in awsxrayreceiver.
		az := a.ec2.availabilityZone
		if len(a.ecs.availabilityZone) > 0 {
			az = a.ecs.availabilityZone
		}
		kvStrIf(p, f, attrCloudAZ, az)
		kvStrIf(p, f, attrHostID, a.ec2.instanceID)
		kvStrIf(p, f, attrHostType, a.ec2.instanceSize)
		kvStrIf(p, f, attrHostImageID, a.ec2.amiID)
		c := &a.ecs
		kvStrIf(p, f, attrContainerName, c.container)
		cid := c.containerID
		if len(a.eks.containerID) > 0 {
			cid = a.eks.containerID
		}
		kvStrIf(p, f, attrContainerID, cid)
		kvStrIf(p, f, attrECSContainerARN, c.containerARN)
		kvStrIf(p, f, attrECSTaskARN, c.taskARN)
		kvStrIf(p, f, attrECSTaskFamily, c.taskFamily)
		kvStrIf(p, f, attrECSClusterARN, c.clusterARN)
		kvStrIf(p, f, attrECSLaunchType, c.launchType)
		b := &a.beanstalk
		kvStrIf(p, f, attrServiceNamespace, b.environment)
		if b.hasDeploymentID {
			kvStr(p, f, attrServiceInstanceID, strconv.AppendInt(nil, b.deploymentID, 10))
		}
		if len(s.serviceVersion) == 0 {
			kvStrIf(p, f, attrServiceVersion, b.versionLabel)
		}
		kvStrIf(p, f, attrK8sCluster, a.eks.clusterName)
		kvStrIf(p, f, attrK8sPod, a.eks.pod)
		kvStrIf(p, f, attrSDKVersion, a.xray.sdkVersion)
		if len(a.xray.sdk) > 0 {
			kvStr(p, f, attrSDKName, a.xray.sdk)
			// "X-Ray for Go" -> "go", the semantic-convention spelling.
			if _, lang, ok := bytes.Cut(a.xray.sdk, []byte("for ")); ok && len(lang) > 0 {
				var buf [32]byte
				kvStr(p, f, attrSDKLanguage, appendLower(buf[:0], lang))
			}
		}
		kvOptBool(p, f, attrXRayAutoInstr, a.xray.autoInstrumentation)
	}
	kvStrIf(p, f, attrServiceVersion, s.serviceVersion)
	if len(s.resourceARN) > 0 {
		kvStr(p, f, attrXRayResourceARN, s.resourceARN)
		kvStr(p, f, attrCloudResourceID, s.resourceARN)
	}
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
