package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// BuildBinary builds cmd/trackflow into a temporary directory of t and returns its path.
func BuildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trackflow")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/trackflow/trackflow/cmd/trackflow").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/trackflow: %v\n%s", err, out)
	}
	return bin
}

// WorkerProcess is the trackflow binary running as a stack's worker (ROLE=worker), a process of
// its own, so a test can kill it as an operator's kill -9 would.
type WorkerProcess struct {
	cmd  *exec.Cmd
	out  *LockedBuffer
	done chan struct{}
}

// StartWorker runs bin (from BuildBinary) as the worker of s, a stack made with Options{NoWorker:
// true}, with POSTBACK_ALLOW_PRIVATE on (the tests' affiliate servers are on loopback), and waits
// until it has started. It is killed when t ends; its output is logged if t failed.
func StartWorker(t testing.TB, s *Stack, bin string) *WorkerProcess {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ROLE=worker",
		"HTTP_ADDR=127.0.0.1:0", // its metrics and liveness port: any free one
		"DATABASE_URL="+s.DatabaseURL,
		"DB_MAX_CONNS=10",
		"TEMPORAL_ADDRESS="+s.TemporalAddress,
		"TEMPORAL_NAMESPACE="+s.Namespace,
		"POSTBACK_ALLOW_PRIVATE=true",
		"DEMO=false",
	)
	w := &WorkerProcess{cmd: cmd, out: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		w.Kill()
		if t.Failed() {
			t.Logf("worker process %d output:\n%s", cmd.Process.Pid, w.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(w.out.String(), "worker started") {
		select {
		case <-w.done:
			t.Fatalf("worker exited before starting:\n%s", w.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker did not start within 30s:\n%s", w.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w
}

// Pid is the worker's process id.
func (w *WorkerProcess) Pid() int { return w.cmd.Process.Pid }

// Kill sends SIGKILL (no graceful stop: running activities are cut off) and waits for the exit.
func (w *WorkerProcess) Kill() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Kill()
	<-w.done
}

// LockedBuffer is the output of a process, written by exec's copier and read by the test.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
