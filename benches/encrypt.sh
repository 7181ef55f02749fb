#!/usr/bin/env bash
# Encryption's cost at publish (contract section 10), release build, local disk only:
#   1. ingest time of the same source with protection.encrypt = "all" / "off", interleaved
#      rounds in one run (the encode dominates; encryption touches each segment once);
#   2. `streamd encrypt` on the clear movie afterwards: MB/s of segments encrypted under new
#      names (read, encrypt, write with fsync, then remove the clear ones), against `cp -r` of
#      the same rendition folders in the same run (the floor of touching the bytes at all).
# For encryption alone per core, see `cargo bench --bench segment_crypto`.
# Usage: bash benches/encrypt.sh [SOURCE_S=120] [ROUNDS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE_S=${1:-120}; ROUNDS=${2:-2}
cargo build --release --quiet --bin streamd
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=25:duration=$SOURCE_S" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SOURCE_S" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$WORK/src.mp4"

ingest() { # mode -> prints "seconds id datadir"
  local d; d=$(mktemp -d -p "$WORK")
  local t0; t0=$(now)
  local id
  id=$(STREAMD_PROTECTION_ENCRYPT=$1 STREAMD_TRANSCODE_PRESET=veryfast \
    "$BIN" --data-dir "$d" ingest "$WORK/src.mp4" --title bench --json | json "d['id']")
  echo "$(echo "$(now) - $t0" | bc) $id $d"
}

on_total=0; off_total=0
for round in $(seq 1 "$ROUNDS"); do
  read -r on _ on_dir < <(ingest all)
  read -r off off_id off_dir < <(ingest off)
  echo "round $round: ingest encrypted ${on} s, clear ${off} s, ratio $(echo "scale=3; $on / $off" | bc)"
  on_total=$(echo "$on_total + $on" | bc); off_total=$(echo "$off_total + $off" | bc)
  rm -rf "$on_dir"
  [ "$round" = "$ROUNDS" ] || rm -rf "$off_dir"
done
echo "FIGURE ingest time encrypted / clear, $ROUNDS rounds, ${SOURCE_S}-s 1080p source: $(echo "scale=3; $on_total / $off_total" | bc)"

# 2. streamd encrypt on the last clear movie, against cp -r of its video and audio folders.
movie=$off_dir/objects/media/movies/$off_id
bytes=$(find "$movie" -name 'seg_*.m4s' -printf '%s\n' | awk '{s+=$1} END {print s}')
sync
t0=$(now); cp -r "$movie" "$WORK/copy"; sync; copy_s=$(echo "$(now) - $t0" | bc)
t0=$(now); "$BIN" --data-dir "$off_dir" encrypt "$off_id" >/dev/null; enc_s=$(echo "$(now) - $t0" | bc)
mb=$(echo "scale=1; $bytes / 1000000" | bc)
echo "FIGURE streamd encrypt: ${mb} MB of segments in ${enc_s} s ($(echo "scale=0; $bytes / 1000000 / $enc_s" | bc) MB/s); cp -r + sync ${copy_s} s; ratio $(echo "scale=2; $enc_s / $copy_s" | bc)"
left=$(find "$movie" -name 'seg_*.m4s' | wc -l)
[ "$left" = 0 ] || { echo "clear segments left: $left"; exit 1; }
