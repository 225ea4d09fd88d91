#!/usr/bin/env bash
# bench-scale.sh — `make bench-scale`: issue 11's data-growth figures. Starts (unless running) the
# bench Postgres (.dev/bench-pg, 127.0.0.1:55450, durable), recreates the database
# trackflow_scale, and runs `bench scale`: SCALE_MILLIONS million clicks (default 20) through the
# real batch writer over 30 days plus conversions, timing reports, lookups and the writer at 1 M
# and at the end. The table goes to stdout and .dev/bench/scale.md. No Temporal needed.
# SCALE_DATABASE_URL: use that (empty) database instead, on a server already running.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
cd "$root"
out=.dev/bench
mkdir -p "$out" .dev/bin
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

scale_url=${SCALE_DATABASE_URL:-}
if [ -z "$scale_url" ]; then
  up db_url postgres .dev/bench-pg 55450
  psql_bin=$(dirname "$(readlink -f "$(ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)")")/psql
  "$psql_bin" -X -q -h 127.0.0.1 -p 55450 -U trackflow -d postgres \
    -c 'DROP DATABASE IF EXISTS trackflow_scale WITH (FORCE)' -c 'CREATE DATABASE trackflow_scale'
  scale_url=${db_url/\/trackflow\?//trackflow_scale?}
fi
go build -o .dev/bin/bench ./cmd/bench
# shellcheck disable=SC2086 # SCALE_ARGS is a list of flags
.dev/bin/bench scale -db "$scale_url" -millions "${SCALE_MILLIONS:-20}" ${SCALE_ARGS:-} | tee "$out/scale.md"
