#!/usr/bin/env bash
# Paced viewers: N players pulling the top rung's segments at a video bitrate (one segment per
# segment duration, each on its own keep-alive connection; examples/paced.rs), against streamd
# and against nginx serving the same files (sendfile on) in the same run. Reports completed
# segments, errors, TTFB p50/p99, server CPU seconds per GB served and peak RSS, and the ratios.
# Loopback only, bounded by DURATION. Exits 1 if any request failed (CI runs it small).
#
# Usage: bash benches/paced.sh [VIEWERS=1000] [DURATION_S=60] [BITRATE=6000000] [ROUNDS=1]
#                              [READ_RATE_BYTES_PER_S=0 (unlimited)]
# Environment: PACED_PROFILE=debug uses the debug build (CI; figures need the default release);
#              PACED_SOURCE_S=40 seconds of 1080p source to ingest;
#              PACED_ENCRYPT=all ingests it with encrypted segments (nginx serves the same bytes);
#              PACED_TLS=1 measures HTTPS (issue 26): a throwaway CA and a localhost leaf (EC P-256,
#              openssl CLI), streamd with [tls] on that certificate, nginx with `ssl` on the same
#              one, and streamd's plain HTTP (a separate phase: a streamd with [tls] answers plain
#              HTTP with 308s, and two streamd cannot share the data dir), each round.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS=${1:-1000}; DURATION=${2:-60}; BITRATE=${3:-6000000}; ROUNDS=${4:-1}; READ_RATE=${5:-0}
PROFILE=${PACED_PROFILE:-release}; SOURCE_S=${PACED_SOURCE_S:-40}
TLS=${PACED_TLS:-0}
for tool in nginx ffmpeg curl openssl; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "needs $tool (apt-get install nginx-light ffmpeg curl openssl)"; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin streamd --example paced
else
  cargo build --quiet --bin streamd --example paced
