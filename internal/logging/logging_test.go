package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestRequestIDOnEveryLine: a line logged with a request's context names the request, in JSON by
// default; one logged without names none.
func TestRequestIDOnEveryLine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, err := New(&buf, "", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.With("component", "api").InfoContext(WithRequestID(context.Background(), "req-1"), "served")
	log.Info("startup")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first["request_id"] != "req-1" || first["component"] != "api" || second["request_id"] != nil {
		t.Fatalf("lines %v / %v", first, second)
	}
	if _, err := New(&buf, "xml", slog.LevelInfo); err == nil {
		t.Fatal("LOG_FORMAT=xml accepted")
	}
}
