package workflows

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/trackflow/trackflow/domain"
)

// histories are the recorded histories of every workflow shape (make record-histories), and
// legacy ones recorded by earlier releases, which a deploy meets in flight.
func histories(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("%d recorded histories in testdata, want every shape (make record-histories)", len(files))
	}
	return files
}

// TestReplayRecordedHistories replays every recorded history with the current workflow code: a
// change to the command sequence that is not behind workflow.GetVersion fails here, before a
// deploy breaks the workflows in flight.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	for _, path := range histories(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(Conversion)
			r.RegisterWorkflow(Reversal)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, path); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReplayCatchesUnversionedChange proves the net: the same workflow with one unversioned
// command added (a timer before attribution) fails to replay every recorded conversion history
// with a nondeterminism error.
func TestReplayCatchesUnversionedChange(t *testing.T) {
	t.Parallel()
	changed := func(ctx workflow.Context, req domain.ConversionRequest) (ConversionResult, error) {
		if err := workflow.Sleep(ctx, time.Second); err != nil {
			return ConversionResult{}, err
		}
		return Conversion(ctx, req)
	}
	for _, path := range histories(t) {
		if strings.Contains(filepath.Base(path), "reversal") { // reversal.json, legacy_<commit>_reversal.json
			continue
		}
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: "Conversion"})
		err := r.ReplayWorkflowHistoryFromJSONFile(nil, path)
		// TMPRL1100 is the SDK's code for a history that does not match the workflow's commands.
		if err == nil || !strings.Contains(err.Error(), "TMPRL1100") {
			t.Errorf("%s: replay with an unversioned change returned %v, want a nondeterminism error", path, err)
		}
	}
}
