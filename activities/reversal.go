package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
)

// ErrTypeWorkflowOpen marks a workflow that is still running: AwaitWorkflowClosed's retryable error.
const ErrTypeWorkflowOpen = "WorkflowOpen"

// AwaitWorkflowClosed succeeds once the workflow with this ID has closed, and fails (retryably)
// while it runs. A reversal waits on it so that each affiliate pixel hears "approved" (however
// long its retries take) before it hears "reversed".
func (a *Activities) AwaitWorkflowClosed(ctx context.Context, workflowID string) error {
	if a.Temporal == nil {
		return temporal.NewNonRetryableApplicationError("no Temporal client configured", ErrTypeNotFound, nil)
	}
	resp, err := a.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil // gone past retention: long closed
	}
	if err != nil {
		return fmt.Errorf("describe %s: %w", workflowID, err)
	}
	if resp.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return temporal.NewApplicationError(workflowID+" is still running (firing approval pixels)", ErrTypeWorkflowOpen)
	}
	return nil
}
