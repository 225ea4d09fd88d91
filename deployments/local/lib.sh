# lib.sh — sourced by run.sh and test.sh: start the local servers they need and stop, on exit,
# only the ones they started themselves.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
local_dir="$root/deployments/local"

# What this shell started (script kind and dir), stopped in reverse order by stop_started.
started_kinds=()
started_dirs=()

# up <var> <postgres|temporal> <dir> <start args...> starts a server unless it already runs
# (one already running is left running at exit) and sets <var> to what `start` prints: the
# database URL or the Temporal address.
up() {
  local var=$1 kind=$2 dir=$3 out
  shift 3
  if ! "$local_dir/$kind.sh" status "$dir" 2>/dev/null; then
    started_kinds+=("$kind")
    started_dirs+=("$dir")
  fi
  out=$("$local_dir/$kind.sh" start "$dir" "$@" 8>&-) # 8: test.sh's lock, not for servers
  printf -v "$var" '%s' "$out"
}

stop_started() {
  local i
  for ((i = ${#started_kinds[@]} - 1; i >= 0; i--)); do
    "$local_dir/${started_kinds[i]}.sh" stop "${started_dirs[i]}" || true
  done
  started_kinds=()
  started_dirs=()
}
