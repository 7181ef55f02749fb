#!/usr/bin/env bash
# Ingest cost: streamd's whole ingest (probe, one-process ladder, poster, measured master,
# tidied playlists, publish) against, in the same run and on the same source,
#   (a) the equivalent hand-written single ffmpeg command (decode once, constant frame rate,
#       split, 3 x264, the audio encoded once as its own fMP4 rendition),
#   (b) one ffmpeg process per rung, and
#   (c) the packaging streamd used before audio became a group: MPEG-TS with the audio muxed
#       into (and encoded for) every rung.
# Reports wall-time ratios and storage per hour of video; rounds are interleaved so every
# variant sees the same machine load.
# KIND picks the source: sdr (H.264 1080p30), hdr (HEVC Main10 PQ/BT.2020: both sides tone-map),
# interlaced (1080i25 top field first: both sides deinterlace).
# Usage: bash benches/ladder.sh [SECONDS=60] [ROUNDS=1] [PRESET=veryfast] [KIND=sdr]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}; ROUNDS=${2:-1}; PRESET=${3:-veryfast}; KIND=${4:-sdr}
cargo build --release --quiet
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src.mp4
PREP="fps=30"; FPS=30
case $KIND in
  sdr)
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$SECS" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SECS" \
      -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$SRC" ;;
  hdr)
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$SECS" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SECS" \
      -vf format=yuv420p10le -c:v libx265 -preset ultrafast \
      -x265-params log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc \
      -color_primaries bt2020 -color_trc smpte2084 -colorspace bt2020nc -c:a aac -shortest "$SRC"
    PREP="fps=30,zscale=w=1920:h=1080:tin=smpte2084:pin=bt2020:min=bt2020nc:rin=tv:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p" ;;
  interlaced)
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=50:duration=$SECS" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SECS" \
      -vf tinterlace=interleave_top,setfield=tff -flags +ildct+ilme -x264opts tff=1 \
      -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$SRC"
    PREP="bwdif=mode=send_frame:parity=auto:deint=all,fps=25"; FPS=25 ;;
  *) echo "KIND is sdr, hdr or interlaced" >&2; exit 2 ;;
esac
GOP=$((FPS * 2))

now() { date +%s.%N; }
rung_args() { # name w h kbps maxrate bufsize level
  echo "-c:v libx264 -preset $PRESET -profile:v high -pix_fmt yuv420p -sc_threshold 0 -g 60 -keyint_min 60 \
 -force_key_frames expr:gte(t,n_forced*2) -b:v $4k -maxrate $5k -bufsize $6k -level $7 \
 -c:a aac -b:a 128k -ac 2 -ar 48000 -f hls -hls_time 4 -hls_playlist_type vod \
 -hls_flags independent_segments -start_number 1"
}

