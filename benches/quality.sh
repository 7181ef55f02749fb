#!/usr/bin/env bash
# Per-title rates and efficient codecs, measured at equal quality (issue 13). Encodes a small
# generated corpus with the fixed ladder (transcode.quality = "fixed") and the per-title one
# ("standard": capped CRF), plus the HEVC and AV1 rows at the top rung, and reports per rung:
# size, SSIM and PSNR against the source scaled to the rung (ffmpeg's ssim/psnr filters), and
# encode CPU time. Then GB per hour per clip, and each codec row's encode speed relative to
# x264 at the same preset.
#
# Each rung is one ffmpeg process with the encoder settings streamd uses for it (rate, caps,
# GOP, profile: src/ingest/ladder.rs and src/ingest/command.rs; keep them in step), so its time
# is its own. The last column checks that mirror: the size of the same rung in a real
# `streamd ingest` of the clip at quality "standard" (rungs of one process differ from
# separate ones only by the muxer's few bytes).
#
# Corpus (generated, deterministic; `SECONDS` long each, 24 fps, 16:9):
#   flat     animation-like: large flat colours with hard edges, drawn "on threes" (8 new
#            pictures a second, each held 3 frames: lavfi life, 24-pixel cells)
#   talking  a talking head: a detailed still background, one moving region in the middle
#   motion   high motion: a fast pan across a detailed test pattern
#   grain    film grain: strong temporal noise over a slow pan across a detailed picture
#
# Usage: bash benches/quality.sh [SECONDS=30] [SIZE=1920x1080] ["CLIPS"="flat talking motion grain"]
# Environment: PRESET (veryfast, as transcode.preset), STREAMD_BIN (target/release/streamd,
# else target/debug/streamd), QUALITY_CHECK=1 exits non-zero unless every figure was produced
# (what CI runs, on one tiny clip: it asserts figures exist, never a time or a ratio).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-30}; SIZE=${2:-1920x1080}; CLIPS=${3:-"flat talking motion grain"}
PRESET=${PRESET:-veryfast}
W=${SIZE%x*}; H=${SIZE#*x}; FPS=24
BIN=${STREAMD_BIN:-}
# streamd warns about STREAMD_ variables it does not know; this one is the script's.
unset STREAMD_BIN
[ -z "$BIN" ] && { [ -x target/release/streamd ] && BIN=target/release/streamd || BIN=target/debug/streamd; }
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
TIMEFORMAT='%U %S'

# A still, detailed picture (a fractal) standing for a room, rendered once and held.
still() { echo "mandelbrot=s=$1:r=$FPS:maxiter=200:start_x=-0.75:start_y=0.1:start_scale=1.2,trim=end_frame=1,loop=loop=-1:size=1"; }

source_graph() {
  case $1 in
    flat) echo "life=s=$((W / 24))x$((H / 24)):r=8:seed=7:mold=8:ratio=0.3:life_color=#ffd250:death_color=#1e3c78:mold_color=#7a4e9e,scale=$W:$H:flags=neighbor,fps=$FPS" ;;
    talking) echo "$(still "${W}x$H")[bg];testsrc2=s=$((W / 4))x$((H / 3)):r=$FPS[head];[bg][head]overlay=x='W/2-w/2+W/40*sin(t)':y='H/3+H/60*sin(t*1.3)':shortest=1" ;;
    motion) echo "testsrc2=s=$((W * 3 / 2))x$((H * 3 / 2)):r=$FPS,crop=$W:$H:x='mod(t*$((W / 4)),$((W / 2)))':y='mod(t*$((H / 4)),$((H / 2)))'" ;;
    grain) echo "$(still "$((W * 5 / 4))x$((H * 5 / 4))"),crop=$W:$H:x='t*$((W / 100))':y='t*$((H / 100))',noise=alls=14:allf=t" ;;
    *) echo "unknown clip $1" >&2; exit 2 ;;
  esac
}

