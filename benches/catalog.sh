#!/usr/bin/env bash
# The catalog with a big library: N movies (default 5,000) seeded straight into the database
# (examples/seed_library.rs), then wrk against streamd's catalog page, its search API and its
# whole list, and against nginx serving the very bytes streamd answered as static files (the
# cost of rendering per request against none at all). Reports p50/p99 and the ratio
# streamd/nginx of each. Loopback only; each run is bounded by DURATION.
# Usage: bash benches/catalog.sh [MOVIES=5000] [DURATION=10s] [CONNECTIONS=8]
# Environment: SHOWS=200 EPISODES=50 adds that many series (one catalog card each) and measures
#              a series page and GET /api/v1/series too.
set -euo pipefail
cd "$(dirname "$0")/.."
MOVIES=${1:-5000}; DURATION=${2:-10s}; CONNS=${3:-8}
for tool in wrk nginx curl; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install wrk nginx-light curl)"; exit 1; }
done
cargo build --release --quiet --bin streamd --example seed_library
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d); chmod 755 "$WORK"
cleanup() { [ -n "${SD_PID:-}" ] && kill "$SD_PID" 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
D=$WORK/data; SD_PORT=18490; NG_PORT=18491
echo "benchpassword" | "$BIN" --data-dir "$D" user add bench --plan premium --password-stdin >/dev/null
SHOWS=${SHOWS:-0}; EPISODES=${EPISODES:-0}
target/release/examples/seed_library "$D" "$MOVIES" 0 "$SHOWS" "$EPISODES"
STREAMD_LOG=warn,streamd::server=info "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$SD_PORT 2>"$WORK/streamd.err" & SD_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SD_PORT/healthz" >/dev/null && break; sleep 0.2; done
# A first serve records what each seeded movie has in the store (the `streamd check` inventory,
# a one-time job after an upgrade): every one of those commits makes the catalog decode the
# whole list again. Measured once it is done, as a library is served every day after.
for _ in $(seq 1800); do grep -q "recorded the objects of movies" "$WORK/streamd.err" && break; sleep 1; done
curl -sf -c "$WORK/jar" -H 'content-type: application/json' -d '{"username":"bench","password":"benchpassword"}' \
  "http://127.0.0.1:$SD_PORT/api/v1/login" >/dev/null
COOKIE=$(awk '$6 == "streamd_session" {print $6 "=" $7}' "$WORK/jar")
[ -n "$COOKIE" ] || { echo "no session cookie"; exit 1; }

# What each request answers, saved for nginx to serve as it is.
mkdir -p "$WORK/static"
declare -A PATHS=([page]="/" [search]="/api/v1/movies?q=amelie" [list]="/api/v1/movies")
KINDS="page search list"
if [ "$SHOWS" -gt 0 ]; then
  FIRST=$(curl -sf -H "Cookie: $COOKIE" "http://127.0.0.1:$SD_PORT/api/v1/series" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
  PATHS[series]="/series/$FIRST"; PATHS[shows]="/api/v1/series"; KINDS="page series shows search list"
fi
for k in $KINDS; do
  curl -sf -H "Cookie: $COOKIE" "http://127.0.0.1:$SD_PORT${PATHS[$k]}" -o "$WORK/static/$k"
done
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:$NG_PORT; root $WORK/static; }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5

measure() { wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Cookie: $COOKIE" "$1" | awk '
  / 50%/ {p50=$2} / 99%/ {p99=$2} /Requests\/sec/ {rps=$2} END {print p50, p99, rps}'; }
to_ms() { awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /us/) n/=1000; else if (v ~ /ms/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n}'; }

echo "$MOVIES movies, $SHOWS series of $EPISODES episodes; wrk -t2 -c$CONNS -d$DURATION; $(nproc) cores"
for k in $KINDS; do
  bytes=$(stat -c %s "$WORK/static/$k")
  s=$(measure "http://127.0.0.1:$SD_PORT${PATHS[$k]}"); n=$(measure "http://127.0.0.1:$NG_PORT/$k")
  read -r s50 s99 srps <<<"$s"; read -r n50 n99 nrps <<<"$n"
  printf '%-6s %8d bytes  streamd: p50 %8s ms p99 %8s ms %9s req/s | nginx: p50 %7s ms p99 %7s ms %9s req/s\n' \
    $k "$bytes" "$(to_ms "$s50")" "$(to_ms "$s99")" "$srps" "$(to_ms "$n50")" "$(to_ms "$n99")" "$nrps"
  echo "RATIO $k p50 streamd/nginx: $(awk -v a="$(to_ms "$s50")" -v b="$(to_ms "$n50")" 'BEGIN{printf "%.1f", a/b}')"
done
