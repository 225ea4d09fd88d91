package main

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/codec"
	"github.com/trackflow/trackflow/store"
)

// Config is every setting trackflow reads from the environment, loaded once in run.
type Config struct {
	HTTPAddr    string
	DatabaseURL string
	DBMaxConns  int
	// Temporal is the client's connection: address, namespace, TLS and API key, loaded by the
	// SDK's envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
	// TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE).
	Temporal client.Options
	// Codec encrypts every payload sent to Temporal (TEMPORAL_CODEC_KEYS); nil: none.
	Codec *codec.Codec
	// UIOrigins are the Temporal UI's origins (TEMPORAL_UI_ORIGIN, comma-separated), allowed by
	// CORS to call /codec.
	UIOrigins []string
	// TemporalUIURL is the Temporal UI's base URL (TEMPORAL_UI_URL): the console links a
	// conversion to its workflow there. Empty: no links.
	TemporalUIURL string
	// CodecLoopbackNoAuth lets loopback peers call /codec without the admin token
	// (CODEC_LOOPBACK_NO_AUTH, set by make run: the dev server's UI cannot send a token).
	CodecLoopbackNoAuth  bool
	AdminToken           string
	TrustedProxies       []netip.Prefix
	PostbackAllowPrivate bool
	Retry                domain.RetrySchedule
	// PublicURL is the base URL that tracking-code snippets use; empty: the request's own.
	PublicURL string
	// Role is all (API and worker), api, worker, or migrate (`trackflow migrate`: apply the
	// migrations, register the search attributes, exit).
	Role string
	// Migrate (MIGRATE, default true) applies the migrations at start. With false, as when a
	// release's `trackflow migrate` runs once before the pods roll, the process only checks that
	// the schema is recent enough and refuses to start otherwise.
	Migrate bool
	// Demo seeds demo data and serves a stand-in affiliate under /demo/ (make run).
	Demo bool
	// HTTP are the server's timeouts (HTTP_*_TIMEOUT).
	HTTP api.Timeouts
	// ClickIDKey authenticates click IDs (CLICK_ID_KEY, base64 of at least 32 bytes); every API
	// and worker process of a deployment must share it. Unset: a random key for this process.
	ClickIDKey *domain.ClickIDKey
	// ClickIDKeyGenerated is true when CLICK_ID_KEY was unset (run warns).
	ClickIDKeyGenerated bool
	// PprofAddr, when set (PPROF_ADDR, e.g. 127.0.0.1:6060), serves net/http/pprof there, on its
	// own listener so profiles are never reachable through the public API address.
	PprofAddr string
	// ReviewWait bounds how long approve and reject wait for a worker (REVIEW_WAIT, default 5s).
	ReviewWait time.Duration
	// LogFormat is json (the default) or text (make run): LOG_FORMAT.
	LogFormat string
	// ClickRetentionDays is how many days of clicks and impressions are kept (API.md, "Data
	// retention"): older daily partitions are dropped; reports keep counting them.
	ClickRetentionDays int
}

