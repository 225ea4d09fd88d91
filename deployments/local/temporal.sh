#!/usr/bin/env bash
# temporal.sh — the Temporal CLI's dev server (with the Web UI) for local runs and tests,
# built from the version pinned in deployments/temporal/go.mod.
#
#   temporal.sh build                                         build .dev/bin/temporal if missing or stale
#   temporal.sh start  <statedir> <grpc-port> <ui-port> [--ephemeral] [--ui-codec-endpoint <url>]
#   temporal.sh stop   <statedir>
#   temporal.sh status <statedir>                            exit 0 when the server we started runs
#
# start keeps the state in <statedir>/temporal.db (--ephemeral: in memory, lost at stop), a pid
# file and the log in <statedir>, registers trackflow's search attributes and waits until the
# server and the UI answer. --ui-codec-endpoint points the UI at a codec server (trackflow's
# /codec) to show encrypted payloads decoded; a server already running keeps its own setting. It
# is idempotent. The address (127.0.0.1:<grpc-port>) goes to stdout; everything else goes to
# stderr.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
log() { echo "temporal.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# This script only ever talks to the local dev server: ignore any Temporal client settings
# (TEMPORAL_ADDRESS, TEMPORAL_TLS, TEMPORAL_API_KEY, ...) meant for a real cluster.
unset "${!TEMPORAL_@}"

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
mod="$root/deployments/temporal"
bin="$root/.dev/bin/temporal"

# The search attributes the conversion workflow sets (workflows.SearchAttributeNames; a test in
# deployments/validate fails when this list differs).
search_attributes=(OfferId AffiliateId ClickId InvoiceId AttributionMethod ConversionStatus ConversionSummary)

pinned_version() {
  local v
  v=$(awk '$1 == "github.com/temporalio/cli" { print $2 }' "$mod/go.mod")
  [ -n "$v" ] || die "github.com/temporalio/cli is not pinned in $mod/go.mod"
  echo "${v#v}"
}

# build makes .dev/bin/temporal when it is missing or reports another version than the pin.
build() {
  local want
  want=$(pinned_version)
  mkdir -p "$(dirname "$bin")"
  exec 9>"$bin.lock"
  flock 9 # one build at a time: make run and make test may both ask
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep "^temporal version $want " >/dev/null; then
    exec 9>&-
    return 0
  fi
  log "building the Temporal CLI $want (the first build downloads its modules: a few minutes)"
  (cd "$mod" && go build -trimpath -o "$bin.tmp" \
    -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$want" \
    github.com/temporalio/cli/cmd/temporal)
  mv -f "$bin.tmp" "$bin"
  exec 9>&-
  log "built $bin"
}

# (grep without -q in pipelines: with pipefail, an early exit would fail the writer on SIGPIPE.)
healthy() {
  "$bin" operator cluster health --address "127.0.0.1:$1" --command-timeout 3s 2>/dev/null | grep SERVING >/dev/null
}

# alive: the process exists and is not a zombie (its reaper may be slow to collect it).
alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# pid succeeds when the server that this state dir's pid file names is alive.
pid() {
  local p
  p=$(cat "$statedir/temporal.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep 'server start-dev' >/dev/null
}

# attributes_ready succeeds when every search attribute is registered in the default namespace.
attributes_ready() {
  local list a
  list=$("$bin" operator search-attribute list --address "127.0.0.1:$1" --namespace default \
    --command-timeout 3s 2>/dev/null) || return 1
  for a in "${search_attributes[@]}"; do
    grep -qw "$a" <<<"$list" || return 1
  done
}

ui_ready() {
  ! command -v curl >/dev/null || curl -fsS -o /dev/null "http://127.0.0.1:$1/"
}

wait_ready() {
  local port=$1 ui=$2 i
  for i in $(seq 1 120); do
    if healthy "$port" && attributes_ready "$port" && ui_ready "$ui"; then
      return 0
    fi
    if [ -f "$statedir/temporal.pid" ] && ! pid; then
      tail -n 30 "$statedir/temporal.log" >&2 || true
      die "the server exited (log: $statedir/temporal.log)"
    fi
    sleep 0.5
  done
  tail -n 30 "$statedir/temporal.log" >&2 || true
  die "not ready on 127.0.0.1:$port (UI :$ui) after 60s (log: $statedir/temporal.log)"
}

start() {
  local port=$1 ui=$2 ephemeral=$3 codec=$4 args a
  build
  mkdir -p "$statedir"
  if pid; then
    log "already running on 127.0.0.1:$port (pid $(cat "$statedir/temporal.pid"))"
    # Started by an older checkout, it may lack an attribute added since (ConversionSummary).
    if healthy "$port" && ! attributes_ready "$port"; then
      "$here/register-search-attributes.sh" "127.0.0.1:$port" default >&2
    fi
  elif healthy "$port"; then
    # Somebody else's server answers there: use it, with our search attributes.
    log "a Temporal server that this script did not start answers on 127.0.0.1:$port: using it"
    "$here/register-search-attributes.sh" "127.0.0.1:$port" default >&2
    echo "127.0.0.1:$port"
    return 0
  else
    args=(server start-dev --ip 127.0.0.1 --port "$port" --ui-port "$ui" --log-level warn
      --namespace default
      --dynamic-config-value matching.numTaskqueueReadPartitions=1
      --dynamic-config-value matching.numTaskqueueWritePartitions=1
      --dynamic-config-value system.enableActivityEagerExecution=true)
    for a in "${search_attributes[@]}"; do args+=(--search-attribute "$a=Keyword"); done
    # Test servers checkpoint the transfer queue every second instead of every 30 s, so a deleted
    # workflow is gone in about a second (the DB-only duplicate test deletes one).
    $ephemeral && args+=(--dynamic-config-value 'history.transferProcessorUpdateAckInterval="1s"')
    $ephemeral || args+=(--db-filename "$statedir/temporal.db")
    [ -z "$codec" ] || args+=(--ui-codec-endpoint "$codec")
    log "starting on 127.0.0.1:$port, UI http://127.0.0.1:$ui ($statedir)"
    echo "--- $(date -u +%FT%TZ) ${args[*]}" >>"$statedir/temporal.log"
    # setsid: a Ctrl-C in the terminal that started it must not reach the server; whoever
    # started it stops it with `temporal.sh stop`.
    setsid "$bin" "${args[@]}" </dev/null >>"$statedir/temporal.log" 2>&1 &
    echo $! >"$statedir/temporal.pid"
  fi
  wait_ready "$port" "$ui"
  echo "127.0.0.1:$port"
}

stop() {
  local p i
  if ! pid; then
    rm -f "$statedir/temporal.pid"
    log "not running: $statedir"
    return 0
  fi
  p=$(cat "$statedir/temporal.pid")
  log "stopping $statedir (pid $p)"
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 60); do
    alive "$p" || break
    sleep 0.5
  done
  if alive "$p"; then
    log "still running after 30s: killing pid $p"
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -f "$statedir/temporal.pid"
}

[ $# -ge 1 ] || usage
case $1 in
  build)
    [ $# -eq 1 ] || usage
    build
    ;;
  start)
    [ $# -ge 4 ] || usage
    mkdir -p "$2"
    statedir=$(cd "$2" && pwd -P)
    case $3$4 in ''|*[!0-9]*) usage ;; esac
    grpc_port=$3 ui_port=$4 ephemeral=false codec=
    shift 4
    while [ $# -gt 0 ]; do
      case $1 in
        --ephemeral) ephemeral=true ;;
        --ui-codec-endpoint)
          [ $# -ge 2 ] || usage
          codec=$2
          shift
          ;;
        *) usage ;;
      esac
      shift
    done
    start "$grpc_port" "$ui_port" "$ephemeral" "$codec"
    ;;
  stop)
    [ $# -eq 2 ] || usage
    statedir=$2
    stop
    ;;
  status)
    [ $# -eq 2 ] || usage
    statedir=$2
    pid
    ;;
  *) usage ;;
esac
