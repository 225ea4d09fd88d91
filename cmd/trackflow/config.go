package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/trackflow/trackflow/activities"
)

// Config is every setting trackflow reads from the environment, loaded once in run.
type Config struct {
	HTTPAddr             string
	DatabaseURL          string
	DBMaxConns           int
	TemporalAddress      string
	TemporalNamespace    string
	AdminToken           string
	TrustedProxies       []netip.Prefix
	PostbackAllowPrivate bool
	Retry                activities.RetrySchedule
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
	// PprofAddr, when set (PPROF_ADDR, e.g. 127.0.0.1:6060), serves net/http/pprof there, on its
	// own listener so profiles are never reachable through the public API address.
	PprofAddr string
}

func loadConfig() (Config, error) {
	c := Config{
		HTTPAddr:          env("HTTP_ADDR", ":8080"),
		DatabaseURL:       os.Getenv("DATABASE_URL"),
		TemporalAddress:   env("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: env("TEMPORAL_NAMESPACE", "default"),
		AdminToken:        os.Getenv("ADMIN_TOKEN"),
		Role:              env("ROLE", "all"),
		PprofAddr:         os.Getenv("PPROF_ADDR"),
	}
	var errs []string
	check := func(name string, err error) {
		if err != nil {
			errs = append(errs, name+": "+err.Error())
		}
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
	d := activities.DefaultRetrySchedule
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
	c.PublicURL = strings.TrimRight(os.Getenv("PUBLIC_URL"), "/")
	if u, err := url.Parse(c.PublicURL); c.PublicURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs = append(errs, "PUBLIC_URL: must be an absolute http or https URL")
	}
	for _, s := range strings.Split(os.Getenv("TRUSTED_PROXIES"), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		check("TRUSTED_PROXIES", err)
		c.TrustedProxies = append(c.TrustedProxies, p)
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

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