func loadConfig() (Config, error) {
	c := Config{
		HTTPAddr:    env("HTTP_ADDR", ":8080"),
		DatabaseURL: os.Getenv("DATABASE_URL"),
		AdminToken:  os.Getenv("ADMIN_TOKEN"),
		Role:        env("ROLE", "all"),
		PprofAddr:   os.Getenv("PPROF_ADDR"),
		LogFormat:   env("LOG_FORMAT", "json"),
	}
	var errs []string
	check := func(name string, err error) {
		if err != nil {
			errs = append(errs, name+": "+err.Error())
		}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, "LOG_FORMAT: must be json or text")
	}
	if c.DatabaseURL == "" {
		errs = append(errs, "DATABASE_URL: required")
	}
	var err error
	// 40 connections: the worker's 40 local-activity slots (worker.SDKOptions) each hold one while
	// they run; the API needs few (one for the click writer's COPY, postback token lookups, admin),
	// and pixel attempts log their delivery in a moment. Several processes stay well under a
	// Postgres max_connections of 200.
	c.DBMaxConns, err = strconv.Atoi(env("DB_MAX_CONNS", "40"))
	check("DB_MAX_CONNS", err)
	c.PostbackAllowPrivate, err = strconv.ParseBool(env("POSTBACK_ALLOW_PRIVATE", "false"))
	check("POSTBACK_ALLOW_PRIVATE", err)
	c.Migrate, err = strconv.ParseBool(env("MIGRATE", "true"))
	check("MIGRATE", err)
	c.Demo, err = strconv.ParseBool(env("DEMO", "false"))
	check("DEMO", err)
	c.ClickRetentionDays, err = strconv.Atoi(env("CLICK_RETENTION_DAYS", strconv.Itoa(store.DefaultRetentionDays)))
	check("CLICK_RETENTION_DAYS", err)
	if err == nil && (c.ClickRetentionDays < store.MinRetentionDays || c.ClickRetentionDays > store.MaxRetentionDays) {
		errs = append(errs, fmt.Sprintf("CLICK_RETENTION_DAYS: must be from %d (no cookie window outlives its click) to %d",
			store.MinRetentionDays, store.MaxRetentionDays))
	}
	c.Temporal, err = loadTemporal(nil)
	check("TEMPORAL_*", err)
	c.Codec, err = codec.Parse(os.Getenv(codec.EnvKeys))
	if err != nil {
		errs = append(errs, err.Error()) // it names the variable
	}
	c.CodecLoopbackNoAuth, err = strconv.ParseBool(env("CODEC_LOOPBACK_NO_AUTH", "false"))
	check("CODEC_LOOPBACK_NO_AUTH", err)
	for _, o := range strings.Split(os.Getenv("TEMPORAL_UI_ORIGIN"), ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.User != nil {
			errs = append(errs, "TEMPORAL_UI_ORIGIN: must be origins, scheme://host[:port], such as http://127.0.0.1:8233")
			break
		}
		c.UIOrigins = append(c.UIOrigins, o)
	}
	c.TemporalUIURL = strings.TrimRight(os.Getenv("TEMPORAL_UI_URL"), "/")
	if u, err := url.Parse(c.TemporalUIURL); c.TemporalUIURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs = append(errs, "TEMPORAL_UI_URL: must be an absolute http or https URL, such as http://localhost:8233")
	}
	d := domain.DefaultRetrySchedule
	c.Retry.Initial, err = time.ParseDuration(env("POSTBACK_RETRY_INITIAL", d.Initial.String()))
	check("POSTBACK_RETRY_INITIAL", err)
	c.Retry.MaxInterval, err = time.ParseDuration(env("POSTBACK_RETRY_MAX_INTERVAL", d.MaxInterval.String()))
	check("POSTBACK_RETRY_MAX_INTERVAL", err)
	c.Retry.For, err = time.ParseDuration(env("POSTBACK_RETRY_FOR", d.For.String()))
	check("POSTBACK_RETRY_FOR", err)
	c.Retry.AttemptTimeout, err = time.ParseDuration(env("POSTBACK_TIMEOUT", d.AttemptTimeout.String()))
	check("POSTBACK_TIMEOUT", err)
	if len(errs) == 0 && (c.Retry.Initial <= 0 || c.Retry.MaxInterval < c.Retry.Initial || c.Retry.For <= 0 || c.Retry.AttemptTimeout <= 0) {
		errs = append(errs, "POSTBACK_RETRY_*, POSTBACK_TIMEOUT: must be positive, with MAX_INTERVAL at least INITIAL")
	}
	c.ReviewWait, err = time.ParseDuration(env("REVIEW_WAIT", api.DefaultReviewWait.String()))
	check("REVIEW_WAIT", err)
	if err == nil && c.ReviewWait <= 0 {
		errs = append(errs, "REVIEW_WAIT: must be positive")
	}
	c.PublicURL = strings.TrimRight(os.Getenv("PUBLIC_URL"), "/")
	if u, err := url.Parse(c.PublicURL); c.PublicURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs = append(errs, "PUBLIC_URL: must be an absolute http or https URL")
	}
	for _, s := range strings.Split(os.Getenv("TRUSTED_PROXIES"), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := api.ParsePrefix(s)
		check("TRUSTED_PROXIES", err)
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	dt := api.DefaultTimeouts
	for _, d := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"HTTP_HEADER_TIMEOUT", &c.HTTP.Header, dt.Header},
		{"HTTP_BODY_TIMEOUT", &c.HTTP.Body, dt.Body},
		{"HTTP_ADMIN_BODY_TIMEOUT", &c.HTTP.Admin, dt.Admin},
		{"HTTP_WRITE_TIMEOUT", &c.HTTP.Write, dt.Write},
		{"HTTP_IDLE_TIMEOUT", &c.HTTP.Idle, dt.Idle},
	} {
		v, err := time.ParseDuration(env(d.name, d.def.String()))
		if err == nil && v <= 0 {
			err = fmt.Errorf("must be positive")
		}
		check(d.name, err)
		*d.dst = v
	}
	// The routes that take no body get a second, or the body bound when that is shorter.
	c.HTTP.Tiny = min(dt.Tiny, c.HTTP.Body)
	if k := os.Getenv("CLICK_ID_KEY"); k != "" {
		secret, err := base64.StdEncoding.DecodeString(k)
		if err == nil {
			c.ClickIDKey, err = domain.ClickIDKeyFrom(secret)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("CLICK_ID_KEY: must be base64 of at least %d bytes (openssl rand -base64 32)", domain.ClickIDKeySize))
		}
	} else {
		c.ClickIDKey, c.ClickIDKeyGenerated = domain.NewClickIDKey(), true
	}
	switch c.Role {
	case "all", "api", "worker", "migrate":
	default:
		errs = append(errs, "ROLE: must be all, api, worker or migrate")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// loadTemporal reads the Temporal connection the way every Temporal tool does (the SDK's
// envconfig: a profile of the TOML file at TEMPORAL_CONFIG_FILE, or the user's
// temporalio/temporal.toml, then TEMPORAL_* variables over it), so one set of settings serves
// trackflow, the CLI and Temporal Cloud. Unset, it is the local dev server: 127.0.0.1:7233,
// namespace default. lookup replaces the environment in tests; nil reads the process's.
func loadTemporal(lookup envconfig.EnvLookup) (client.Options, error) {
	o, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{EnvLookup: lookup})
	if err != nil {
		return o, err
	}
	if o.HostPort == "" {
		o.HostPort = "127.0.0.1:7233"
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	return o, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
