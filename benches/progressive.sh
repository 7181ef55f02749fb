#!/usr/bin/env bash
# Watch while it transcodes, measured (release build, 127.0.0.1 only, bounded):
#   1. time from `ingest` to the first 200 on /stream/{id} for a 10-minute and a 60-minute
#      source (goal: < 15 s, independent of length);
#   2. work lost by a kill -9 at 50%: wall time to finish after the restart / (the whole
#      uninterrupted ingest x 0.5) (goal <= 1.1);
#   3. total ingest time with progressive publishing / without (transcode.progressive = false),
#      interleaved rounds (goal <= 1.03).
# Usage: bash benches/progressive.sh [ROUNDS=2] [LOST_SECONDS=120]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}; LOST_SECS=${2:-120}
cargo build --release --quiet
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d); trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$WORK"' EXIT
PW='bench password 123'

source_of() { # seconds name
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$1" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$1" \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$WORK/$2.mp4"
}
now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

SERVER_PID=
start_server() { # data dir
  rm -f "$1/server.json"
  "$BIN" --data-dir "$1" serve --listen 127.0.0.1:0 2>>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    [ -f "$1/server.json" ] && URL=http://$(json "d['listen']" < "$1/server.json") &&
      curl -sf "$URL/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start" >&2; exit 1
}
login() { # data dir
  curl -sf -c "$1/jar" -H 'content-type: application/json' \
    -d "{\"username\":\"bench\",\"password\":\"$PW\"}" "$URL/api/v1/login" >/dev/null
}
movie() { curl -sf -b "$1/jar" "$URL/api/v1/movies/$2"; }
queue() { # data dir, source
  "$BIN" --data-dir "$1" ingest "$2" --title bench --no-wait --json | json "d['id']"
}
fresh_dir() {
  local d; d=$(mktemp -d -p "$WORK")
  echo "$PW" | "$BIN" --data-dir "$d" user add bench --admin --password-stdin >/dev/null
  echo "$d"
}

echo "== 1. time to playable"
for mins in 10 60; do
  source_of $((mins * 60)) "src$mins"
  d=$(fresh_dir); start_server "$d"; login "$d"
  t0=$(now); id=$(queue "$d" "$WORK/src$mins.mp4")
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$d/jar" "$URL/stream/$id")" = 200 ]; do sleep 0.2; done
  echo "FIGURE ${mins}-minute source: $(echo "$(now) - $t0" | bc) s from ingest to the first 200 on /stream"
  curl -sf -X DELETE -b "$d/jar" "$URL/api/v1/movies/$id" >/dev/null || true
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
done

echo "== 2. work lost to kill -9 at 50% (${LOST_SECS}s source)"
source_of "$LOST_SECS" lost
d=$(fresh_dir); t0=$(now)
"$BIN" --data-dir "$d" ingest "$WORK/lost.mp4" --title whole --json >/dev/null
full=$(echo "$(now) - $t0" | bc)
d=$(fresh_dir); start_server "$d"; login "$d"; id=$(queue "$d" "$WORK/lost.mp4")
until [ "$(movie "$d" "$id" | json "int((d.get('progress') or {}).get('percent', 0))")" -ge 50 ]; do sleep 0.2; done
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
t1=$(now); start_server "$d"; login "$d"
until [ "$(movie "$d" "$id" | json "d['status']")" = ready ]; do sleep 0.2; done
rest=$(echo "$(now) - $t1" | bc)
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
echo "whole ingest ${full}s, finishing after the kill ${rest}s"
echo "RATIO work lost (finish after restart / (whole x 0.5)): $(echo "scale=3; $rest / ($full * 0.5)" | bc)"

echo "== 3. progressive publishing / publishing at the end (${LOST_SECS}s source, $ROUNDS rounds)"
declare -A total=([true]=0 [false]=0)
for r in $(seq 1 "$ROUNDS"); do
  for p in true false; do
    d=$(fresh_dir); t0=$(now)
    STREAMD_TRANSCODE_PROGRESSIVE=$p "$BIN" --data-dir "$d" ingest "$WORK/lost.mp4" --title p --json >/dev/null
    t=$(echo "$(now) - $t0" | bc); total[$p]=$(echo "${total[$p]} + $t" | bc)
    echo "round $r: progressive=$p ${t}s"
  done
done
echo "RATIO ingest time progressive/at the end: $(echo "scale=3; ${total[true]} / ${total[false]}" | bc)"
