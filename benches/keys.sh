#!/usr/bin/env bash
# Key requests per viewer-hour (contract section 10), counted, not derived: an encrypted movie
# (release build, key_period KEY_PERIOD) played whole through its cookie-less playback URL by
# ffmpeg (libavformat's HLS demuxer, as VLC and mpv use it), one video and one audio rendition,
# and the server's access log counted for /stream/{id}/keys/{n}. Reports keys fetched, keys the
# movie has, and the per-hour rate scaled to the default key period of 10 minutes.
# Usage: bash benches/keys.sh [SOURCE_S=120] [KEY_PERIOD_S=20]
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE_S=${1:-120}; PERIOD=${2:-20}
cargo build --release --quiet --bin streamd
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d)
cleanup() { [ -n "${SD_PID:-}" ] && kill "$SD_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
D=$WORK/data; PORT=18495
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$SOURCE_S" \
  -f lavfi -i "sine=duration=$SOURCE_S" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$WORK/src.mp4"
echo "viewerpassword" | "$BIN" --data-dir "$D" user add viewer --plan premium --password-stdin >/dev/null
export STREAMD_PROTECTION_ENCRYPT=all STREAMD_PROTECTION_KEY_PERIOD=${PERIOD}s
ID=$(STREAMD_TRANSCODE_PRESET=ultrafast "$BIN" --data-dir "$D" ingest "$WORK/src.mp4" --title keys --json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
STREAMD_LOG=warn,streamd::access=info "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$PORT 2>"$WORK/access.log" & SD_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf -c "$WORK/jar" -H 'content-type: application/json' -d '{"username":"viewer","password":"viewerpassword"}' \
  "http://127.0.0.1:$PORT/api/v1/login" >/dev/null
URL=$(curl -sf -b "$WORK/jar" "http://127.0.0.1:$PORT/api/v1/movies/$ID/playback" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["master_url"])')
ffmpeg -nostdin -v error -i "$URL" -map 0:v:0 -map 0:a:0 -c copy -f null - 
fetched=$(grep -c 'route=/stream/{id}/keys/{n}' "$WORK/access.log" || true)
keys=$(( (SOURCE_S + PERIOD - 1) / PERIOD ))
echo "FIGURE keys fetched playing ${SOURCE_S} s once (video + audio rendition): $fetched; keys in the movie: $keys"
echo "FIGURE key requests per viewer-hour at key_period=10m: $(python3 -c "print(round($fetched / $keys * 6, 1))")"
