// Package testenv is the one test harness: a fresh PostgreSQL database per call, and a shared
// stack per test binary (its own database and Temporal namespace, a real worker and the real
// router on an httptest server, every exchange validated against api/openapi.yaml). `make test` starts the servers and sets
// TRACKFLOW_TEST_DATABASE_URL and TRACKFLOW_TEST_TEMPORAL_ADDRESS.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/app"
	"github.com/trackflow/trackflow/schema"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// AdminToken is the admin bearer token of the shared stack's API.
const AdminToken = "test-admin-token"

// ClickIDKey is the CLICK_ID_KEY of every stack of the test binary (API and worker share it).
var ClickIDKey = domain.NewClickIDKey()

// SharedAuthLimit is the shared stack's failed-authentication budget: every test calls from
// 127.0.0.1, and the suite's own 401 cases must not exhaust it. The limiter is tested on a router
// of its own (api's TestAuthFailuresRateLimited).
var SharedAuthLimit = api.AuthLimit{Burst: 100_000, Every: time.Millisecond}

// Retry is the compressed pixel retry schedule the shared stack's API gives its workflows. Its
// 2 s attempt timeout (10 s in production) keeps a test of a hanging affiliate short, and is
// still far above what a local affiliate server takes to answer. The dev server fires retry
// timers about a second apart at the soonest, so MaxInterval is 2 s: a Retry-After of 2 s is then
// distinguishable from the natural back-off.
var Retry = domain.RetrySchedule{Initial: 200 * time.Millisecond, MaxInterval: 2 * time.Second, For: 2 * time.Minute,
	AttemptTimeout: 2 * time.Second}

func env(t testing.TB, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the suite with `make test`, which starts PostgreSQL and Temporal", name)
	}
	return v
}

var (
	templateOnce sync.Once
	templateErr  error
	templateName string
)

// NewDB creates a fresh, migrated database for one test (or one package) and drops it afterwards.
func NewDB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, _ := NewDBURL(t)
	return db
}

// NewDBURL is NewDB that also returns the database's URL, for a test that runs trackflow as a
// process (DATABASE_URL).
func NewDBURL(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	ctx := context.Background()
	adminURL := env(t, "TRACKFLOW_TEST_DATABASE_URL")
	admin, err := sqlx.Open("postgres", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	// Migrations run once per test binary into a template; each database is a fast copy of it.
	templateOnce.Do(func() {
		templateName = "tf_tmpl_" + domain.NewID()[:12]
		if _, templateErr = admin.ExecContext(ctx, "CREATE DATABASE "+templateName); templateErr != nil {
			return
		}
		var db *sqlx.DB
		if db, templateErr = store.Open(ctx, withDB(adminURL, templateName), 2); templateErr != nil {
			return
		}
		templateErr = schema.Migrate(ctx, db)
		db.Close()
	})
	if templateErr != nil {
		t.Fatalf("template database: %v", templateErr)
	}
	return createDB(t, adminURL, "TEMPLATE "+templateName)
}

// NewEmptyDBURL is a fresh database with no migrations applied (dropped afterwards), for a test
// of `trackflow migrate`.
func NewEmptyDBURL(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	return createDB(t, env(t, "TRACKFLOW_TEST_DATABASE_URL"), "")
}

// StalledClickWriter is a click writer whose database never answers, as a writer is just after a
// Postgres restart while it waits out its back-off: what it is given is never stored. It is
// closed (its rows given up) when t ends.
func StalledClickWriter(t testing.TB, opts store.BatchOptions) *store.ClickWriter {
	t.Helper()
	down, err := sqlx.Open("postgres", "postgres://trackflow@"+FreeAddr(t)+"/x?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	w := store.NewClickWriter(down, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = w.Close(ctx) // its rows are lost on purpose: that database never comes back
		_ = down.Close()
	})
	return w
}

// createDB creates a database on the test cluster with the given CREATE DATABASE options, opens
// it and drops it when t ends.
func createDB(t testing.TB, adminURL, options string) (*sqlx.DB, string) {
	t.Helper()
	ctx := context.Background()
	admin, err := sqlx.Open("postgres", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := "tf_test_" + domain.NewID()[:12]
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" "+options); err != nil {
		t.Fatalf("create database: %v", err)
	}
	dbURL := withDB(adminURL, name)
	db, err := store.Open(ctx, dbURL, 40)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if a, err := sqlx.Open("postgres", adminURL); err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	return db, dbURL
}

func withDB(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Path = "/" + name
	return u.String()
}

// Stack is a running trackflow on real components, shared by the tests of one package.
type Stack struct {
	DB        *sqlx.DB
	Store     *store.Store
	Temporal  client.Client
	Namespace string
	// URL is the base URL of the real router, served by httptest.
	URL string
	// DatabaseURL and TemporalAddress are what a worker process of this stack connects to.
	DatabaseURL     string
	TemporalAddress string
	// Clicks is the API's click writer.
	Clicks *store.ClickWriter
}

// Options choose what a stack made by New runs.
type Options struct {
	// NoWorker leaves out the in-process worker, for a test that runs cmd/trackflow as the stack's
	// worker process (StartWorker) and kills it.
	NoWorker bool
	// RefusePrivate runs the worker and the API with POSTBACK_ALLOW_PRIVATE=false, so pixels to
	// loopback are refused (the shared stack allows them: its affiliate servers are on loopback).
	RefusePrivate bool
	// TemporalAddress puts the stack on another Temporal server than the shared test server: a
	// test's own dev server, started with the Web UI that a browser test drives.
	TemporalAddress string
}

