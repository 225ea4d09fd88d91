#!/usr/bin/env bash
# run.sh <command...> — `make run`: runs trackflow against local servers.
#
# Without DATABASE_URL it starts the dev Postgres (.dev/pg, 127.0.0.1:55432); without
# TEMPORAL_ADDRESS the dev Temporal server (.dev/temporal, 127.0.0.1:7233, UI :8233, its UI
# decoding payloads through the API's /codec). Then it runs the command with DATABASE_URL,
# TEMPORAL_ADDRESS, HTTP_ADDR (:8080), ADMIN_TOKEN (dev-admin-token), POSTBACK_ALLOW_PRIVATE
# (true), DEMO (true), TEMPORAL_CODEC_KEYS (a fixed dev key), TEMPORAL_UI_ORIGIN (the UI at
# 127.0.0.1 and localhost :8233) and CODEC_LOOPBACK_NO_AUTH (true)
# and LOG_FORMAT (text) set, defaults in brackets.
# Ctrl-C (or SIGTERM) stops the command, then the servers this script started, not others.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

source "$(dirname "$0")/lib.sh"
cd "$root"

trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

if [ -z "${DATABASE_URL:-}" ]; then
  up DATABASE_URL postgres .dev/pg 55432
fi
export HTTP_ADDR=${HTTP_ADDR:-:8080}
if [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  # The UI (in the browser) calls the API's codec server to show the encrypted payloads decoded.
  up TEMPORAL_ADDRESS temporal .dev/temporal 7233 8233 \
    --ui-codec-endpoint "http://127.0.0.1:${HTTP_ADDR##*:}/codec"
  echo "Temporal UI: http://127.0.0.1:8233 (payloads decoded by http://127.0.0.1:${HTTP_ADDR##*:}/codec)" >&2
fi
export DATABASE_URL TEMPORAL_ADDRESS
export ADMIN_TOKEN=${ADMIN_TOKEN:-dev-admin-token}
export POSTBACK_ALLOW_PRIVATE=${POSTBACK_ALLOW_PRIVATE:-true}
export DEMO=${DEMO:-true}
export LOG_FORMAT=${LOG_FORMAT:-text}
# Payloads in Temporal are encrypted as in production. This key is for local data only: it is in
# the repository, so it protects nothing. The dev server's UI has no login and so no token to send
# to /codec: CODEC_LOOPBACK_NO_AUTH lets a browser on this machine decode without one.
export TEMPORAL_CODEC_KEYS=${TEMPORAL_CODEC_KEYS:-ZGV2LW9ubHkta2V5LW5vdC1zZWNyZXQtMzItYnl0ZXM=}
export TEMPORAL_UI_URL=${TEMPORAL_UI_URL:-http://localhost:8233}
export TEMPORAL_UI_ORIGIN=${TEMPORAL_UI_ORIGIN:-http://127.0.0.1:8233,http://localhost:8233}
export CODEC_LOOPBACK_NO_AUTH=${CODEC_LOOPBACK_NO_AUTH:-true}

# The command runs in its own session so that a terminal's Ctrl-C reaches it once, from here,
# as SIGTERM (its graceful stop, as under Kubernetes; a background job of a script would ignore
# SIGINT); a second Ctrl-C kills it. Then the EXIT trap stops the servers.
cmd=$1
setsid "$@" &
child=$!
signals=0
forward() {
  signals=$((signals + 1))
  if [ "$signals" -eq 1 ]; then
    echo "run.sh: stopping $cmd (Ctrl-C again to kill it)" >&2
    kill -TERM "$child" 2>/dev/null || true
  else
    kill -KILL "$child" 2>/dev/null || true
  fi
}
trap forward INT TERM HUP
set +e
while kill -0 "$child" 2>/dev/null; do
  wait "$child"
done
wait "$child"
exit $?
