package awsconf

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/smithy-go"
)

// ErrNoCredentials is CheckCredentials' answer when no source in the default chain
// produced credentials.
var ErrNoCredentials = errors.New("no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role (ECS task role, EC2 instance profile)")

// credentialsCheckBudget bounds CheckCredentials when the caller gives no deadline.
const credentialsCheckBudget = 5 * time.Second

// CheckCredentials fetches credentials once and turns a failure into one clear message
// (the SDK's full error is logged at debug). The daemon calls it at start and logs the
// result as a warning; it never blocks start-up.
func (a *AWS) CheckCredentials(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, credentialsCheckBudget)
		defer cancel()
	}
	_, err := a.Credentials.Retrieve(ctx)
	if err == nil {
		return nil
	}
	if a.logger != nil {
		a.logger.Debug("credentials check failed", "error", err)
	}
	var apiErr smithy.APIError
	if a.roleARN != "" && errors.As(err, &apiErr) {
		return fmt.Errorf("cannot assume role %s: %s: %s (check the role's trust policy and the base credentials' sts:AssumeRole permission)",
			a.roleARN, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	if a.roleARN != "" {
		return fmt.Errorf("cannot assume role %s: %w", a.roleARN, ErrNoCredentials)
	}
	return ErrNoCredentials
}
