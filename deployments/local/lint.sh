#!/usr/bin/env bash
# lint.sh — the checks `make test` runs before the tests (also `make lint`):
#   gofmt -l .                        fails on any file it lists
#   staticcheck ./...                 honnef.co/go/tools
#   workflowcheck ./workflows/...     Temporal's determinism check of workflow code
#
#   lint.sh           build the tools if needed, then run every check; exit 1 if any fails
#   lint.sh build     only build the tools
#
# The tools' versions are pinned in deployments/tools/go.mod (a module of their own, like the
# Temporal CLI's); they are built into .dev/bin, and rebuilt only when that pin changes.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)
mod="$root/deployments/tools"
bin="$root/.dev/bin"

log() { echo "lint.sh: $*" >&2; }

# build makes .dev/bin/staticcheck and .dev/bin/workflowcheck unless the stamp says they were
# built from the current deployments/tools/go.mod and go.sum.
build() {
  local want stamp="$bin/.tools.stamp"
  mkdir -p "$bin"
  want=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -d' ' -f1)
  exec 9>"$bin/tools.lock"
  flock 9 # one build at a time: two worktrees' make test may both ask
  if [ -x "$bin/staticcheck" ] && [ -x "$bin/workflowcheck" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exec 9>&-
    return 0
  fi
  log "building staticcheck and workflowcheck (pinned in deployments/tools/go.mod)"
  (cd "$mod" && go build -trimpath -o "$bin/" honnef.co/go/tools/cmd/staticcheck \
    go.temporal.io/sdk/contrib/tools/workflowcheck)
  echo "$want" >"$stamp"
  exec 9>&-
}

check() {
  local rc=0 unformatted
  cd "$root"
  echo "== gofmt -l ."
  unformatted=$(gofmt -l .)
  if [ -n "$unformatted" ]; then
    echo "$unformatted"
    echo "lint.sh: gofmt: the files above are not formatted (run gofmt -w on them)" >&2
    rc=1
  fi
  echo "== staticcheck ./..."
  "$bin/staticcheck" ./... || rc=1
  echo "== workflowcheck ./workflows/..."
  "$bin/workflowcheck" ./workflows/... || rc=1
  return "$rc"
}

case ${1:-} in
  build) build ;;
  '')
    build
    check
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
