// Package worker wires the Temporal worker that runs conversion workflows and their activities.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/workflows"
)

// Options tune the worker; zero values take the defaults below.
type Options struct {
	// MaxConcurrentActivities bounds pixel firing in flight (each may wait up to 10 s).
	MaxConcurrentActivities int
}

// SDKOptions are the Temporal worker settings of trackflow's worker, written out on purpose
// (`make bench` runs its minimal baseline workflow with exactly these).
func SDKOptions(o Options) sdkworker.Options {
	if o.MaxConcurrentActivities == 0 {
		// Pixel attempts are I/O-bound and may each wait 10 s on a slow affiliate: many can be
		// in flight on two cores without using them.
		o.MaxConcurrentActivities = 200
	}
	return sdkworker.Options{
		MaxConcurrentActivityExecutionSize: o.MaxConcurrentActivities,
		// Local activities are the millisecond Postgres steps; each holds one connection while it
		// runs, so this matches the pool (DB_MAX_CONNS, default 40) instead of queueing on it.
		MaxConcurrentLocalActivityExecutionSize: 40,
		// Workflow tasks are CPU only (the history is replayed from the sticky cache).
		MaxConcurrentWorkflowTaskExecutionSize: 100,
		// Four pollers per queue instead of two: a poll is a long-held call that costs no CPU, and
		// with 20 conversions in flight a task should not wait for a poller to come back. Most
		// first workflow tasks and pixel activities skip the queue anyway (eager start, eager
		// activities); the rest are the workflow tasks after a pixel attempt.
		MaxConcurrentWorkflowTaskPollers: 4,
		MaxConcurrentActivityTaskPollers: 4,
		// Stop lets running pixel attempts finish (they are bounded by the 10 s timeout).
		WorkerStopTimeout: domain.PixelTimeout + 2*time.Second,
	}
}

// New registers the conversion workflows and every activity of acts on the conversions task
// queue. The caller starts it (Start, or Run with an interrupt channel) and stops it.
func New(c client.Client, acts *activities.Activities, o Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, SDKOptions(o))
	w.RegisterWorkflow(workflows.Conversion)
	w.RegisterWorkflow(workflows.Reversal)
	w.RegisterActivity(acts)
	return w
}
