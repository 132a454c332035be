package otlp

import (
	"errors"
	"fmt"

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
func cloudPlatform(origin []byte) string {
	switch string(origin) {
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

// Translate turns X-Ray segment documents into OTLP spans, with every embedded
// subsegment flattened into a span of its own; consecutive documents with the same
// resource share a ResourceSpans. Documents that are not JSON or lack the ids, name or
// start time come back as Unprocessed (Index is their position in docs, Retryable
// false). In-progress documents become unfinished spans (end = start,
// aws.xray.in_progress = true); holding them for their complete version is the Sender's
// job. The spans are exactly those the Sender puts on the wire.
func Translate(docs [][]byte) (ptrace.Traces, []export.Unprocessed) {
	var t translator
	t.enc.reset()
	var unp []export.Unprocessed
	for i, doc := range docs {
		if err := t.add(doc); err != nil {
			unp = append(unp, unprocessed(i, doc, err))
		}
	}
	// ExportTraceServiceRequest and TracesData share their wire form (field 1: resource
	// spans), so pdata's TracesData reader decodes what goes on the wire.
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(t.enc.finish())
	if err != nil {
		panic(fmt.Sprintf("otlp: the encoder wrote a request pdata cannot read: %v", err))
	}
	return td, unp
}

// translator is a parser and an encoder, reused from batch to batch, with the Sender's
// per-batch lists for the in-progress bookkeeping.
type translator struct {
	p   parser
	enc encoder

	done, embedded []pendingKey
	holds          []holdRequest
}

// embeddedKeys lists the keys of c, its siblings and everything below them.
func (t *translator) embeddedKeys(traceID *[16]byte, c *xsegment) {
	for ; c != nil; c = c.nextSibling {
		t.embedded = append(t.embedded, keyOf(traceID, c))
		t.embeddedKeys(traceID, c.firstChild)
	}
}

// add encodes every (sub)segment of doc, in-progress or not.
func (t *translator) add(doc []byte) error {
	segs, err := t.p.parse(doc)
	if err != nil {
		return err
	}
	for _, s := range segs {
		t.enc.document(s)
	}
	return nil
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
