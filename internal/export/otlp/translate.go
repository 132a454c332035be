package otlp

import (
	"errors"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/xrayd/xrayd/internal/export"
	"github.com/xrayd/xrayd/internal/segment"
)

// Attribute names. The semantic-convention ones are those the Collector's
// awsxrayreceiver writes, so that a pipeline moving from the Collector to xrayd sees the
// same keys; X-Ray-only fields keep the receiver's aws.xray.* names.
const (
	attrServiceName        = "service.name"
	attrServiceVersion     = "service.version"
	attrServiceNamespace   = "service.namespace"
	attrServiceInstanceID  = "service.instance.id"
	attrCloudProvider      = "cloud.provider"
	attrCloudPlatform      = "cloud.platform"
	attrCloudAccountID     = "cloud.account.id"
	attrCloudAZ            = "cloud.availability_zone"
	attrCloudResourceID    = "cloud.resource_id"
	attrHostID             = "host.id"
	attrHostType           = "host.type"
	attrHostImageID        = "host.image.id"
	attrContainerName      = "container.name"
	attrContainerID        = "container.id"
	attrECSContainerARN    = "aws.ecs.container.arn"
	attrECSTaskARN         = "aws.ecs.task.arn"
	attrECSTaskFamily      = "aws.ecs.task.family"
	attrECSClusterARN      = "aws.ecs.cluster.arn"
	attrECSLaunchType      = "aws.ecs.launchtype"
	attrK8sCluster         = "k8s.cluster.name"
	attrK8sPod             = "k8s.pod.name"
	attrLogGroupNames      = "aws.log.group.names"
	attrLogGroupARNs       = "aws.log.group.arns"
	attrSDKName            = "telemetry.sdk.name"
	attrSDKVersion         = "telemetry.sdk.version"
	attrSDKLanguage        = "telemetry.sdk.language"
	attrEndUserID          = "enduser.id"
	attrHTTPMethod         = "http.method"
	attrHTTPURL            = "http.url"
	attrHTTPUserAgent      = "http.user_agent"
	attrHTTPClientIP       = "http.client_ip"
	attrHTTPStatus         = "http.status_code"
	attrHTTPContentLength  = "http.response_content_length"
	attrDBConnection       = "db.connection_string"
	attrDBName             = "db.name"
	attrDBSystem           = "db.system"
	attrDBStatement        = "db.statement"
	attrDBUser             = "db.user"
	attrExceptionType      = "exception.type"
	attrExceptionMessage   = "exception.message"
	attrExceptionStack     = "exception.stacktrace"
	attrAWSService         = "aws.service"
	attrAWSAccountID       = "aws.account_id"
	attrAWSOperation       = "aws.operation"
	attrAWSRegion          = "aws.region"
	attrAWSRequestID       = "aws.request_id"
	attrAWSQueueURL        = "aws.queue_url"
	attrAWSTableName       = "aws.table_name"
	attrAWSS3Bucket        = "aws.s3.bucket"
	attrAWSS3Key           = "aws.s3.key"
	attrXRayInProgress     = "aws.xray.in_progress"
	attrXRayOrigin         = "aws.xray.origin"
	attrXRayResourceARN    = "aws.xray.resource_arn"
	attrXRayAutoInstr      = "aws.xray.auto_instrumentation"
	attrXRayXForwardedFor  = "aws.xray.x_forwarded_for"
	attrXRayTraced         = "aws.xray.traced"
	attrXRayRetries        = "aws.xray.retries"
	attrXRayError          = "aws.xray.error"
	attrXRayFault          = "aws.xray.fault"
	attrXRayThrottle       = "aws.xray.throttle"
	attrXRayPrecursorIDs   = "aws.xray.precursor_ids"
	attrXRaySQLVersion     = "aws.xray.sql.database_version"
	attrXRaySQLDriver      = "aws.xray.sql.driver_version"
	attrXRaySQLPreparation = "aws.xray.sql.preparation"
	attrXRayMetadataPrefix = "aws.xray.metadata."
	attrXRayExceptionID    = "aws.xray.exception.id"
	attrXRayExceptionRem   = "aws.xray.exception.remote"
	attrXRayExceptionTrunc = "aws.xray.exception.truncated"
	attrXRayExceptionSkip  = "aws.xray.exception.skipped"
	attrXRayExceptionCause = "aws.xray.exception.cause"

	exceptionEventName = "exception"
)

