#!/usr/bin/env bash
# Serving cost: wrk against streamd and against nginx (secure_link: an equivalent expiring
# signature check) serving the same files, same machine, same run. Reports requests/s, MB/s and
# p99 latency for a ~2 MB segment and for a variant playlist, and the ratios streamd/nginx.
# Loopback only; each run is bounded by DURATION.
# Usage: bash benches/serve.sh [DURATION=10s] [CONNECTIONS=64] [SEGMENT_BYTES=2000000]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}; CONNS=${2:-64}; TARGET=${3:-2000000}
for tool in wrk nginx ffmpeg curl openssl; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install wrk nginx-light ffmpeg curl openssl)"; exit 1; }
done
cargo build --release --quiet
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d); chmod 755 "$WORK"   # nginx workers run unprivileged and must read the files
cleanup() { [ -n "${SD_PID:-}" ] && kill "$SD_PID" 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
D=$WORK/data
SD_PORT=18480; NG_PORT=18481

# A 1080p movie with ~2 MB segments (a two-hour variant playlist is benchmarked separately by
# the criterion bench; here the variant is the real one of this movie).
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=40" \
  -f lavfi -i "sine=duration=40" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$WORK/src.mp4"
echo "benchpassword" | "$BIN" --data-dir "$D" user add bench --admin --password-stdin >/dev/null
ID=$(STREAMD_TRANSCODE_PRESET=veryfast "$BIN" --data-dir "$D" ingest "$WORK/src.mp4" --title bench --json | sed 's/.*"id":"\([^"]*\)".*/\1/')
STREAMD_LOG=warn "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$SD_PORT 2>/dev/null & SD_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SD_PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf -c "$WORK/jar" -H 'content-type: application/json' -d '{"username":"bench","password":"benchpassword"}' "http://127.0.0.1:$SD_PORT/api/v1/login" >/dev/null
VARIANT=$(curl -sf -b "$WORK/jar" "http://127.0.0.1:$SD_PORT/stream/$ID" | grep '^/stream/.*1080p')
# The segment nearest TARGET bytes.
SEG=$(ls -S "$D/objects/media/movies/$ID/1080p/"seg_*.m4s | while read -r f; do s=$(stat -c %s "$f"); echo "$(( (s-TARGET)*(s-TARGET) )) $(basename "$f") $s"; done | sort -n | head -1)
SEG_NAME=$(echo "$SEG" | cut -d' ' -f2); SEG_SIZE=$(echo "$SEG" | cut -d' ' -f3)
SD_SEG=$(curl -sf "http://127.0.0.1:$SD_PORT$VARIANT" | grep "/$SEG_NAME?")
SD_VAR="http://127.0.0.1:$SD_PORT$VARIANT"

# nginx: same files, secure_link md5 over expiry + URI + secret.
SECRET=$(openssl rand -hex 16); EXP=$(( $(date +%s) + 3600 ))
token() { printf '%s' "$EXP$1 $SECRET" | openssl md5 -binary | openssl base64 | tr '+/' '-_' | tr -d '='; }
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on;
  types { video/iso.segment m4s; application/vnd.apple.mpegurl m3u8; }
  server {
    listen 127.0.0.1:$NG_PORT;
    root $D/objects;
    location / {
      secure_link \$arg_md5,\$arg_expires;
      secure_link_md5 "\$secure_link_expires\$uri $SECRET";
      if (\$secure_link = "") { return 403; }
      if (\$secure_link = "0") { return 410; }
    }
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK"
sleep 0.5
NG_SEG_URI="/media/movies/$ID/1080p/$SEG_NAME"; NG_VAR_URI="/media/movies/$ID/1080p/index.m3u8"
NG_SEG="http://127.0.0.1:$NG_PORT$NG_SEG_URI?md5=$(token "$NG_SEG_URI")&expires=$EXP"
NG_VAR="http://127.0.0.1:$NG_PORT$NG_VAR_URI?md5=$(token "$NG_VAR_URI")&expires=$EXP"
for u in "$SD_SEG" "$NG_SEG" "$SD_VAR" "$NG_VAR"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$u"); [ "$code" = 200 ] || { echo "setup: $code for $u"; exit 1; }
done

# wrk prints Requests/sec, Transfer/sec and (with --latency) the 99% line.
measure() { wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$1" | awk '
  /Requests\/sec/ {rps=$2} /Transfer\/sec/ {tr=$2} / 99%/ {p99=$2}
  END {print rps, tr, p99}'; }
to_mb() { awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /GB/) n*=1024; else if (v ~ /KB/) n/=1024; else if (v ~ /B$/ && v !~ /[KMG]B/) n/=1048576; printf "%.1f", n}'; }
to_ms() { awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /us/) n/=1000; else if (v ~ /ms/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n}'; }

echo "segment: $SEG_NAME, $SEG_SIZE bytes; wrk -t2 -c$CONNS -d$DURATION; $(nproc) cores"
for kind in segment playlist; do
  if [ $kind = segment ]; then a=$SD_SEG; b=$NG_SEG; else a=$SD_VAR; b=$NG_VAR; fi
  # Interleave: streamd, nginx, streamd, nginx; keep the better of each (noise only slows).
  best() { printf '%s\n%s\n' "$1" "$2" | sort -k1 -n -r | head -1; }
  s1=$(measure "$a"); n1=$(measure "$b"); s2=$(measure "$a"); n2=$(measure "$b")
  s=$(best "$s1" "$s2"); n=$(best "$n1" "$n2")
  read -r s_rps s_tr s_p99 <<<"$s"; read -r n_rps n_tr n_p99 <<<"$n"
  printf '%-8s streamd: %10s req/s %8s MB/s p99 %8s ms | nginx: %10s req/s %8s MB/s p99 %8s ms\n' \
    $kind "$s_rps" "$(to_mb "$s_tr")" "$(to_ms "$s_p99")" "$n_rps" "$(to_mb "$n_tr")" "$(to_ms "$n_p99")"
  echo "RATIO $kind streamd/nginx req/s: $(awk -v a="$s_rps" -v b="$n_rps" 'BEGIN{printf "%.3f", a/b}')  p99 streamd/nginx: $(awk -v a="$(to_ms "$s_p99")" -v b="$(to_ms "$n_p99")" 'BEGIN{printf "%.3f", a/b}')"
  if [ $kind = segment ]; then
    # Peak resident memory while serving: streamd's process vs nginx's workers together.
    sd_kb=$(awk '/VmHWM/ {print $2}' /proc/$SD_PID/status)
    ng_kb=$(for p in $(pgrep -P "$(cat "$WORK/nginx.pid")"); do awk '/VmHWM/ {print $2}' /proc/$p/status; done | awk '{s+=$1} END {print s}')
    echo "RATIO peak RSS streamd/nginx workers: $(awk -v a="$sd_kb" -v b="$ng_kb" 'BEGIN{printf "%.2f (%.0f MB / %.0f MB)", a/b, a/1024, b/1024}')"
  fi
done
