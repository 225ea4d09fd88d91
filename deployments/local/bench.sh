#!/usr/bin/env bash
# bench.sh — `make bench`: trackflow's performance figures against baselines taken in the same run.
#
# Starts (unless running) a bench Postgres (.dev/bench-pg, 127.0.0.1:55450, durable like make run's)
# and a bench Temporal dev server (.dev/bench-temporal, 127.0.0.1:7260, UI :8260, in memory, with
# one task-queue partition and eager activities: temporal.sh's settings), recreates the bench
# database, starts trackflow (API :18080, pprof :16060) and the bare Gin baseline (:18090), and
# runs cmd/bench, which prints one Markdown table (also in .dev/bench/report.md). wrk is installed
# from Debian when missing. The servers this script started are stopped at the end.
# BENCH_ARGS adds flags to `bench run` (e.g. BENCH_ARGS='-click-rounds 1 -conv-rounds 1 -clicks 300000').
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$root"

out=.dev/bench
mkdir -p "$out" .dev/bin
api_pid='' base_pid=''
cleanup() {
  local p
  for p in $api_pid $base_pid; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $api_pid $base_pid; do
    wait "$p" 2>/dev/null || true
  done
  stop_started
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if ! command -v wrk >/dev/null; then
  echo "bench.sh: installing wrk" >&2
  apt-get update -qq >&2 && apt-get install -y -qq wrk >&2
fi

up db_url postgres .dev/bench-pg 55450
up temporal_addr temporal .dev/bench-temporal 7260 8260 --ephemeral
psql_bin=$(dirname "$(readlink -f "$(ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)")")/psql
"$psql_bin" -X -q -h 127.0.0.1 -p 55450 -U trackflow -d postgres \
  -c 'DROP DATABASE IF EXISTS trackflow WITH (FORCE)' -c 'CREATE DATABASE trackflow'

echo "bench.sh: building" >&2
go build -o .dev/bin/trackflow ./cmd/trackflow
go build -o .dev/bin/bench ./cmd/bench

DATABASE_URL=$db_url TEMPORAL_ADDRESS=$temporal_addr HTTP_ADDR=127.0.0.1:18080 ADMIN_TOKEN=bench-admin-token \
  POSTBACK_ALLOW_PRIVATE=true DEMO=false PPROF_ADDR=127.0.0.1:16060 \
  .dev/bin/trackflow >"$out/trackflow.log" 2>&1 &
api_pid=$!
.dev/bin/bench baseline -addr 127.0.0.1:18090 >"$out/baseline.log" 2>&1 &
base_pid=$!
for i in $(seq 1 120); do
  curl -fsS -o /dev/null http://127.0.0.1:18080/healthz 2>/dev/null && curl -fsS -o /dev/null -w '' \
    'http://127.0.0.1:18090/click' 2>/dev/null && break
  kill -0 "$api_pid" 2>/dev/null || { cat "$out/trackflow.log" >&2; exit 1; }
  sleep 0.5
done

temporal_config="CLI $(.dev/bin/temporal --version | head -1 | sed 's/^temporal version //'), \`server start-dev\` in memory,"
temporal_config+=" $(grep -o -- '--dynamic-config-value [^ ]*' .dev/bench-temporal/temporal.log | sed 's/--dynamic-config-value //' | awk '!seen[$0]++' | paste -sd, -)"

# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
.dev/bin/bench run -api http://127.0.0.1:18080 -baseline http://127.0.0.1:18090 \
  -admin-token bench-admin-token -temporal "$temporal_addr" -db "$db_url" -api-pid "$api_pid" \
  -api-bin .dev/bin/trackflow -pprof http://127.0.0.1:16060 -out "$out" \
  -temporal-config "$temporal_config" ${BENCH_ARGS:-} | tee "$out/report.md"

# The driver's shutdown phase ended with SIGTERM to trackflow: its exit status is the clean
# stop's. When BENCH_ARGS left that phase out, stop it here.
case ${BENCH_ARGS:-} in
  *-phases*shutdown*) ;;
  *-phases*) kill -TERM "$api_pid" 2>/dev/null || true ;;
esac
rc=0
wait "$api_pid" || rc=$?
api_pid=''
echo "" | tee -a "$out/report.md"
echo "trackflow exited with status $rc after SIGTERM; $(grep -o 'clicks stored.*' "$out/trackflow.log" | tail -1)" | tee -a "$out/report.md"

# The Go benchmarks of the hot functions and of the click handler (BenchmarkClick stores its clicks
# in a fresh database of the bench cluster), while that cluster is still up.
echo "" | tee -a "$out/report.md"
TRACKFLOW_TEST_DATABASE_URL=$db_url go test -run '^$' -bench . -benchmem ./domain/ ./store/ ./api/ 2>&1 |
  grep -E '^(Benchmark|ok|FAIL|---)' | tee -a "$out/report.md"