# The rungs of a 16:9 source (never above it): name width height fixed-kbps.
rungs() {
  local short kbps
  for pair in 480:1400 720:3000 1080:6000 2160:16000; do
    short=${pair%:*}; kbps=${pair#*:}
    [ "$H" -ge "$short" ] || continue
    echo "${short}p $(( (short * 16 / 9 + 1) / 2 * 2 )) $short $kbps"
  done
}

# crf: the table of src/ingest/ladder.rs (standard: x264 23, x265 +2, SVT-AV1 +11); the
# efficient codecs' caps are their share (0.6, 0.5) of H.264's. Keep in step with it.
encoder() { # codec mode kbps -> the encoder options
  local codec=$1 mode=$2 kbps=$3 max bufsize share crf
  case $codec in h264) share=100; crf=23 ;; hevc) share=60; crf=25 ;; av1) share=50; crf=34 ;; esac
  # fixed: average kbps, peak 1.07x; a quality: capped at the fixed average (buffer 2x).
  kbps=$(( kbps * share / 100 )); max=$(( kbps * 107 / 100 )); bufsize=$(( max * 2 ))
  [ "$mode" = fixed ] || { max=$kbps; bufsize=$(( kbps * 2 )); }
  case $codec in
    h264) echo "-c:v libx264 -preset $PRESET -profile:v high -pix_fmt yuv420p" ;;
    hevc) echo "-c:v libx265 -preset $PRESET -profile:v main10 -pix_fmt yuv420p10le -tag:v hvc1 -forced-idr 1 -x265-params log-level=error:open-gop=0:scenecut=0" ;;
    av1) local svt; case $PRESET in ultrafast) svt=12 ;; superfast) svt=11 ;; veryfast) svt=10 ;; faster) svt=9 ;; fast) svt=8 ;; medium) svt=7 ;; slow) svt=6 ;; *) svt=5 ;; esac
         echo "-c:v libsvtav1 -preset $svt -pix_fmt yuv420p10le" ;;
  esac
  case $mode:$codec in
    fixed:av1) echo "-b:v ${kbps}k" ;;
    fixed:*) echo "-b:v ${kbps}k -maxrate ${max}k -bufsize ${bufsize}k" ;;
    standard:av1) echo "-crf $crf -svtav1-params scd=0:irefresh-type=2:mbr=$max" ;;
    standard:*) echo "-crf $crf -maxrate ${max}k -bufsize ${bufsize}k" ;;
  esac
}

# encode clip rung-name width height kbps codec mode -> "bytes cpu_seconds"
encode() {
  local src=$1 w=$3 h=$4 kbps=$5 codec=$6 mode=$7 out t depth=""
  out=$WORK/$(basename "$src" .mkv)_$2_${codec}_$mode.mp4
  [ "$codec" = h264 ] || depth=",format=yuv420p10le"
  # shellcheck disable=SC2046
  t=$( { time ffmpeg -nostdin -v error -y -threads 0 -i "$src" -an \
      -vf "fps=$FPS,scale=$w:$h:flags=bicubic,setsar=1$depth" \
      -sc_threshold 0 -g $((FPS * 2)) -keyint_min $((FPS * 2)) -force_key_frames "expr:gte(t,n_forced*2)" \
      $(encoder "$codec" "$mode" "$kbps") -f mp4 "$out" 2>"$WORK/err" ; } 2>&1 ) || { cat "$WORK/err" >&2; exit 1; }
  echo "$(stat -c %s "$out") $(echo "$t" | awk '{printf "%.1f", $1 + $2}') $out"
}

# ssim and psnr of an encode against the source scaled to its size (both from their first frame).
quality() { # encode source w h -> "ssim psnr"
  ffmpeg -nostdin -hide_banner -i "$1" -i "$2" -lavfi \
    "[0:v]setpts=PTS-STARTPTS,format=yuv420p,split[d1][d2];[1:v]setpts=PTS-STARTPTS,fps=$FPS,scale=$3:$4:flags=bicubic,setsar=1,format=yuv420p,split[r1][r2];[d1][r1]ssim;[d2][r2]psnr" \
    -f null - 2>&1 | awk '/SSIM/ { for (i = 1; i <= NF; i++) if ($i ~ /^All:/) { sub("All:", "", $i); s = $i } }
                          /PSNR/ { for (i = 1; i <= NF; i++) if ($i ~ /^average:/) { sub("average:", "", $i); p = $i } }
                          END { printf "%.4f %.2f\n", s, p }'
}

# bytes of one rung as `streamd ingest` published it (init + segments)
product_sizes() { # clip -> lines "rung bytes"
  local data=$WORK/data_$1
  rm -rf "$data"
  STREAMD_LOG=warn STREAMD_TRANSCODE_PRESET=$PRESET STREAMD_TRANSCODE_QUALITY=standard \
    STREAMD_TRANSCODE_CODECS='["h264","hevc","av1"]' \
    "$BIN" --data-dir "$data" ingest "$WORK/$1.mkv" --title "$1" >/dev/null
  for d in "$data"/objects/*/movies/*/*/; do
    [ -f "$d/init.mp4" ] || continue
    case $(basename "$d") in audio_*|thumbnails) continue ;; esac
    echo "$(basename "$d") $(cat "$d"/init.mp4 "$d"/seg_*.m4s | wc -c)"
  done
}