// cloudPlatform maps an X-Ray origin to its cloud.platform value (the inverse of what
// the Collector's X-Ray exporter does).
func cloudPlatform(origin string) string {
	switch origin {
	case "AWS::EC2::Instance":
		return "aws_ec2"
	case "AWS::ECS::Container", "AWS::ECS::EC2", "AWS::ECS::Fargate":
		return "aws_ecs"
	case "AWS::EKS::Container":
		return "aws_eks"
	case "AWS::ElasticBeanstalk::Environment":
		return "aws_elastic_beanstalk"
	case "AWS::Lambda", "AWS::Lambda::Function":
		return "aws_lambda"
	case "AWS::AppRunner::Service":
		return "aws_app_runner"
	}
	return ""
}

// Translate turns X-Ray segment documents into OTLP spans, one ResourceSpans per
// document, with every embedded subsegment flattened into a span of its own. Documents
// that are not JSON or lack the ids, name or start time come back as Unprocessed (Index is
// their position in docs, Retryable false). In-progress documents become unfinished spans
// (end = start, aws.xray.in_progress = true); holding them for their complete version is
// the Sender's job.
func Translate(docs [][]byte) (ptrace.Traces, []export.Unprocessed) {
	var t translator
	td := ptrace.NewTraces()
	var unp []export.Unprocessed
	rss := td.ResourceSpans()
	rss.EnsureCapacity(len(docs))
	for i, doc := range docs {
		segs, err := t.parse(doc)
		if err != nil {
			unp = append(unp, unprocessed(i, doc, err))
			continue
		}
		for k := range segs {
			emitDocument(&segs[k], rss, &t.buf)
		}
	}
	return td, unp
}

// translator carries the buffers reused from one document to the next.
type translator struct {
	d    decoder
	segs []xsegment
	buf  []byte
}

// parse decodes and validates one document. The result is valid until the next call.
func (t *translator) parse(doc []byte) ([]xsegment, error) {
	clear(t.segs)
	segs, err := t.d.parseDocument(doc, t.segs[:0])
	t.segs = segs
	if err != nil {
		return nil, err
	}
	for i := range segs {
		if err := segs[i].validate(true); err != nil {
			return nil, err
		}
	}
	return segs, nil
}

func unprocessed(i int, doc []byte, err error) export.Unprocessed {
	id, tid := segment.IDs(doc)
	u := export.Unprocessed{Index: i, ID: id, TraceID: tid, Code: "InvalidSegment", Message: err.Error()}
	var ie *invalidError
	if errors.As(err, &ie) {
		u.Code, u.Message = ie.code, ie.msg
	}
	return u
}

// emitDocument appends one ResourceSpans for a validated top-level (sub)segment.
func emitDocument(s *xsegment, rss ptrace.ResourceSpansSlice, buf *[]byte) {
	rs := rss.AppendEmpty()
	populateResource(s, rs.Resource().Attributes())
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.EnsureCapacity(s.count())
	tid, _ := decodeTraceID(s.traceID)
	var parent [8]byte
	if s.parentID != "" {
		parent, _ = decodeSpanID(s.parentID)
	}
	emitSpan(s, pcommon.TraceID(tid), pcommon.SpanID(parent), s.typ != "subsegment", spans, buf)
}

