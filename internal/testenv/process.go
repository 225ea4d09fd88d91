package testenv

import (
	"bytes"
	"encoding/base64"
	"net"
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

// Process is the trackflow binary running as a process of its own, so a test can kill it as an
// operator's kill -9 would, or stop it with a signal.
type Process struct {
	cmd  *exec.Cmd
	out  *LockedBuffer
	done chan struct{}
}

// StartProcess runs bin (from BuildBinary) with env added to the test's environment and waits
// until its output shows ready. It is killed when t ends; its output is logged if t failed.
func StartProcess(t testing.TB, bin, ready string, env ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	p := &Process{cmd: cmd, out: &LockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("process %d output:\n%s", cmd.Process.Pid, p.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.out.String(), ready) {
		select {
		case <-p.done:
			t.Fatalf("process exited before %q:\n%s", ready, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within 30s:\n%s", ready, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// StartWorker runs bin as the worker of s, a stack made with Options{NoWorker: true}, with
// POSTBACK_ALLOW_PRIVATE on (the tests' affiliate servers are on loopback).
func StartWorker(t testing.TB, s *Stack, bin string) *Process {
	t.Helper()
	return StartProcess(t, bin, "worker started",
		"ROLE=worker",
		"HTTP_ADDR=127.0.0.1:0", // its metrics and liveness port: any free one
		"DATABASE_URL="+s.DatabaseURL,
		"DB_MAX_CONNS=10",
		"TEMPORAL_ADDRESS="+s.TemporalAddress,
		"TEMPORAL_NAMESPACE="+s.Namespace,
		"POSTBACK_ALLOW_PRIVATE=true",
		"DEMO=false",
		"CLICK_ID_KEY="+base64.StdEncoding.EncodeToString(ClickIDKey.Secret()),
	)
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL (no graceful stop: running activities are cut off) and waits for the exit.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// FreeAddr is a loopback address with a port nothing listens on now, for a process to serve on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
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
