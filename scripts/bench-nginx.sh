#!/usr/bin/env bash
# The broker against nginx, side by side on one tiny upstream (issue 10's benchmark):
#   direct      wrk → upstream
#   nginx       wrk → nginx (worker_processes auto, upstream keepalive) → upstream,
#               injecting a static Authorization header
#   staffgate   wrk → staffgate's broker (release build, SQLite) → upstream, with a brokered
#               token checked on every request and the real secret injected
# at c=1 and c=16, each alternated ROUNDS times (default 2), DURATION each (default 10s).
# The upstream is an nginx of its own answering a static JSON body.
# Optional: PERF=1 records `perf` on the daemon during one c=16 staffgate run and prints
# where its time goes.
#
#   bash scripts/bench-nginx.sh            # installs nginx and wrk (Debian) if missing
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-2}"
DURATION="${DURATION:-10s}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  [ -x /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null; as_root chmod +x /usr/sbin/policy-rc.d; }
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nginx wrk >/dev/null
fi
cargo build --release --quiet

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/up/nginx.pid" ] && kill "$(cat "$WORK/up/nginx.pid")" 2>/dev/null || true
  [ -f "$WORK/px/nginx.pid" ] && kill "$(cat "$WORK/px/nginx.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP_PORT=$(free_port); PX_PORT=$(free_port); SG_PORT=$(free_port)

nginx_conf() { # dir, server block
  mkdir -p "$1"
  cat > "$1/nginx.conf" <<EOF
worker_processes auto;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  keepalive_requests 100000;
  $2
}
EOF
}
nginx_conf "$WORK/up" "server { listen 127.0.0.1:$UP_PORT; location / { default_type application/json; return 200 '{\"ok\":true,\"result\":[]}'; } }"
nginx_conf "$WORK/px" "upstream up { server 127.0.0.1:$UP_PORT; keepalive 64; }
  server { listen 127.0.0.1:$PX_PORT; location / {
    proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\";
    proxy_set_header Authorization \"Bearer the-real-secret\"; } }"
nginx -c "$WORK/up/nginx.conf" -p "$WORK/up"
nginx -c "$WORK/px/nginx.conf" -p "$WORK/px"

export STAFFGATE_DATA_DIR="$WORK/sg" STAFFGATE_LISTEN="127.0.0.1:$SG_PORT" \
  STAFFGATE_URL="http://127.0.0.1:$SG_PORT" STAFFGATE_REQUIRE_TOTP=false \
  STAFFGATE_REQUIRE_NDA=false STAFFGATE_LOG_FORMAT=json
SG=target/release/staffgate
$SG serve > "$WORK/daemon.log" 2>&1 &
SG_PID=$!; PIDS+=("$SG_PID")
for _ in $(seq 1 100); do curl -sf "$STAFFGATE_URL/healthz" >/dev/null && break; sleep 0.1; done
$SG staff add bench --email bench@example.com --name Bench --group support >/dev/null
$SG channel add desk --kind bearer --rule "GET /** read" --upstream "http://127.0.0.1:$UP_PORT/" --tag support >/dev/null
echo -n 'the-real-secret' | $SG channel set-secret desk >/dev/null
TOKEN=$($SG token issue --staff bench --channel desk --ttl 12h)

DIRECT="http://127.0.0.1:$UP_PORT/messages"
NGINX="http://127.0.0.1:$PX_PORT/messages"
BROKER="$STAFFGATE_URL/broker/desk/messages"
for url in "$DIRECT" "$NGINX"; do curl -sf "$url" >/dev/null; done
curl -sf -H "Authorization: Bearer $TOKEN" "$BROKER" >/dev/null

# One wrk run: prints "req/s p50_us p99_us".
run() { # name conns url [header]
  local threads=1; [ "$2" -gt 1 ] && threads=2
  local args=(-t"$threads" -c"$2" -d"$DURATION" --latency "$3")
  [ $# -gt 3 ] && args+=(-H "$4")
  wrk "${args[@]}" | python3 -c '
import re, sys
out = sys.stdin.read()
def us(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)?", v)
    if not m:
        sys.exit("unreadable wrk latency " + repr(v) + ":\n" + out)
    return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6, "m": 6e7}[m.group(2) or "us"]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
# Anchored: "95.50%" in the thread-stats line must not read as the 50th percentile.
p50 = us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{rps:.0f} {p50:.0f} {p99:.0f} {errs.group(1) if errs else 0}")'
}

echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $DURATION per run, $ROUNDS rounds"
printf '%-4s %-10s %10s %9s %9s %6s\n' c target req/s p50_us p99_us non2xx
for c in 1 16; do
  for r in $(seq 1 "$ROUNDS"); do
    printf '%-4s %-10s %10s %9s %9s %6s\n' "$c" direct $(run direct "$c" "$DIRECT")
    printf '%-4s %-10s %10s %9s %9s %6s\n' "$c" nginx $(run nginx "$c" "$NGINX")
    printf '%-4s %-10s %10s %9s %9s %6s\n' "$c" staffgate $(run staffgate "$c" "$BROKER" "Authorization: Bearer $TOKEN")
  done
done

if [ "${PERF:-0}" = 1 ]; then
  perf record -F 999 -g -o "$WORK/perf.data" -p "$SG_PID" -- sleep 8 >/dev/null 2>&1 &
  PERF_PID=$!
  sleep 0.5
  run staffgate 16 "$BROKER" "Authorization: Bearer $TOKEN" >/dev/null
  wait "$PERF_PID" || true
  echo "== where the daemon's time goes (perf, c=16, self time by shared object, then by symbol)"
  perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^\s+[0-9]' | head -8
  perf report -i "$WORK/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -E '^\s+[0-9]' | head -40
fi
