# Sourced by the examples' run-*.sh: herd's target on free loopback ports,
# stopped (with anything else in `pids`) when the script ends.
#   start_target NAME [target flags]   starts it; NAME is the script's, for errors
#   target_address PREFIX              the address after "PREFIX" in its log
HERD="${HERD_BIN:-build/bin/herd}"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

start_target() {
  script_name=$1
  shift
  "$HERD" target --listen 127.0.0.1:0 "$@" >"$work/target.log" 2>&1 &
  pids+=($!)
}

target_address() {
  local addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n "s/^$1//p" "$work/target.log")
    [ -n "$addr" ] && break
    sleep 0.05
  done
  [ -n "$addr" ] || { echo "$script_name: the target did not start" >&2; cat "$work/target.log" >&2; exit 1; }
  echo "$addr"
}
