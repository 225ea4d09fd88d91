// Package worker wires the Temporal worker that runs conversion workflows and their activities.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/workflows"
)

// Options tune the worker; zero values take the defaults below.
type Options struct {
	// MaxConcurrentActivities bounds pixel firing in flight (each may wait up to 10 s).
	MaxConcurrentActivities int
}

// New registers the conversion workflows and every activity of acts on the conversions task
// queue. The caller starts it (Start, or Run with an interrupt channel) and stops it.
func New(c client.Client, acts *activities.Activities, o Options) sdkworker.Worker {
	if o.MaxConcurrentActivities == 0 {
		o.MaxConcurrentActivities = 200
	}
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:      o.MaxConcurrentActivities,
		MaxConcurrentLocalActivityExecutionSize: 100,
		MaxConcurrentWorkflowTaskExecutionSize:  100,
		// Stop lets running pixel attempts finish (they are bounded by the 10 s timeout).
		WorkerStopTimeout: activities.PixelTimeout + 2e9,
	})
	w.RegisterWorkflow(workflows.Conversion)
	w.RegisterWorkflow(workflows.Reversal)
	w.RegisterActivity(acts)
	return w
}
