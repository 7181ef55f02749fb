#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's. Installs what cargo does not
# (ffmpeg, chromium and playwright-core for the browser tests, boto3 and the s3s-fs S3 server for
# the interop tests, nginx as the CDN of the CDN test, rustfmt/clippy), then checks formatting
# and lints and runs every test.
# Usage: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || apt_missing+=(ffmpeg)
command -v python3 >/dev/null 2>&1 || apt_missing+=(python3 python3-pip)
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
command -v npm >/dev/null 2>&1 || apt_missing+=(nodejs npm)
# nginx stands in for a CDN (proxy_cache) in tests/cdn.rs.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_missing+=(nginx)
# pebble is Let's Encrypt's test ACME server, the CA of tests/tls.rs.
command -v pebble >/dev/null 2>&1 || apt_missing+=(pebble)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "== installing ${apt_missing[*]} (Debian packages)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi
if ! python3 -c "import boto3" >/dev/null 2>&1; then
  echo "== installing boto3 (PyPI), to check URLs a stock S3 SDK presigns"
  python3 -m pip install -q boto3 2>/dev/null || python3 -m pip install -q --break-system-packages boto3
fi
# A real S3 server that verifies SigV4 presigned URLs (0.14.1: later versions need a newer rustc).
if ! command -v s3s-fs >/dev/null 2>&1; then
  echo "== installing s3s-fs 0.14.1 (crates.io), the S3 peer of the backend tests"
  cargo install --quiet s3s-fs@0.14.1 --features binary
fi
export PATH="$HOME/.cargo/bin:$PATH"
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

# ---- The steps. Each runs whatever happened to the one before (one failure never hides
# another), and the log ends with every step's result and time.
step_names=("install what is missing"); step_results=(ok); step_secs=("$SECONDS")
step() {
  local name="$1"; shift
  echo "== $name"
  local began=$SECONDS rc=0
  "$@" || rc=$?
  step_names+=("$name"); step_secs+=($((SECONDS - began)))
  if [ "$rc" = 0 ]; then step_results+=(ok); else step_results+=("FAILED (exit $rc)"); fi
}

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --all-targets --locked -- -D warnings
# The peers above are required here: a test that cannot find one fails instead of skipping.
# --no-fail-fast: a failing test binary does not stop the ones after it.
step "cargo test" env STREAMD_REQUIRE_PEERS=1 cargo test --locked --no-fail-fast

# benches/paced.sh: 100 viewers for 10 s against streamd and nginx; fails on any error. The
# figures need a release build and minutes (BENCHMARKS.md); here only "no request fails".
step "paced viewers, briefly" env PACED_PROFILE=debug PACED_SOURCE_S=12 bash benches/paced.sh 100 10

# Debian chromium + playwright-core (pinned in tests/e2e/package.json; it never downloads a
# browser), driving the real pages of a debug build.
browser_tests() {
  (cd tests/e2e && npm install --silent --no-audit --no-fund) &&
    cargo build --locked --quiet &&
    (cd tests/e2e && STREAMD_BIN="$PWD/../../target/debug/streamd" node --test --test-concurrency=1 .)
}
step "browser tests (tests/e2e)" browser_tests

# benches/quality.sh on one 1 s clip: sizes, SSIM and PSNR of the fixed and per-title ladders
# and the HEVC/AV1 rows; fails unless every figure is produced. The figures of BENCHMARKS.md
# need the whole corpus and minutes. No time or ratio is asserted.
step "quality corpus, briefly" env STREAMD_BIN=target/debug/streamd QUALITY_CHECK=1 bash benches/quality.sh 1 1920x1080 flat

# ---- Fuzzing (issue 10): every cargo-fuzz target in fuzz/ for 25 s, on the committed seeds
# (fuzz/seeds) plus what earlier runs found (fuzz/corpus, not committed). Built without ASan
# (--sanitizer none, 16 codegen units) and with the fuzz crate's dev profile at opt-level 1
# (FUZZ_QUICK): 4.4 min cold on 2 cores instead of 5.7 for release, at about release's
# executions per second; panics, failed properties, overflows, hangs and OOMs all still count,
# and the fuzzed paths hold no unsafe code of ours. Any crash fails the suite; its input is left
# in fuzz/artifacts/<target>/. The long run (10 minutes per target, release, with ASan):
# bash fuzz/run.sh
fuzzing() {
  { rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal; } &&
    FUZZ_SANITIZER=none FUZZ_QUICK=1 bash fuzz/run.sh 25
}
step "fuzzing (cargo fuzz, 25 s per target)" fuzzing

echo
echo "== summary (seconds per step)"
passed=0; failed=0
for i in "${!step_names[@]}"; do
  printf '%6s s  %-40s %s\n' "${step_secs[$i]}" "${step_names[$i]}" "${step_results[$i]}"
  if [ "${step_results[$i]}" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
printf '%6s s  total\n' "$SECONDS"
echo "steps: $passed passed, $failed failed"
[ "$failed" = 0 ]
