#!/usr/bin/env bash
# Segment latency during a login storm: wrk fetches one presigned segment from the built-in
# store while nothing else happens (quiet), then while 50 clients post wrong passwords as fast
# as they are answered (storm). Reports p50/p99 of both and the ratio storm/quiet, the
# logins answered and by which status, and the server's RSS before and after. The same server,
# file and wrk settings in both phases; loopback only; each phase bounded by DURATION.
# Usage: bash benches/login_storm.sh [DURATION=10s] [CONNECTIONS=8] [LOGINS=50]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}; CONNS=${2:-8}; LOGINS=${3:-50}
for tool in wrk ffmpeg curl python3; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install wrk ffmpeg curl python3)"; exit 1; }
done
cargo build --release --quiet
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d)
cleanup() { [ -n "${SD_PID:-}" ] && kill "$SD_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
D=$WORK/data; PORT=18490

ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=20" \
  -f lavfi -i "sine=duration=20" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$WORK/src.mp4"
echo "benchpassword" | "$BIN" --data-dir "$D" user add bench --admin --password-stdin >/dev/null
ID=$(STREAMD_TRANSCODE_PRESET=ultrafast STREAMD_TRANSCODE_RENDITIONS='["720p"]' \
  "$BIN" --data-dir "$D" ingest "$WORK/src.mp4" --title bench --json | sed 's/.*"id":"\([^"]*\)".*/\1/')
STREAMD_LOG=warn STREAMD_AUTH_LOGIN_ATTEMPTS_PER_MINUTE=1000000 \
  "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$PORT 2>/dev/null & SD_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf -c "$WORK/jar" -H 'content-type: application/json' \
  -d '{"username":"bench","password":"benchpassword"}' "http://127.0.0.1:$PORT/api/v1/login" >/dev/null
VARIANT=$(curl -sf -b "$WORK/jar" "http://127.0.0.1:$PORT/stream/$ID" | grep '^/stream/.*720p')
SEG=$(curl -sf "http://127.0.0.1:$PORT$VARIANT" | grep 'seg_00002' | head -1)
SIZE=$(curl -sf "$SEG" | wc -c)
rss() { awk '/VmRSS/ {print $2}' "/proc/$SD_PID/status"; }

# wrk's latency distribution, in ms: p50 p99
latency() {
  wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$SEG" > "$WORK/wrk.$1"
  awk '/^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Requests\/sec/ {rps=$2}
       function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
       END { printf "%.2f %.2f %s\n", ms(p50), ms(p99), rps }' "$WORK/wrk.$1"
}

RSS_IDLE=$(rss)
read -r Q50 Q99 QRPS < <(latency quiet)

cat > "$WORK/storm.py" <<'PY'
import json, sys, threading, time, urllib.request, urllib.error, collections
port, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
stop = time.time() + secs
counts = collections.Counter(); lock = threading.Lock()
def storm(i):
    k = 0
    while time.time() < stop:
        body = json.dumps({"username": f"nobody{i}x{k}", "password": "wrong password!"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/login", body, {"content-type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=30); code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        except Exception:
            code = "error"
        with lock: counts[code] += 1
        k += 1
threads = [threading.Thread(target=storm, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items(), key=str)))
PY
SECS=${DURATION%s}
nice -n 10 python3 "$WORK/storm.py" "$PORT" "$LOGINS" "$((SECS + 2))" > "$WORK/storm.out" & STORM=$!
sleep 1
read -r S50 S99 SRPS < <(latency storm)
wait $STORM
RSS_AFTER=$(rss)

echo "segment: $SIZE bytes, wrk -t1 -c$CONNS -d$DURATION; storm: $LOGINS clients posting wrong passwords"
printf "%-8s %10s %10s %10s\n" phase p50_ms p99_ms req/s
printf "%-8s %10s %10s %10s\n" quiet "$Q50" "$Q99" "$QRPS"
printf "%-8s %10s %10s %10s\n" storm "$S50" "$S99" "$SRPS"
awk -v a="$S99" -v b="$Q99" -v c="$S50" -v d="$Q50" 'BEGIN { printf "p99 storm/quiet = %.2fx, p50 storm/quiet = %.2fx\n", a/b, c/d }'
echo "logins answered by status: $(cat "$WORK/storm.out")"
echo "server RSS: ${RSS_IDLE} kB before, ${RSS_AFTER} kB after the storm"