fi
BIN=$PWD/target/$PROFILE/streamd; LOAD=$PWD/target/$PROFILE/examples/paced
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d); chmod 755 "$WORK"   # nginx workers run unprivileged and must read the files
cleanup() { [ -n "${SD_PID:-}" ] && kill "$SD_PID" 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
D=$WORK/data
SD_PORT=18490; NG_PORT=18491; TLS_PORT=18492
CA=$WORK/tls/ca.pem
if [ "$TLS" = 1 ]; then
  # The same CA + leaf shape as tests/e2e/https.test.mjs.
  mkdir -p "$WORK/tls"
  EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${EC[@]}" -keyout "$WORK/tls/ca.key" -out "$CA" -days 2 -subj '/CN=paced bench CA' \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req "${EC[@]}" -keyout "$WORK/tls/leaf.key" -out "$WORK/tls/leaf.csr" -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > "$WORK/tls/leaf.ext"
  openssl x509 -req -in "$WORK/tls/leaf.csr" -CA "$CA" -CAkey "$WORK/tls/ca.key" -CAcreateserial -days 2 \
    -extfile "$WORK/tls/leaf.ext" -out "$WORK/tls/leaf.pem" 2>/dev/null
fi
HTTPS=https://localhost:$TLS_PORT
https_curl() { curl -sf --cacert "$CA" --resolve "localhost:$TLS_PORT:127.0.0.1" "$@"; }

ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$SOURCE_S" \
  -f lavfi -i "sine=duration=$SOURCE_S" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$WORK/src.mp4"
echo "benchpassword" | "$BIN" --data-dir "$D" user add bench --admin --password-stdin >/dev/null
ID=$(STREAMD_PROTECTION_ENCRYPT=${PACED_ENCRYPT:-off} STREAMD_TRANSCODE_PRESET=ultrafast "$BIN" --data-dir "$D" ingest "$WORK/src.mp4" --title bench --json | sed 's/.*"id":"\([^"]*\)".*/\1/')

start_streamd() { # [tls]: with [tls] on the bench certificate, HTTPS on $TLS_PORT
  if [ "${1:-}" = tls ]; then
    STREAMD_TLS_CERT=$WORK/tls/leaf.pem STREAMD_TLS_KEY=$WORK/tls/leaf.key STREAMD_TLS_LISTEN=127.0.0.1:$TLS_PORT \
      STREAMD_SERVER_PUBLIC_URL=$HTTPS STREAMD_LOG=warn "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$SD_PORT \
      2>>"$WORK/streamd.err" & SD_PID=$!
    for _ in $(seq 100); do https_curl "$HTTPS/healthz" >/dev/null && return; sleep 0.1; done
  else
    STREAMD_LOG=warn "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$SD_PORT 2>>"$WORK/streamd.err" & SD_PID=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SD_PORT/healthz" >/dev/null && return; sleep 0.1; done
  fi
  echo "streamd did not start"; cat "$WORK/streamd.err"; exit 1
}
stop_streamd() { kill "$SD_PID"; wait "$SD_PID" 2>/dev/null || true; SD_PID=; }
start_streamd
curl -sf -c "$WORK/jar" -H 'content-type: application/json' -d '{"username":"bench","password":"benchpassword"}' "http://127.0.0.1:$SD_PORT/api/v1/login" >/dev/null
VARIANT=$(curl -sf -b "$WORK/jar" "http://127.0.0.1:$SD_PORT/stream/$ID" | grep '^/stream/' | sort -t/ -k4 -V | tail -1)
RUNG=$(echo "$VARIANT" | sed 's|.*/\([^/.]*\)\.m3u8.*|\1|')
# URL SIZE per segment, for streamd (presigned) and nginx (the same files, plain).
curl -sf "http://127.0.0.1:$SD_PORT$VARIANT" | grep '^http' | while read -r url; do
  key=${url#*/s3/media/}; key=${key%%\?*}
  echo "$url $(stat -c %s "$D/objects/media/$key")"
done > "$WORK/streamd.urls"
sed "s|http://127.0.0.1:$SD_PORT/s3/media/\([^?]*\)?[^ ]*|http://127.0.0.1:$NG_PORT/\1|" "$WORK/streamd.urls" > "$WORK/nginx.urls"
if [ "$TLS" = 1 ]; then
  # The same rung from the https origin: presigned URLs name $HTTPS (public_url); signed in over
  # https (the session cookie is Secure; plain HTTP would be a 308).
  stop_streamd; start_streamd tls
  https_curl -c "$WORK/jar-https" -H 'content-type: application/json' -d '{"username":"bench","password":"benchpassword"}' "$HTTPS/api/v1/login" >/dev/null
  VARIANT_HTTPS=$(https_curl -b "$WORK/jar-https" "$HTTPS/stream/$ID" | grep '^/stream/' | sort -t/ -k4 -V | tail -1)
  https_curl "$HTTPS$VARIANT_HTTPS" | grep '^https://' | while read -r url; do
    key=${url#*/s3/media/}; key=${key%%\?*}
    echo "$url $(stat -c %s "$D/objects/media/$key")"
  done > "$WORK/streamd-https.urls"
  stop_streamd
  sed "s|$HTTPS/s3/media/\([^?]*\)?[^ ]*|https://localhost:$NG_PORT/\1|" "$WORK/streamd-https.urls" > "$WORK/nginx.urls"
  [ "$(wc -l < "$WORK/streamd-https.urls")" -eq "$(wc -l < "$WORK/streamd.urls")" ] || { echo "the https playlist differs"; exit 1; }
  export PACED_CA=$CA
fi
SEGMENTS=$(wc -l < "$WORK/streamd.urls")
[ "$SEGMENTS" -gt 0 ] || { echo "no segments in $VARIANT"; exit 1; }
MEAN=$(awk '{s+=$2} END {printf "%d", s/NR}' "$WORK/streamd.urls")

cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
worker_rlimit_nofile 65536;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on; tcp_nopush on;
  keepalive_timeout 60s; keepalive_requests 100000;
  types { video/iso.segment m4s; video/mp4 mp4; }
  server {
    listen 127.0.0.1:$NG_PORT backlog=4096;
    root $D/objects/media;
  }
}
CONF
if [ "$TLS" = 1 ]; then
  # ssl_session_cache left at its default (none); the viewers never resume anyway. No kTLS
  # (that takes ssl_conf_command Options KTLS), so sendfile is not used under TLS.
  sed -i "s|listen 127.0.0.1:$NG_PORT backlog=4096;|listen 127.0.0.1:$NG_PORT ssl backlog=4096;\\
    ssl_certificate $WORK/tls/leaf.pem; ssl_certificate_key $WORK/tls/leaf.key;\\
    ssl_protocols TLSv1.3 TLSv1.2;|" "$WORK/nginx.conf"
fi

cpu_ticks() { for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{s+=$1} END {print s+0}'; }
hwm_kb() { for p in "$@"; do awk '/VmHWM/ {print $2}' "/proc/$p/status"; done | awk '{s+=$1} END {print s+0}'; }
TICK=$(getconf CLK_TCK)
# One measured run: prints "completed errors bytes p50 p99 cpu_s_per_gb rss_mb".
run() { # NAME URLFILE PIDS...
  local name=$1 urls=$2; shift 2
  local before after out
  before=$(cpu_ticks "$@")
  # Peak RSS (VmHWM) counts mapped file pages too (streamd's ordinary path maps each object),
  # so the peak of anonymous memory alone (RssAnon, sampled every 200 ms) is reported beside it.
  local pids="$*"
  rm -f "$WORK/$name.anon"
  ( peak=0; while :; do
      v=$(for p in $pids; do awk '/RssAnon/ {print $2}' "/proc/$p/status" 2>/dev/null; done | awk '{s+=$1} END {print s+0}')
      [ "$v" -gt "$peak" ] && peak=$v && echo "$peak" > "$WORK/$name.anon"
      sleep 0.2
    done ) & local sampler=$!
  out=$("$LOAD" "$urls" "$VIEWERS" "$DURATION" "$BITRATE" "$READ_RATE")
  after=$(cpu_ticks "$@")
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  echo "PEAK RssAnon $name: $(awk '{printf "%.1f", $1/1024}' "$WORK/$name.anon" 2>/dev/null) MB" >&2
  echo "$out" > "$WORK/$name.json"
  echo "$out" | sed -n 's/.*"completed":\([0-9]*\),"errors":\([0-9]*\),"bytes":\([0-9]*\),"ttfb_p50_ms":\([0-9.]*\),"ttfb_p99_ms":\([0-9.]*\).*/\1 \2 \3 \4 \5/p' |
    awk -v t="$(( after - before ))" -v hz="$TICK" -v rss="$(hwm_kb "$@")" \
      '{cpu=t/hz; gb=$3/1e9; printf "%s %s %s %s %s %.3f %.1f\n", $1, $2, $3, $4, $5, (gb>0?cpu/gb:0), rss/1024}'
}

echo "$VIEWERS viewers x ${DURATION}s at $BITRATE b/s of $RUNG ($SEGMENTS segments, mean $MEAN bytes, one every $(awk -v m="$MEAN" -v b="$BITRATE" 'BEGIN{printf "%.2f", m*8/b}') s), read rate ${READ_RATE:-0} B/s; $(nproc) cores, $PROFILE build"
errors=0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }
if [ "$TLS" = 1 ]; then
  show() { # LABEL ROUND done err bytes p50 p99 cpu rss
    printf 'round %s %-14s %7s segments %4s errors %8.1f MB  TTFB p50 %7s ms p99 %8s ms  CPU %6s s/GB  RSS %6s MB\n' \
      "$2" "$1:" "$3" "$4" "$(awk -v b="$5" 'BEGIN{print b/1e6}')" "$6" "$7" "$8" "$9"
  }
  for round in $(seq "$ROUNDS"); do
    # Three phases, each on a fresh process (peak RSS is the phase's): streamd over HTTPS, nginx
    # over HTTPS on the same certificate, streamd over plain HTTP (started without [tls]).
    start_streamd tls
    read -r h_done h_err h_bytes h_p50 h_p99 h_cpu h_rss <<<"$(run streamd-https "$WORK/streamd-https.urls" "$SD_PID")"
    stop_streamd
    "$NGINX" -c "$WORK/nginx.conf" -p "$WORK"
    sleep 0.5
    NG_WORKERS=$(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')
    # shellcheck disable=SC2086
    read -r n_done n_err n_bytes n_p50 n_p99 n_cpu n_rss <<<"$(run nginx-https "$WORK/nginx.urls" $NG_WORKERS)"
    kill "$(cat "$WORK/nginx.pid")"; sleep 0.5
    start_streamd
    read -r p_done p_err p_bytes p_p50 p_p99 p_cpu p_rss <<<"$(run streamd-plain "$WORK/streamd.urls" "$SD_PID")"
    stop_streamd
    if [ "$round" = 1 ]; then
      for name in streamd-https nginx-https; do
        echo "$name TLS: $(sed -n 's/.*"tls":"\([^"]*\)".*/\1/p' "$WORK/$name.json")"
      done
    fi
    show "streamd https" "$round" "$h_done" "$h_err" "$h_bytes" "$h_p50" "$h_p99" "$h_cpu" "$h_rss"
    show "nginx https" "$round" "$n_done" "$n_err" "$n_bytes" "$n_p50" "$n_p99" "$n_cpu" "$n_rss"
    show "streamd plain" "$round" "$p_done" "$p_err" "$p_bytes" "$p_p50" "$p_p99" "$p_cpu" "$p_rss"
    echo "RATIO round $round streamd-https/nginx-https: CPU per GB $(ratio "$h_cpu" "$n_cpu")  RSS $(ratio "$h_rss" "$n_rss")  TTFB p50 $(ratio "$h_p50" "$n_p50")  p99 $(ratio "$h_p99" "$n_p99")  segments $(ratio "$h_done" "$n_done")"
    echo "RATIO round $round streamd-https/streamd-plain: CPU per GB $(ratio "$h_cpu" "$p_cpu")  RSS $(ratio "$h_rss" "$p_rss")  TTFB p50 $(ratio "$h_p50" "$p_p50")  p99 $(ratio "$h_p99" "$p_p99")  segments $(ratio "$h_done" "$p_done")"
    errors=$(( errors + h_err + p_err ))
  done
  if [ "$errors" -gt 0 ]; then echo "FAILED: $errors streamd requests failed; streamd's stderr:"; tail -n 40 "$WORK/streamd.err"; exit 1; fi
  echo "0 errors"
  exit 0
fi
for round in $(seq "$ROUNDS"); do
  # A fresh streamd and nginx per round, so peak RSS is this round's.
  if [ "$round" -gt 1 ]; then kill "$SD_PID"; wait "$SD_PID" 2>/dev/null || true; start_streamd; fi
  "$NGINX" -c "$WORK/nginx.conf" -p "$WORK"
  sleep 0.5
  NG_WORKERS=$(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')
  read -r s_done s_err s_bytes s_p50 s_p99 s_cpu s_rss <<<"$(run streamd "$WORK/streamd.urls" "$SD_PID")"
  # shellcheck disable=SC2086
  read -r n_done n_err n_bytes n_p50 n_p99 n_cpu n_rss <<<"$(run nginx "$WORK/nginx.urls" $NG_WORKERS)"
  kill "$(cat "$WORK/nginx.pid")"; sleep 0.5
  printf 'round %s streamd: %7s segments %4s errors %8.1f MB  TTFB p50 %7s ms p99 %8s ms  CPU %6s s/GB  RSS %6s MB\n' \
    "$round" "$s_done" "$s_err" "$(awk -v b="$s_bytes" 'BEGIN{print b/1e6}')" "$s_p50" "$s_p99" "$s_cpu" "$s_rss"
  printf 'round %s nginx:   %7s segments %4s errors %8.1f MB  TTFB p50 %7s ms p99 %8s ms  CPU %6s s/GB  RSS %6s MB\n' \
    "$round" "$n_done" "$n_err" "$(awk -v b="$n_bytes" 'BEGIN{print b/1e6}')" "$n_p50" "$n_p99" "$n_cpu" "$n_rss"
  echo "RATIO round $round streamd/nginx: CPU per GB $(ratio "$s_cpu" "$n_cpu")  TTFB p50 $(ratio "$s_p50" "$n_p50")  p99 $(ratio "$s_p99" "$n_p99")  segments $(ratio "$s_done" "$n_done")"
  errors=$(( errors + s_err ))
done
if [ "$errors" -gt 0 ]; then echo "FAILED: $errors streamd requests failed"; exit 1; fi
echo "0 errors"
