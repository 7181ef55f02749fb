#!/usr/bin/env bash
# Backups of a big library, and recovery from the object store alone.
#  1. A library of MOVIES movies and USERS users (examples/seed_library.rs) plus one real movie:
#     the time and size of `streamd backup` (plain and encrypted) while serve runs.
#  2. Viewers during backups: wrk on a media playlist (through streamd) and on a segment (the
#     built-in store), first alone, then while backups are taken back to back through the
#     server, in the same run. Reports p99 of each and the ratio during/without (goal <= 1.2).
#  3. Recovery on the S3 backend (s3s-fs): a scheduled backup lands in the bucket; then a new
#     machine with only the config runs `restore latest`, starts, signs in, fetches the master,
#     a media playlist, the init and first segment from S3, and ffmpeg decodes the first frame.
# Loopback only; each wrk run is bounded by DURATION.
# Usage: bash benches/backup.sh [MOVIES=5000] [USERS=1000] [DURATION=15s] [CONNECTIONS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
MOVIES=${1:-5000}; USERS=${2:-1000}; DURATION=${3:-15s}; CONNS=${4:-8}
for tool in wrk curl ffmpeg s3s-fs; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install wrk curl ffmpeg; tests/run.sh installs s3s-fs)"; exit 1; }
done
cargo build --release --quiet --bin streamd --example seed_library
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
PW=benchpassword
openssl rand -hex 32 > "$WORK/backup.key"
ms() { date +%s%3N; }
wait_up() { for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return; sleep 0.1; done; echo "no server on $1"; exit 1; }
login() { curl -sf -c "$WORK/jar$1" -H 'content-type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$PW\"}" "http://127.0.0.1:$1/api/v1/login" >/dev/null
  awk '$6 == "streamd_session" {print $6 "=" $7}' "$WORK/jar$1"; }
# The first media playlist path of a movie, and the init and first segment URLs in it.
playlist_of() { curl -sf -H "Cookie: $2" "http://127.0.0.1:$1/stream/$3" | grep -m1 '^/stream/.*m3u8'; }
ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440 \
  -t 20 -c:v libx264 -preset ultrafast -c:a aac "$WORK/clip.mp4"
seed() {
  echo "$PW" | "$BIN" --data-dir "$1" user add bench --plan premium --password-stdin >/dev/null
  target/release/examples/seed_library "$1" "$MOVIES" "$USERS" >/dev/null
  STREAMD_TRANSCODE_PRESET=ultrafast STREAMD_TRANSCODE_RENDITIONS='["480p","720p"]' \
    "$BIN" --data-dir "$1" ingest "$WORK/clip.mp4" --title Clip --tier free --json | sed 's/.*"id":"\([^"]*\)".*/\1/'
}

echo "== 1. backup of $MOVIES movies and $USERS users ($(nproc) cores)"
D=$WORK/local; PORT=18520
ID=$(seed "$D")
STREAMD_LOG=warn "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$PORT 2>/dev/null & PIDS+=($!)
wait_up $PORT
for kind in plain encrypted; do
  extra=(); [ $kind = encrypted ] && extra=(--key "$WORK/backup.key")
  t0=$(ms); "$BIN" --data-dir "$D" backup "$WORK/one.backup" "${extra[@]}" >/dev/null; t1=$(ms)
  echo "backup ($kind, through the server): $((t1 - t0)) ms, $(stat -c %s "$WORK/one.backup") bytes"
done

echo "== 2. viewers during back-to-back backups (wrk -t2 -c$CONNS -d$DURATION)"
COOKIE=$(login $PORT)
PL=$(playlist_of $PORT "$COOKIE" "$ID")
SEG=$(curl -sf -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$PL" | grep -m1 '^http.*\.m4s')
p99() { wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Cookie: $COOKIE" "$1" | awk '
  / 99%/ {v=$2; n=v+0; if (v ~ /us/) n/=1000; else if (v ~ /ms/) n=n; else if (v ~ /s$/) n*=1000; printf "%.2f", n}'; }
backups_while() {
  local n=0
  while kill -0 "$1" 2>/dev/null; do "$BIN" --data-dir "$D" backup "$WORK/loop.backup" >/dev/null; n=$((n + 1)); done
  echo $n > "$WORK/backups_taken"
}
for what in playlist segment; do
  url="http://127.0.0.1:$PORT$PL"; [ $what = segment ] && url=$SEG
  alone=$(p99 "$url")
  p99 "$url" > "$WORK/during" & WRK=$!
  backups_while $WRK
  during=$(cat "$WORK/during")
  echo "$what p99: alone $alone ms, during $(cat "$WORK/backups_taken") backups $during ms"
  echo "RATIO $what p99 during/alone: $(awk -v a="$during" -v b="$alone" 'BEGIN{printf "%.2f", a/b}')"
done
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

echo "== 3. recovery from S3 (s3s-fs) with only the config"
S3PORT=18530; mkdir -p "$WORK/s3/media"
s3s-fs --host 127.0.0.1 --port $S3PORT --access-key BENCHKEY --secret-key bench-secret-key "$WORK/s3" \
  >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$S3PORT/" && break; sleep 0.1; done
export STREAMD_STORAGE_BACKEND=s3 STREAMD_STORAGE_ENDPOINT=http://127.0.0.1:$S3PORT \
  STREAMD_STORAGE_ACCESS_KEY=BENCHKEY STREAMD_STORAGE_SECRET_KEY=bench-secret-key \
  STREAMD_BACKUP_KEY=$(cat "$WORK/backup.key") STREAMD_BACKUP_EVERY=24h STREAMD_LOG=warn
OLD=$WORK/old; PORT=18521
ID=$(seed "$OLD")
"$BIN" --data-dir "$OLD" serve --listen 127.0.0.1:$PORT 2>/dev/null & OLD_PID=$!
until "$BIN" --data-dir "$OLD" backup --list 2>/dev/null | grep -q backups/; do sleep 0.2; done
kill $OLD_PID; wait $OLD_PID 2>/dev/null || true
"$BIN" --data-dir "$OLD" backup --list

NEW=$WORK/new; PORT=18522
t0=$(ms)
"$BIN" --data-dir "$NEW" restore latest >/dev/null; t_restore=$(ms)
"$BIN" --data-dir "$NEW" serve --listen 127.0.0.1:$PORT 2>/dev/null & PIDS+=($!)
wait_up $PORT; t_up=$(ms)
COOKIE=$(login $PORT)
PL=$(playlist_of $PORT "$COOKIE" "$ID")
curl -sf -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$PL" > "$WORK/pl.m3u8"
INIT=$(grep -m1 -o 'URI="[^"]*"' "$WORK/pl.m3u8" | sed 's/URI="\(.*\)"/\1/')
SEG=$(grep -m1 '^http.*\.m4s' "$WORK/pl.m3u8")
{ curl -sf "$INIT"; curl -sf "$SEG"; } > "$WORK/first.mp4"
ffmpeg -v error -i "$WORK/first.mp4" -frames:v 1 -f null -; t_frame=$(ms)
echo "restore latest: $((t_restore - t0)) ms; serving: $((t_up - t0)) ms; first frame decoded: $((t_frame - t0)) ms"
