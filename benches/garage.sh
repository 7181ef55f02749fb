#!/usr/bin/env bash
# The S3 backend against Garage, a real distributed object store, on one node: the path a
# deployment takes when it outgrows one machine. Installs Garage from crates.io when missing
# (~7 min, 1.4 GB RAM), then:
#   1. shows Garage refuses a tampered presigned URL (so it proves something),
#   2. ingests a movie with storage.backend = "s3" (the ladder is uploaded to Garage),
#   3. decodes the whole movie with ffmpeg from streamd's playback link, every chunk from Garage,
#   4. measures chunk serving: wrk on a Garage presigned segment URL vs the same segment from
#      streamd's built-in store, same run, and reports the ratio.
# Loopback only. Usage: bash benches/garage.sh [DURATION=10s]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10s}
export PATH="$HOME/.cargo/bin:$PATH"
command -v garage >/dev/null || cargo install --quiet --locked garage
for tool in wrk ffmpeg curl openssl; do command -v $tool >/dev/null || { echo "needs $tool"; exit 1; }; done
cargo build --release --quiet
BIN=$PWD/target/release/streamd
WORK=$(mktemp -d)
cleanup() { for p in ${PIDS:-}; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
G_S3=13900; G_RPC=13901; G_ADMIN=13903; SD_PORT=18490; SD_LOCAL=18491

cat > "$WORK/garage.toml" <<CONF
metadata_dir = "$WORK/garage/meta"
data_dir = "$WORK/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$G_RPC"
rpc_public_addr = "127.0.0.1:$G_RPC"
rpc_secret = "$(openssl rand -hex 32)"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$G_S3"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$G_ADMIN"
CONF
G="garage -c $WORK/garage.toml"
$G server >"$WORK/garage.log" 2>&1 & PIDS="$!"
for _ in $(seq 100); do $G status >/dev/null 2>&1 && break; sleep 0.2; done
NODE=$($G node id -q 2>/dev/null | cut -d@ -f1)
$G layout assign -z dc1 -c 1G "$NODE" >/dev/null
$G layout apply --version 1 >/dev/null
KEY_OUT=$($G key create streamd-bench)
AK=$(echo "$KEY_OUT" | grep -i 'key id' | head -1 | awk '{print $NF}')
SK=$(echo "$KEY_OUT" | grep -i 'secret key' | head -1 | awk '{print $NF}')
$G bucket create media >/dev/null
$G bucket allow --read --write --owner media --key streamd-bench >/dev/null
echo "garage: node ${NODE:0:16}..., key $AK"

ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=20" \
  -f lavfi -i "sine=duration=20" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$WORK/src.mp4"
export STREAMD_STORAGE_BACKEND=s3 STREAMD_STORAGE_ENDPOINT="http://127.0.0.1:$G_S3" \
  STREAMD_STORAGE_REGION=garage STREAMD_STORAGE_ACCESS_KEY="$AK" STREAMD_STORAGE_SECRET_KEY="$SK"
D=$WORK/data
echo "benchpassword" | "$BIN" --data-dir "$D" user add bench --admin --password-stdin >/dev/null
ID=$(STREAMD_TRANSCODE_PRESET=veryfast "$BIN" --data-dir "$D" ingest "$WORK/src.mp4" --title garage --json | sed 's/.*"id":"\([^"]*\)".*/\1/')
echo "ingested $ID into Garage"
STREAMD_LOG=warn "$BIN" --data-dir "$D" serve --listen 127.0.0.1:$SD_PORT 2>/dev/null & PIDS="$PIDS $!"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SD_PORT/healthz" >/dev/null && break; sleep 0.2; done
curl -sf -c "$WORK/jar" -H 'content-type: application/json' -d '{"username":"bench","password":"benchpassword"}' "http://127.0.0.1:$SD_PORT/api/v1/login" >/dev/null
MASTER=$(curl -sf -b "$WORK/jar" "http://127.0.0.1:$SD_PORT/api/v1/movies/$ID/playback" | sed 's/.*"master_url":"\([^"]*\)".*/\1/')
VARIANT=$(curl -sf "$MASTER" | grep '^/stream/.*1080p')
SEG=$(curl -sf "http://127.0.0.1:$SD_PORT$VARIANT" | grep '^http' | sed -n 2p)
case "$SEG" in "http://127.0.0.1:$G_S3/media/movies/$ID/1080p/seg_00002.ts?"*) ;; *) echo "unexpected segment URL: $SEG"; exit 1;; esac
[ "$(curl -s -o /dev/null -w '%{http_code}' "$SEG")" = 200 ] || { echo "Garage refused our presigned URL"; exit 1; }
TAMPERED=$(echo "$SEG" | sed 's/seg_00002/seg_00003/')
code=$(curl -s -o /dev/null -w '%{http_code}' "$TAMPERED"); [ "$code" = 403 ] || { echo "Garage accepted a tampered URL ($code)"; exit 1; }
echo "Garage: presigned URL 200, tampered URL $code"
ffmpeg -nostdin -v error -xerror -i "$MASTER" -f null - && echo "ffmpeg decoded the whole movie from Garage"

# The same segment from streamd's own built-in store, for the serving ratio.
L=$WORK/local
mkdir -p "$L/objects/media/movies/$ID/1080p"
curl -sf "$SEG" -o "$L/objects/media/movies/$ID/1080p/seg_00002.ts"
echo "benchpassword" | env -u STREAMD_STORAGE_BACKEND "$BIN" --data-dir "$L" user add bench --password-stdin >/dev/null
env -u STREAMD_STORAGE_BACKEND -u STREAMD_STORAGE_ENDPOINT -u STREAMD_STORAGE_REGION -u STREAMD_STORAGE_ACCESS_KEY -u STREAMD_STORAGE_SECRET_KEY \
  STREAMD_LOG=warn "$BIN" --data-dir "$L" serve --listen 127.0.0.1:$SD_LOCAL 2>/dev/null & PIDS="$PIDS $!"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$SD_LOCAL/healthz" >/dev/null && break; sleep 0.2; done
read -r LAK LSK < "$L/secrets/storage.credentials"
LOCAL_SEG=$(python3 - "$LAK" "$LSK" "$SD_LOCAL" "$ID" <<'PY'
import sys, boto3
from botocore.config import Config
ak, sk, port, mid = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}/s3", aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
print(s3.generate_presigned_url("get_object", Params={"Bucket": "media", "Key": f"movies/{mid}/1080p/seg_00002.ts"}, ExpiresIn=3600))
PY
)
[ "$(curl -s -o /dev/null -w '%{http_code}' "$LOCAL_SEG")" = 200 ] || { echo "built-in store refused the boto3 URL"; exit 1; }
SIZE=$(stat -c %s "$L/objects/media/movies/$ID/1080p/seg_00002.ts")
rps() { wrk -t2 -c32 -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
g1=$(rps "$SEG"); s1=$(rps "$LOCAL_SEG"); g2=$(rps "$SEG"); s2=$(rps "$LOCAL_SEG")
g=$(printf '%s\n%s\n' "$g1" "$g2" | sort -n -r | head -1); s=$(printf '%s\n%s\n' "$s1" "$s2" | sort -n -r | head -1)
echo "segment $SIZE bytes, wrk -t2 -c32 -d$DURATION: Garage $g req/s, streamd built-in store $s req/s"
echo "RATIO garage/streamd-builtin req/s: $(awk -v a="$g" -v b="$s" 'BEGIN{printf "%.3f", a/b}')"
