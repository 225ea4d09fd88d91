#!/usr/bin/env bash
# postgres.sh — a private, throw-away PostgreSQL cluster for local runs and tests.
#
#   postgres.sh start  <datadir> <port> [--fast]   create if missing, start, print the URL
#   postgres.sh stop   <datadir> [<port>]          stop (ok when not running)
#   postgres.sh status <datadir> [<port>]          exit 0 when running
#   postgres.sh url    <datadir> <port>            print the URL
#
# The cluster uses trust auth and a superuser named `trackflow`, listens on 127.0.0.1:<port>
# only, keeps its unix socket in <datadir>-socket next to the data dir, and has a database
# `trackflow`. --fast turns off fsync and friends: only for clusters whose data may be lost
# (the test cluster). Run as root, the server runs as the `postgres` user.
# The URL goes to stdout; everything else goes to stderr.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
log() { echo "postgres.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ $# -ge 2 ] || usage
cmd=$1 datadir=$2 port=${3:-} fast=false
[ $# -le 4 ] || usage
if [ $# -eq 4 ]; then
  [ "$4" = --fast ] || usage
  fast=true
fi
case $cmd in
  start|url) case $port in ''|*[!0-9]*) usage ;; esac ;;
esac

mkdir -p "$(dirname "$datadir")"
datadir=$(cd "$(dirname "$datadir")" && pwd -P)/$(basename "$datadir")

url() { echo "postgres://trackflow@127.0.0.1:$1/trackflow?sslmode=disable"; }

find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -rn); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  d=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || echo /nonexistent)")")
  [ -x "$d/initdb" ] && { echo "$d"; return; }
  die "no PostgreSQL server binaries (initdb) found: install them, e.g. apt-get install -y postgresql"
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_pg runs a server command as the cluster's owner: postgres refuses to run as root.
as_pg() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# own hands a directory to the cluster's owner when we are root.
own() { if is_root; then chown postgres:postgres "$@"; fi; }

# reachable: the server's user can enter the folder (root's home, say, is closed to it).
reachable() { ! is_root || runuser -u postgres -- test -x "$1"; }

# elsewhere names a folder outside the checkout for what the server cannot reach inside it.
elsewhere() { echo "/var/tmp/trackflow-pg-$(echo -n "$datadir" | sha1sum | cut -c1-12)$1"; }

# A unix socket path is limited to 107 bytes: fall back for deep or closed checkouts.
socket_dir() {
  local d="$datadir-socket"
  if [ $(( ${#d} + 20 )) -gt 100 ] || ! reachable "$(dirname "$datadir")"; then
    d=$(elsewhere -socket)
  fi
  echo "$d"
}

# pgdata is the cluster's real folder: <datadir>, or where the symlink <datadir> points.
pgdata() { readlink -f "$datadir"; }

running() { [ -f "$datadir/PG_VERSION" ] && as_pg "$bindir/pg_ctl" status -D "$(pgdata)" >/dev/null 2>&1; }

# running_port reads the port of the running postmaster from its pid file (line 4).
running_port() { sed -n 4p "$datadir/postmaster.pid" 2>/dev/null || true; }

init_cluster() {
  if is_root; then
    id postgres >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/postgresql \
      --no-create-home --shell /usr/sbin/nologin postgres
  fi
  if [ -L "$datadir" ]; then
    rm -f "$datadir"
  elif [ -d "$datadir" ] && [ -n "$(ls -A "$datadir")" ]; then
    die "$datadir is not empty and holds no cluster: remove it (an interrupted first start leaves one)"
  fi
  if reachable "$(dirname "$datadir")"; then
    mkdir -p "$datadir"
  else
    # The server runs as postgres and must reach its data through every parent folder.
    local real
    real=$(elsewhere "")
    log "user postgres cannot reach $(dirname "$datadir"): keeping the cluster in $real"
    rm -rf "$real"
    mkdir -p "$real"
    ln -s "$real" "$datadir"
  fi
  log "creating cluster in $datadir"
  chmod 700 "$(pgdata)"
  own "$(pgdata)"
  as_pg "$bindir/initdb" -D "$(pgdata)" -A trust -U trackflow -E UTF8 --locale=C.UTF-8 --no-instructions >"$datadir.initdb.log" 2>&1 \
    || { cat "$datadir.initdb.log" >&2; die "initdb failed"; }
  rm -f "$datadir.initdb.log"
  echo "include_if_exists = 'trackflow.conf'" | as_pg tee -a "$(pgdata)/postgresql.conf" >/dev/null
}

# write_conf sets what may change from one start to the next (port, durability).
write_conf() {
  local sock=$1
  {
    echo "# written by deployments/local/postgres.sh at every start"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$sock'"
    echo "max_connections = 400" # the race suite runs two test binaries at once, each with its pools
    echo "shared_buffers = 128MB"
    echo "log_min_messages = warning"
    echo "log_min_duration_statement = -1"
    if $fast; then
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
    fi
  } | as_pg tee "$(pgdata)/trackflow.conf" >/dev/null
}

wait_ready() {
  local i
  for i in $(seq 1 60); do
    "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U trackflow && return 0
    sleep 0.5
  done
  die "not ready on 127.0.0.1:$port after 30s (log: $datadir/server.log)"
}

ensure_db() {
  local psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U trackflow -d postgres)
  if [ -z "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'trackflow'")" ]; then
    "${psql[@]}" -c 'CREATE DATABASE trackflow' >/dev/null
    log "created database trackflow"
  fi
}

bindir=$(find_bindir)

case $cmd in
  start)
    if running; then
      rp=$(running_port)
      [ "$rp" = "$port" ] || die "$datadir is already running on port $rp, not $port"
      log "already running on 127.0.0.1:$port"
    else
      [ -f "$datadir/PG_VERSION" ] || init_cluster
      sock=$(socket_dir)
      mkdir -p "$sock"
      own "$sock"
      write_conf "$sock"
      log "starting on 127.0.0.1:$port ($datadir)"
      # The port sits in Linux's ephemeral range: an outgoing connection may hold it for a moment
      # (seen under test load), so a bind failure is retried a few times before giving up.
      tries=0
      until as_pg "$bindir/pg_ctl" -D "$(pgdata)" -l "$(pgdata)/server.log" -w -t 60 start >/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -ge 10 ] || ! tail -n 5 "$datadir/server.log" 2>/dev/null | grep 'Address already in use' >/dev/null; then
          tail -n 20 "$datadir/server.log" >&2 || true
          die "pg_ctl start failed"
        fi
        log "port $port is busy for a moment; retrying"
        sleep 2
      done
    fi
    wait_ready
    ensure_db
    url "$port"
    ;;
  stop)
    if running; then
      log "stopping $datadir"
      as_pg "$bindir/pg_ctl" -D "$(pgdata)" -m fast -w -t 60 stop >/dev/null
    else
      log "not running: $datadir"
    fi
    ;;
  status)
    running
    ;;
  url)
    url "$port"
    ;;
  *) usage ;;
esac
