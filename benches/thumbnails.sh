#!/usr/bin/env bash
# What seek-bar thumbnails cost (one 320x180 picture per 10 s, tiled 10x10 into JPEG sprites),
# on one source in one run, against the ladder itself (the hand-written single ffmpeg command of
# benches/ladder.sh: decode once, split, 3 x264):
#   keyframes streamd's pass after the ladder (-skip_frame nokey): what it does,
#   decode    the same pass decoding every frame (its fallback, and what keyframes-only saves),
#   branch    the ladder with a thumbnail branch in its own ffmpeg (exact frames; rejected:
#             see BENCHMARKS.md).
# Reports wall-time ratios; rounds are interleaved so each variant sees the same machine load.
# Usage: bash benches/thumbnails.sh [SECONDS=120] [ROUNDS=2] [PRESET=veryfast]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-120}; ROUNDS=${2:-2}; PRESET=${3:-veryfast}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src.mp4
# x264's default keyframe interval (250 frames, ~8 s at 30 fps) as in most encodes people keep.
ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$SECS" \
  -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$SRC"
THUMBS="fps=1/10:round=up,scale=320:180:flags=bicubic,setsar=1,tile=10x10"
SPRITES=(-c:v mjpeg -q:v 5 -f image2 -start_number 0)

ladder() { # extra split outputs and maps for the branch, if any
  local o=$WORK/ladder; rm -rf "$o"; mkdir -p "$o"
  local n=3 branch="" out=()
  if [ "$1" = branch ]; then n=4; branch=";[d]$THUMBS[th]"; out=(-map "[th]" "${SPRITES[@]}" "$o/sprite_%03d.jpg"); fi
  local labels="[a][b][c]"; [ $n = 4 ] && labels="[a][b][c][d]"
  ffmpeg -nostdin -v error -y -i "$SRC" \
    -filter_complex "[0:v]fps=30,split=$n$labels;[a]scale=854:480,setsar=1[v0];[b]scale=1280:720,setsar=1[v1];[c]scale=1920:1080,setsar=1[v2]$branch" \
    -map "[v0]" -map "[v1]" -map "[v2]" \
    -c:v libx264 -preset "$PRESET" -profile:v high -pix_fmt yuv420p -sc_threshold 0 -g 60 -keyint_min 60 \
    -force_key_frames "expr:gte(t,n_forced*2)" \
    -b:v:0 1400k -maxrate:v:0 1498k -bufsize:v:0 2996k \
    -b:v:1 3000k -maxrate:v:1 3210k -bufsize:v:1 6420k \
    -b:v:2 6000k -maxrate:v:2 6420k -bufsize:v:2 12840k \
    -f hls -hls_time 4 -hls_playlist_type vod -hls_flags independent_segments -start_number 1 \
    -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
    -hls_segment_filename "$o/%v/seg_%05d.m4s" \
    -var_stream_map "v:0,name:480p v:1,name:720p v:2,name:1080p" "$o/%v/index.m3u8" "${out[@]}"
  if [ "$1" = branch ]; then ls "$o"/sprite_*.jpg >/dev/null; fi
}
pass() { # keyframes | decode
  local o=$WORK/pass; rm -rf "$o"; mkdir -p "$o"
  local skip=(); [ "$1" = keyframes ] && skip=(-skip_frame nokey)
  ffmpeg -nostdin -v error -y "${skip[@]}" -i "$SRC" -filter_complex "[0:v]$THUMBS[th]" \
    -map "[th]" "${SPRITES[@]}" "$o/sprite_%03d.jpg"
}

now() { date +%s.%N; }
declare -A total=([plain]=0 [branch]=0 [keyframes]=0 [decode]=0)
for r in $(seq 1 "$ROUNDS"); do
  for v in plain branch keyframes decode; do
    t0=$(now)
    case $v in plain) ladder plain ;; branch) ladder branch ;; *) pass $v ;; esac
    t=$(echo "$(now) - $t0" | bc); total[$v]=$(echo "${total[$v]} + $t" | bc)
    echo "round $r: $v ${t}s"
  done
done
echo "source: ${SECS}s 1080p30 H.264 (keyframe every ~8 s), ladder 480/720/1080 at $PRESET, $ROUNDS round(s), $(nproc) cores"
ratio() { echo "scale=3; ${total[$1]} / ${total[plain]}" | bc; }
echo "RATIO ladder with thumbnail branch / ladder: $(ratio branch)"
echo "RATIO keyframes-only thumbnail pass / ladder: $(ratio keyframes)"
echo "RATIO full-decode thumbnail pass / ladder: $(ratio decode)"