streamd_run() {
  local d=$WORK/sd; rm -rf "$d"
  # The hand-written peers encode the fixed rates: so does streamd here (quality "fixed"), so
  # both do the same work; per-title rates are measured by benches/quality.sh.
  STREAMD_TRANSCODE_QUALITY=fixed STREAMD_TRANSCODE_PRESET=$PRESET "$BIN" --data-dir "$d" ingest "$SRC" --title bench --json >/dev/null
}
hand_run() {
  local o=$WORK/hand; rm -rf "$o"; mkdir -p "$o"
  ffmpeg -nostdin -v error -y -i "$SRC" \
    -filter_complex "[0:v]$PREP,split=3[a][b][c];[a]scale=854:480,setsar=1[v0];[b]scale=1280:720,setsar=1[v1];[c]scale=1920:1080,setsar=1[v2];[0:a:0]aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a0]" \
    -map "[v0]" -map "[v1]" -map "[v2]" -map "[a0]" \
    -c:v libx264 -preset "$PRESET" -profile:v high -pix_fmt yuv420p -sc_threshold 0 -g $GOP -keyint_min $GOP \
    -force_key_frames "expr:gte(t,n_forced*2)" \
    -b:v:0 1400k -maxrate:v:0 1498k -bufsize:v:0 2996k -level:v:0 3.1 \
    -b:v:1 3000k -maxrate:v:1 3210k -bufsize:v:1 6420k -level:v:1 3.1 \
    -b:v:2 6000k -maxrate:v:2 6420k -bufsize:v:2 12840k -level:v:2 4.0 \
    -c:a aac -b:a 128k \
    -f hls -hls_time 4 -hls_playlist_type vod -hls_flags independent_segments -start_number 1 \
    -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
    -hls_segment_filename "$o/%v/seg_%05d.m4s" -master_pl_name master.m3u8 \
    -var_stream_map "v:0,agroup:aud,name:480p v:1,agroup:aud,name:720p v:2,agroup:aud,name:1080p a:0,agroup:aud,name:audio_1" "$o/%v/index.m3u8"
}
muxed_ts_run() {
  local o=$WORK/muxed; rm -rf "$o"; mkdir -p "$o"
  ffmpeg -nostdin -v error -y -i "$SRC" \
    -filter_complex "[0:v]split=3[a][b][c];[a]scale=854:480,setsar=1[v0];[b]scale=1280:720,setsar=1[v1];[c]scale=1920:1080,setsar=1[v2]" \
    -map "[v0]" -map 0:a:0 -map "[v1]" -map 0:a:0 -map "[v2]" -map 0:a:0 \
    -c:v libx264 -preset "$PRESET" -profile:v high -pix_fmt yuv420p -sc_threshold 0 -g 60 -keyint_min 60 \
    -force_key_frames "expr:gte(t,n_forced*2)" \
    -b:v:0 1400k -maxrate:v:0 1498k -bufsize:v:0 2996k -level:v:0 3.1 \
    -b:v:1 3000k -maxrate:v:1 3210k -bufsize:v:1 6420k -level:v:1 3.1 \
    -b:v:2 6000k -maxrate:v:2 6420k -bufsize:v:2 12840k -level:v:2 4.0 \
    -c:a aac -b:a 128k -ac 2 -ar 48000 \
    -f hls -hls_time 4 -hls_playlist_type vod -hls_flags independent_segments -start_number 1 \
    -hls_segment_filename "$o/%v/seg_%05d.ts" -master_pl_name master.m3u8 \
    -var_stream_map "v:0,a:0,name:480p v:1,a:1,name:720p v:2,a:2,name:1080p" "$o/%v/index.m3u8"
}
per_rung_run() {
  local o=$WORK/per; rm -rf "$o"
  for spec in "480p 854 480 1400 1498 2996 3.1" "720p 1280 720 3000 3210 6420 3.1" "1080p 1920 1080 6000 6420 12840 4.0"; do
    set -- $spec; mkdir -p "$o/$1"
    # shellcheck disable=SC2046
    ffmpeg -nostdin -v error -y -i "$SRC" -vf "scale=$2:$3,setsar=1" $(rung_args "$@") \
      -hls_segment_filename "$o/$1/seg_%05d.ts" "$o/$1/index.m3u8"
  done
}

declare -A total=([streamd]=0 [hand]=0 [per_rung]=0 [muxed_ts]=0)
# The other packagings only make sense against the plain source.
VARIANTS="hand streamd muxed_ts per_rung"; [ "$KIND" = sdr ] || VARIANTS="hand streamd"
for r in $(seq 1 "$ROUNDS"); do
  for v in $VARIANTS; do
    t0=$(now)
    case $v in
      streamd) streamd_run ;; hand) hand_run ;; per_rung) per_rung_run ;; muxed_ts) muxed_ts_run ;;
    esac
    t=$(echo "$(now) - $t0" | bc)
    total[$v]=$(echo "${total[$v]} + $t" | bc)
    echo "round $r: $v ${t}s"
  done
done
echo "source: ${SECS}s 1080p $KIND + AAC, preset $PRESET, $ROUNDS round(s), $(nproc) cores"
echo "RATIO streamd/hand-written single command: $(echo "scale=3; ${total[streamd]} / ${total[hand]}" | bc)"
[ "$KIND" = sdr ] || exit 0
echo "RATIO one-ffmpeg-per-rung/hand-written single command: $(echo "scale=3; ${total[per_rung]} / ${total[hand]}" | bc)"
echo "RATIO audio group (hand, fMP4)/audio muxed per rung (TS), wall time: $(echo "scale=3; ${total[hand]} / ${total[muxed_ts]}" | bc)"
gb_per_hour() { # dir: GB per hour of video, media segments and init segments only
  local bytes; bytes=$(find "$1" -type f \( -name '*.ts' -o -name '*.m4s' -o -name 'init*.mp4' \) -printf '%s\n' | awk '{s+=$1} END {print s}')
  echo "scale=2; $bytes * 3600 / $SECS / 1000000000" | bc
}
echo "storage GB/hour: streamd $(gb_per_hour "$WORK/sd/objects") · audio group fMP4 $(gb_per_hour "$WORK/hand") · audio muxed per rung TS $(gb_per_hour "$WORK/muxed")"