func emitSpan(s *xsegment, tid pcommon.TraceID, parent pcommon.SpanID, isSegment bool, spans ptrace.SpanSlice, buf *[]byte) {
	sp := spans.AppendEmpty()
	sid, _ := decodeSpanID(s.id)
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	if !parent.IsEmpty() {
		sp.SetParentSpanID(parent)
	}
	sp.SetName(s.name)
	switch {
	case isSegment:
		sp.SetKind(ptrace.SpanKindServer)
	case s.namespace == "aws" || s.namespace == "remote":
		sp.SetKind(ptrace.SpanKindClient)
	default:
		sp.SetKind(ptrace.SpanKindInternal)
	}
	sp.SetStartTimestamp(pcommon.Timestamp(s.start))
	end := s.start
	if s.hasEnd && !s.inProgress {
		end = s.end
	}
	sp.SetEndTimestamp(pcommon.Timestamp(end))

	attrs := sp.Attributes()
	attrs.EnsureCapacity(spanAttrCount(s))
	if s.inProgress || !s.hasEnd {
		attrs.PutBool(attrXRayInProgress, true)
	}
	putStr(attrs, attrEndUserID, s.user)
	if s.namespace == "aws" {
		attrs.PutStr(attrAWSService, s.name)
	}
	addHTTP(s, attrs)
	addAWSToSpan(&s.aws, attrs)
	addSQL(&s.sql, attrs)
	putOptBool(attrs, attrXRayTraced, s.traced)
	putOptBool(attrs, attrXRayError, s.errorF)
	putOptBool(attrs, attrXRayFault, s.fault)
	putOptBool(attrs, attrXRayThrottle, s.thr)
	if len(s.precursorIDs) > 0 {
		putStrings(attrs, attrXRayPrecursorIDs, s.precursorIDs)
	}
	for i := range s.annotations {
		putAnnotation(attrs, &s.annotations[i])
	}
	for _, m := range s.metadata {
		attrs.PutStr(attrXRayMetadataPrefix+m.key, m.json)
	}
	setStatus(s, sp.Status())
	addCause(s, sp, end, buf)
	addLinks(s, sp)

	for i := range s.subsegments {
		emitSpan(&s.subsegments[i], tid, sid, false, spans, buf)
	}
}

// spanAttrCount is an upper-bound guess that saves the attribute slice from regrowing.
func spanAttrCount(s *xsegment) int {
	n := 12 + len(s.annotations) + len(s.metadata)
	if s.aws.present {
		n += 6
	}
	if s.sql.present {
		n += 6
	}
	return n
}

// setStatus follows X-Ray's classification (spec §9): error, throttle and fault flags and
// HTTP statuses from 400 up are errors; so is a cause, as awsxrayreceiver does.
func setStatus(s *xsegment, st ptrace.Status) {
	bad := s.errorF.isTrue() || s.fault.isTrue() || s.thr.isTrue() || s.cause.present ||
		(s.http.hasStatus && s.http.status >= 400)
	if !bad {
		return
	}
	st.SetCode(ptrace.StatusCodeError)
	switch {
	case s.cause.exceptionID != "":
		st.SetMessage(s.cause.exceptionID)
	case len(s.cause.exceptions) > 0 && s.cause.exceptions[0].message != "":
		st.SetMessage(s.cause.exceptions[0].message)
	}
}

func addHTTP(s *xsegment, attrs pcommon.Map) {
	h := &s.http
	putStr(attrs, attrHTTPMethod, h.method)
	putStr(attrs, attrHTTPClientIP, h.clientIP)
	putStr(attrs, attrHTTPUserAgent, h.userAgent)
	putStr(attrs, attrHTTPURL, h.url)
	putOptBool(attrs, attrXRayXForwardedFor, h.xForwardedFor)
	if h.hasStatus {
		attrs.PutInt(attrHTTPStatus, h.status)
	}
	if h.hasContentLength {
		if h.contentLengthStr != "" {
			attrs.PutStr(attrHTTPContentLength, h.contentLengthStr)
		} else {
			attrs.PutInt(attrHTTPContentLength, h.contentLength)
		}
	}
}

