package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestSIGTERMUnderClickLoadLosesNoClick runs the real binary, clicks on it from 16 clients, sends
// SIGTERM mid-load, and checks that the process exits cleanly and that every click it answered
// with a 302 is in Postgres: the HTTP server stops first, then the click writer drains.
func TestSIGTERMUnderClickLoadLosesNoClick(t *testing.T) {
	t.Parallel()
	db, dbURL := testenv.NewDBURL(t)
	temporalAddr := testenv.TemporalAddress(t)
	st := &store.Store{DB: db}
	seeded := testenv.Seed(t, st, nil)
	offer, aff := &seeded.Offer, &seeded.Affiliate

	bin := testenv.BuildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "TEMPORAL_ADDRESS="+temporalAddr, "HTTP_ADDR="+addr,
		"ADMIN_TOKEN=x", "ROLE=api", "DEMO=false")
	var logs testenv.LockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	base := "http://" + addr
	eventually(t, time.Minute, "trackflow to answer /healthz", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	link := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", base, offer.ID, aff.ID)
	var mu sync.Mutex
	var acked []string
	refused := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(link)
				if err != nil {
					time.Sleep(time.Millisecond) // the server is going away: keep trying until told to stop
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode == http.StatusFound {
					acked = append(acked, resp.Header.Get("X-Click-Id"))
				} else {
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	eventually(t, time.Minute, "2000 clicks answered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 2000
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("trackflow still running a minute after SIGTERM\n%s", logs.String())
	}
	close(stop)
	wg.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatalf("trackflow exited with %v after SIGTERM\n%s", err, logs.String())
	}

	var found int
	if err := db.Get(&found, `SELECT count(*) FROM clicks WHERE click_id = ANY($1)`, pq.Array(acked)); err != nil {
		t.Fatal(err)
	}
	if found != len(acked) {
		t.Fatalf("%d of %d clicks answered 302 are missing from Postgres (%d refused)\n%s",
			len(acked)-found, len(acked), refused, logs.String())
	}
	t.Logf("%d clicks answered 302, all stored; %d refused during the stop", len(acked), refused)
}