bad=0
check() { # every figure a number above 0: ssim, ssim, streamd's bytes
  for v in "$@"; do awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }' || bad=1; done
}

mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e6 }'; }

echo "# quality corpus: ${SECS} s per clip at ${SIZE} ${FPS} fps, preset $PRESET, $(nproc) cores, $(date -u +%F)"
echo
echo "| clip | rung | codec | fixed MB | fixed SSIM | fixed PSNR | fixed CPU s | standard MB | standard SSIM | standard PSNR | standard CPU s | size new/old | streamd MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
total_old=0; total_new=0; figures=0; summary=()
for clip in $CLIPS; do
  # A near-lossless source: every encode is compared with the same pictures.
  ffmpeg -nostdin -v error -y -f lavfi -i "$(source_graph "$clip")" -t "$SECS" \
    -c:v libx264 -preset ultrafast -crf 12 -pix_fmt yuv420p "$WORK/$clip.mkv"
  declare -A streamd=()
  while read -r name bytes; do streamd[$name]=$bytes; done < <(product_sizes "$clip")
  old=0; new=0; top=""
  while read -r name w h kbps; do
    top="$name $w $h $kbps"
    read -r ob ot of < <(encode "$WORK/$clip.mkv" "$name" "$w" "$h" "$kbps" h264 fixed)
    read -r nb nt nf < <(encode "$WORK/$clip.mkv" "$name" "$w" "$h" "$kbps" h264 standard)
    read -r os op < <(quality "$of" "$WORK/$clip.mkv" "$w" "$h")
    read -r ns np < <(quality "$nf" "$WORK/$clip.mkv" "$w" "$h")
    old=$((old + ob)); new=$((new + nb))
    echo "| $clip | $name | h264 | $(mb "$ob") | $os | $op | $ot | $(mb "$nb") | $ns | $np | $nt | $(awk -v a="$nb" -v b="$ob" 'BEGIN { printf "%.2f", a / b }') | $(mb "${streamd[$name]:-0}") |"
    figures=$((figures + 1)); check "$os" "$ns" "${streamd[$name]:-0}"
    h264_top_bytes=$nb; h264_top_time=$nt
  done < <(rungs)
  read -r name w h kbps <<< "$top"
  if [ "$h" -ge 1080 ]; then
    for codec in hevc av1; do
      read -r cb ct cf < <(encode "$WORK/$clip.mkv" "$name" "$w" "$h" "$kbps" "$codec" standard)
      read -r cs cp < <(quality "$cf" "$WORK/$clip.mkv" "$w" "$h")
      echo "| $clip | ${name}_$codec | $codec | | | | | $(mb "$cb") | $cs | $cp | $ct | $(awk -v a="$cb" -v b="$h264_top_bytes" 'BEGIN { printf "%.2f", a / b }') of h264 | $(mb "${streamd[${name}_$codec]:-0}") |"
      summary+=("$clip $codec ${name}: size $(awk -v a="$cb" -v b="$h264_top_bytes" 'BEGIN { printf "%.2f", a / b }') of the H.264 row, encode CPU $(awk -v a="$ct" -v b="$h264_top_time" 'BEGIN { printf "%.1f", a / b }')x x264 $PRESET's")
      figures=$((figures + 1)); check "$cs" 1 "${streamd[${name}_$codec]:-0}"
    done
  fi
  total_old=$((total_old + old)); total_new=$((total_new + new))
  summary+=("$clip: H.264 ladder $(awk -v b="$old" -v s="$SECS" 'BEGIN { printf "%.2f", b / 1e9 * 3600 / s }') GB/h fixed, $(awk -v b="$new" -v s="$SECS" 'BEGIN { printf "%.2f", b / 1e9 * 3600 / s }') GB/h standard ($(awk -v a="$new" -v b="$old" 'BEGIN { printf "%.0f", a / b * 100 }')%)")
  unset streamd
done
echo
for line in "${summary[@]}"; do echo "- $line"; done
echo "- corpus total: standard ladder $(awk -v a="$total_new" -v b="$total_old" 'BEGIN { printf "%.0f", a / b * 100 }')% of the fixed ladder's storage"
if [ "${QUALITY_CHECK:-0}" = 1 ]; then
  [ "$figures" -gt 0 ] && [ "$bad" = 0 ] && [ "$total_old" -gt 0 ] && [ "$total_new" -gt 0 ] ||
    { echo "quality.sh: a figure is missing (figures $figures, bad $bad)" >&2; exit 1; }
fi