func addAWSToSpan(a *xaws, attrs pcommon.Map) {
	if !a.present {
		return
	}
	putStr(attrs, attrAWSAccountID, a.accountID)
	putStr(attrs, attrAWSOperation, a.operation)
	putStr(attrs, attrAWSRegion, a.region)
	putStr(attrs, attrAWSRequestID, a.requestID)
	putStr(attrs, attrAWSQueueURL, a.queueURL)
	putStr(attrs, attrAWSTableName, a.tableName)
	putStr(attrs, attrAWSS3Bucket, a.bucketName)
	putStr(attrs, attrAWSS3Key, a.key)
	if a.hasRetries {
		attrs.PutInt(attrXRayRetries, a.retries)
	}
}

func addSQL(q *xsql, attrs pcommon.Map) {
	if !q.present {
		return
	}
	switch {
	case q.url != "":
		if conn, name, ok := splitSQLURL(q.url); ok {
			attrs.PutStr(attrDBConnection, conn)
			attrs.PutStr(attrDBName, name)
		} else {
			attrs.PutStr(attrDBConnection, q.url)
		}
	case q.connectionString != "":
		attrs.PutStr(attrDBConnection, q.connectionString)
	}
	putStr(attrs, attrDBSystem, q.dbType)
	putStr(attrs, attrDBStatement, q.sanitizedQuery)
	putStr(attrs, attrDBUser, q.user)
	putStr(attrs, attrXRaySQLVersion, q.dbVersion)
	putStr(attrs, attrXRaySQLDriver, q.driverVersion)
	putStr(attrs, attrXRaySQLPreparation, q.preparation)
}

// splitSQLURL splits "protocol://host:port/dbname?params" into the part before the last
// path element and the database name.
func splitSQLURL(u string) (conn, name string, ok bool) {
	scheme := strings.Index(u, "//")
	if scheme < 1 {
		return "", "", false
	}
	rest := u
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q]
	}
	slash := strings.LastIndexByte(rest, '/')
	if slash <= scheme+2 || slash == len(rest)-1 {
		return "", "", false
	}
	return rest[:slash], rest[slash+1:], true
}

// addCause turns cause.exceptions into "exception" events at the span's end.
func addCause(s *xsegment, sp ptrace.Span, end int64, buf *[]byte) {
	if len(s.cause.exceptions) == 0 {
		return
	}
	evs := sp.Events()
	evs.EnsureCapacity(len(s.cause.exceptions))
	for i := range s.cause.exceptions {
		e := &s.cause.exceptions[i]
		ev := evs.AppendEmpty()
		ev.SetName(exceptionEventName)
		ev.SetTimestamp(pcommon.Timestamp(end))
		attrs := ev.Attributes()
		attrs.EnsureCapacity(8)
		putStr(attrs, attrXRayExceptionID, e.id)
		putStr(attrs, attrExceptionMessage, e.message)
		putStr(attrs, attrExceptionType, e.typ)
		putOptBool(attrs, attrXRayExceptionRem, e.remote)
		if e.hasTruncated {
			attrs.PutInt(attrXRayExceptionTrunc, e.truncated)
		}
		if e.hasSkip {
			attrs.PutInt(attrXRayExceptionSkip, e.skipped)
		}
		putStr(attrs, attrXRayExceptionCause, e.cause)
		if len(e.stack) > 0 {
			*buf = appendStackTrace((*buf)[:0], e)
			attrs.PutStr(attrExceptionStack, string(*buf))
		}
	}
}

