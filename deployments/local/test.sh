#!/usr/bin/env bash
# test.sh — `make test`, what CI runs: go vet, lint.sh (gofmt, staticcheck, workflowcheck), the
# whole suite with the race detector against a real Postgres and a real Temporal dev server (it
# includes the route/OpenAPI test and the e2e validation against api/openapi.yaml), the deployment
# files' validation (its own module, deployments/validate: no cluster or Docker engine needed),
# then a short fuzz run.
#
# Unless given, it starts a test Postgres (.dev/test-pg, 127.0.0.1:55433, fsync off) and a test
# Temporal server (.dev/test-temporal, 127.0.0.1:7244, UI :8244, in memory), and stops the ones
# it started when it ends. Tests find them through
#   TRACKFLOW_TEST_DATABASE_URL      the `trackflow` database of the test cluster (the harness
#                                    creates one database per test package from it)
#   TRACKFLOW_TEST_TEMPORAL_ADDRESS  host:port of the test Temporal server
#   TRACKFLOW_TEMPORAL_CLI           the pinned Temporal CLI, for tests that run their own server
#                                    (testsuite.DevServerOptions.ExistingPath)
# It exits with the first failing step's code.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$root"

# One run at a time on a machine: a second one would share, then stop, the first one's servers.
mkdir -p .dev
exec 8>.dev/test.lock
if ! flock -n 8; then
  echo "test.sh: another make test is running here: waiting for it" >&2
  flock 8
fi

trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The CLI's first build is slow (module downloads): overlap it with Postgres and go vet.
"$local_dir/temporal.sh" build 2>.dev/temporal-build.log 8>&- &
build=$!

if [ -z "${TRACKFLOW_TEST_DATABASE_URL:-}" ]; then
  up TRACKFLOW_TEST_DATABASE_URL postgres .dev/test-pg 55433 --fast
fi
export TRACKFLOW_TEST_DATABASE_URL

rc=0
echo "== go vet ./..."
go vet ./... || rc=$?
"$local_dir/lint.sh" 8>&- || rc=$?

if ! wait "$build"; then
  cat .dev/temporal-build.log >&2
  echo "test.sh: building the Temporal CLI failed" >&2
  exit 1
fi
export TRACKFLOW_TEMPORAL_CLI="$root/.dev/bin/temporal"
[ "$rc" -eq 0 ] || exit "$rc"

if [ -z "${TRACKFLOW_TEST_TEMPORAL_ADDRESS:-}" ]; then
  up TRACKFLOW_TEST_TEMPORAL_ADDRESS temporal .dev/test-temporal 7244 8244 --ephemeral
fi
export TRACKFLOW_TEST_TEMPORAL_ADDRESS
echo "== test servers: Postgres $TRACKFLOW_TEST_DATABASE_URL, Temporal $TRACKFLOW_TEST_TEMPORAL_ADDRESS"

echo "== go test -race ./..."
go test -race -count=1 -timeout 30m ./... || rc=$?

# A module of its own (the Kubernetes, kustomize and compose libraries stay out of go.mod).
echo "== deployments/validate: compose, kustomize builds, Helm values"
(cd deployments/validate && go vet ./... && go test -count=1 ./...) || rc=$?

if [ "$rc" -eq 0 ] && grep -rqsE --include='*_test.go' '^func FuzzParseParams\(' api/; then
  echo "== fuzz FuzzParseParams (20s)"
  go test -run '^$' -fuzz '^FuzzParseParams$' -fuzztime 20s ./api/ || rc=$?
fi
exit "$rc"