var (
	stackOnce sync.Once
	stack     *Stack
	stackErr  error
	// stackT keeps the database of the shared stack alive for the whole test binary.
	stackT = &keepAlive{}
)

// keepAlive is a testing.TB stand-in whose cleanups never run: the shared stack lives until the
// test binary exits.
type keepAlive struct{ testing.TB }

func (k *keepAlive) Helper()                   {}
func (k *keepAlive) Cleanup(func())            {}
func (k *keepAlive) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (k *keepAlive) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// Shared returns the package's stack, starting it on first use: a fresh database, a fresh Temporal
// namespace with the search attributes registered, a worker, and the API on an httptest server
// with POSTBACK_ALLOW_PRIVATE on (the tests' affiliate servers are on loopback).
func Shared(t testing.TB) *Stack {
	t.Helper()
	addr := env(t, "TRACKFLOW_TEST_TEMPORAL_ADDRESS")
	env(t, "TRACKFLOW_TEST_DATABASE_URL")
	stackOnce.Do(func() { stack, stackErr = startStack(stackT, addr, Options{}) })
	if stackErr != nil {
		t.Fatalf("start stack: %v", stackErr)
	}
	return stack
}

// New starts a stack of the test's own, like Shared's but stopped (and its database dropped)
// when t ends. It costs a namespace and a database: use it only where Shared cannot serve, such
// as a test that kills the worker.
func New(t testing.TB, o Options) *Stack {
	t.Helper()
	addr := o.TemporalAddress
	if addr == "" {
		addr = env(t, "TRACKFLOW_TEST_TEMPORAL_ADDRESS")
	}
	env(t, "TRACKFLOW_TEST_DATABASE_URL")
	s, err := startStack(t, addr, o)
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	return s
}

func startStack(t testing.TB, addr string, o Options) (s *Stack, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	db, dbURL := NewDBURL(t)
	ns, err := NewNamespace(addr)
	if err != nil {
		return nil, err
	}
	tc, err := Dial(addr, ns)
	if err != nil {
		return nil, err
	}
	t.Cleanup(tc.Close)
	st := &store.Store{DB: db}
	// Worker and API in one process, as with ROLE=all: GET /metrics shows both.
	p := app.New(st, tc, app.Config{
		RunAPI: true, RunWorker: !o.NoWorker, PostbackAllowPrivate: !o.RefusePrivate,
		API: api.Config{AdminToken: AdminToken, Retry: Retry, ClickIDKey: ClickIDKey, AuthLimit: SharedAuthLimit,
			PixelClient: activities.NewPixelClient(!o.RefusePrivate)},
	})
	clicks, impressions := p.Clicks, p.Impressions
	if p.Worker != nil {
		if err := p.Worker.Start(); err != nil {
			return nil, err
		}
		t.Cleanup(p.Worker.Stop)
	}
	k, err := loadContract()
	if err != nil {
		return nil, err
	}
	// Every request the tests make is checked against api/openapi.yaml (contract.go).
	srv := httptest.NewServer(k.checked(storedRows(p.Handler, clicks, impressions)))
	t.Cleanup(srv.Close)
	return &Stack{DB: db, Store: st, Temporal: tc, Namespace: ns, URL: srv.URL,
		DatabaseURL: dbURL, TemporalAddress: addr, Clicks: clicks}, nil
}

// storedRows answers a /click or /impression only once its row is in Postgres. The API stores
// them in batches a few milliseconds after the answer (docs/API.md allows a second for clicks); here a
// test may read the tables as soon as it has the answer. The batching itself is tested in store.
func storedRows(h http.Handler, clicks *store.ClickWriter, impressions *store.ImpressionWriter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		switch r.URL.Path {
		case "/click":
			_ = clicks.Sync(r.Context())
		case "/impression":
			_ = impressions.Sync(r.Context())
		}
	})
}

// Dial connects a Temporal client to a namespace, logging only warnings.
func Dial(addr, namespace string) (client.Client, error) {
	return client.Dial(client.Options{
		HostPort: addr, Namespace: namespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	})
}

// NewNamespace registers a fresh namespace with trackflow's search attributes and waits until
// workflows can be started in it.
func NewNamespace(addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns, err := RegisterNamespace(addr)
	if err != nil {
		return "", err
	}
	nc, err := Dial(addr, ns)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	if err := workflows.RegisterSearchAttributes(ctx, nc, ns); err != nil {
		return "", err
	}
	// The namespace and its attributes reach the frontend's caches a moment later: wait until a
	// workflow with them starts.
	for {
		_, err := nc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: "probe", TaskQueue: "probe", WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			TypedSearchAttributes: workflowsProbeAttributes(),
		}, "probe")
		if err == nil {
			_ = nc.TerminateWorkflow(ctx, "probe", "", "namespace probe")
			return ns, nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("namespace %s never became usable: %w", ns, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// RegisterNamespace registers a fresh namespace without trackflow's search attributes (what
// `trackflow migrate` adds) and returns its name.
func RegisterNamespace(addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := "test-" + domain.NewID()[:12]
	c, err := Dial(addr, "default")
	if err != nil {
		return "", err
	}
	defer c.Close()
	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	})
	if err != nil {
		return "", fmt.Errorf("register namespace: %w", err)
	}
	return ns, nil
}

func workflowsProbeAttributes() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(workflows.OfferIDKey.ValueSet("0"), workflows.ConversionStatusKey.ValueSet("probe"))
}

// TemporalAddress is the test Temporal server's address, for a test that runs trackflow as a
// process of its own.
func TemporalAddress(t testing.TB) string {
	t.Helper()
	return env(t, "TRACKFLOW_TEST_TEMPORAL_ADDRESS")
}