// appendStackTrace writes the Java-like text awsxrayreceiver produces:
//
//	Type: message
//		at label(path: line)
func appendStackTrace(dst []byte, e *xexception) []byte {
	dst = append(dst, e.typ...)
	dst = append(dst, ": "...)
	dst = append(dst, e.message...)
	dst = append(dst, '\n')
	for _, f := range e.stack {
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

func addLinks(s *xsegment, sp ptrace.Span) {
	for i := range s.links {
		l := &s.links[i]
		tid, ok1 := decodeTraceID(l.traceID)
		sid, ok2 := decodeSpanID(l.spanID)
		if !ok1 || !ok2 {
			continue
		}
		pl := sp.Links().AppendEmpty()
		pl.SetTraceID(tid)
		pl.SetSpanID(sid)
		for j := range l.attrs {
			putAnnotation(pl.Attributes(), &l.attrs[j])
		}
	}
}

func populateResource(s *xsegment, attrs pcommon.Map) {
	attrs.EnsureCapacity(8)
	attrs.PutStr(attrServiceName, s.name)
	a := &s.aws
	switch {
	case a.present || strings.HasPrefix(s.origin, "AWS::"):
		attrs.PutStr(attrCloudProvider, "aws")
	default:
		attrs.PutStr(attrCloudProvider, "unknown")
	}
	putStr(attrs, attrCloudPlatform, cloudPlatform(s.origin))
	putStr(attrs, attrXRayOrigin, s.origin)
	if a.present {
		putStr(attrs, attrCloudAccountID, a.accountID)
		if len(a.logGroupARNs) > 0 {
			putStrings(attrs, attrLogGroupARNs, a.logGroupARNs)
		}
		if len(a.logGroups) > 0 {
			putStrings(attrs, attrLogGroupNames, a.logGroups)
		}
		putStr(attrs, attrCloudAZ, a.ec2.availabilityZone)
		putStr(attrs, attrHostID, a.ec2.instanceID)
		putStr(attrs, attrHostType, a.ec2.instanceSize)
		putStr(attrs, attrHostImageID, a.ec2.amiID)
		e := &a.ecs
		putStr(attrs, attrContainerName, e.container)
		putStr(attrs, attrCloudAZ, e.availabilityZone)
		putStr(attrs, attrContainerID, e.containerID)
		putStr(attrs, attrECSContainerARN, e.containerARN)
		putStr(attrs, attrECSTaskARN, e.taskARN)
		putStr(attrs, attrECSTaskFamily, e.taskFamily)
		putStr(attrs, attrECSClusterARN, e.clusterARN)
		putStr(attrs, attrECSLaunchType, e.launchType)
		b := &a.beanstalk
		putStr(attrs, attrServiceNamespace, b.environment)
		if b.hasDeploymentID {
			attrs.PutStr(attrServiceInstanceID, strconv.FormatInt(b.deploymentID, 10))
		}
		putStr(attrs, attrServiceVersion, b.versionLabel)
		putStr(attrs, attrContainerID, a.eks.containerID)
		putStr(attrs, attrK8sCluster, a.eks.clusterName)
		putStr(attrs, attrK8sPod, a.eks.pod)
		putStr(attrs, attrSDKVersion, a.xray.sdkVersion)
		if a.xray.sdk != "" {
			attrs.PutStr(attrSDKName, a.xray.sdk)
			// "X-Ray for Go" -> "go", the semantic-convention spelling.
			if _, lang, ok := strings.Cut(a.xray.sdk, "for "); ok && lang != "" {
				attrs.PutStr(attrSDKLanguage, strings.ToLower(lang))
			}
		}
		putOptBool(attrs, attrXRayAutoInstr, a.xray.autoInstrumentation)
	}
	putStr(attrs, attrServiceVersion, s.serviceVersion)
	if s.resourceARN != "" {
		attrs.PutStr(attrXRayResourceARN, s.resourceARN)
		attrs.PutStr(attrCloudResourceID, s.resourceARN)
	}
}

func putStr(attrs pcommon.Map, k, v string) {
	if v != "" {
		attrs.PutStr(k, v)
	}
}

func putOptBool(attrs pcommon.Map, k string, v optBool) {
	if v.set() {
		attrs.PutBool(k, v.isTrue())
	}
}

func putStrings(attrs pcommon.Map, k string, v []string) {
	sl := attrs.PutEmptySlice(k)
	sl.EnsureCapacity(len(v))
	for _, s := range v {
		sl.AppendEmpty().SetStr(s)
	}
}

func putAnnotation(attrs pcommon.Map, a *xannotation) {
	switch a.kind {
	case annString:
		attrs.PutStr(a.key, a.s)
	case annInt:
		attrs.PutInt(a.key, a.i)
	case annDouble:
		attrs.PutDouble(a.key, a.f)
	case annBool:
		attrs.PutBool(a.key, a.b)
	}
}
