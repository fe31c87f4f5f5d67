#!/usr/bin/env bash
# Runs examples/shop-flow.js out of the box: starts herd's target on a free
# loopback port, an HTTPS file server (openssl s_server, a certificate made
# here) on 127.0.0.1:18443 serving herd's jslib-shaped fixtures, then herd.
# Extra arguments go to `herd run` (e.g. --parallelism 2). Exits with herd's code.
set -euo pipefail
cd "$(dirname "$0")/.."
source examples/target.sh
start_target run-shop-flow
base=$(target_address "listening on ")

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
(cd tests/fixtures/jslib && exec openssl s_server -accept 127.0.0.1:18443 -cert "$work/cert.pem" \
  -key "$work/key.pem" -WWW -quiet >"$work/tls.log" 2>&1) &
pids+=($!)
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/18443) 2>/dev/null && break
  sleep 0.05
done
(exec 3<>/dev/tcp/127.0.0.1/18443) 2>/dev/null || { echo "run-shop-flow: 127.0.0.1:18443 is not serving (in use?)" >&2; exit 1; }

set +e
SSL_CERT_FILE="$work/cert.pem" BASE_URL="$base" "$HERD" run "$@" examples/shop-flow.js
rc=$?
set -e
exit "$rc"
