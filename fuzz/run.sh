#!/usr/bin/env bash
# Coverage-guided fuzzing of streamd's parsers (cargo fuzz / libFuzzer): builds every target in
# fuzz/fuzz_targets, then runs each for SECONDS_PER_TARGET, one after the other, and prints per
# target the executions, exec/s, time, corpus size and whether it found a crash. Exits non-zero
# if any target crashed (a panic, a failed property, a hang over 10 s or an out-of-memory).
#
# Usage: bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default 600 s, every target)
#
# Environment:
#   FUZZ_SANITIZER  address (default, as `cargo fuzz run`) or none: none builds in ~3.7 min
#                   cold instead of ~4.6 (16 codegen units, its own target dir) and runs 4-5x
#                   more executions; it still catches every panic, failed property, overflow,
#                   hang and OOM, only not memory errors in unsafe code, of which the fuzzed
#                   paths have none in streamd (CI uses it: tests/run.sh).
#   FUZZ_QUICK      1: build with the fuzz crate's dev profile (opt-level 1, no debug info) instead
#                   of release: cold in 4.4 min instead of 5.7 (7.2 in one CI run) on 2 cores,
#                   at 0.75-1.2x release's executions per second on these targets (CI uses it,
#                   with sanitizer none).
#   CARGO_LOCK      a lock file to hold (flock) while cargo builds, on a machine where several
#                   people compile; the fuzzing itself never holds it.
#
# Inputs: the committed seeds in fuzz/seeds/<target>/ and what earlier runs found in
# fuzz/corpus/<target>/ (not committed, like fuzz/target/ and fuzz/artifacts/). A crash leaves
# its input in fuzz/artifacts/<target>/crash-* (replay: the target binary with that file).
set -uo pipefail
cd "$(dirname "$0")"

seconds=${1:-600}
shift || true
sanitizer=${FUZZ_SANITIZER:-address}
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
# Debug assertions and overflow checks on (-a): an overflow is a crash here, though the
# release server would wrap silently.
build_flags=(-a --sanitizer "$sanitizer")
target_dir=target
if [ "$sanitizer" = none ]; then
  target_dir=target/none
  build_flags+=(--codegen-units 16 --target-dir "$target_dir")
fi
profile=release
if [ "${FUZZ_QUICK:-0}" = 1 ]; then
  build_flags+=(--dev)
  profile=debug
fi
bin_dir=$target_dir/$triple/$profile

cargo_() {
  if [ -n "${CARGO_LOCK:-}" ]; then flock "$CARGO_LOCK" cargo "$@"; else cargo "$@"; fi
}

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(sed -n 's/^path = "fuzz_targets\/\(.*\)\.rs"$/\1/p' Cargo.toml)
fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (crates.io)"
  cargo_ install --locked cargo-fuzz || exit 1
fi

echo "== building the fuzz targets (nightly, sanitizer: $sanitizer)"
build_start=$(date +%s)
cargo_ +nightly fuzz build "${build_flags[@]}" || exit 1
echo "   built in $(($(date +%s) - build_start)) s"

libfuzzer_stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

failed=()
printf '\n%-16s %12s %9s %7s %7s %7s  %s\n' target executions exec/s time corpus cov result
rows=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log=artifacts/$t/run.log
  before=$(find "artifacts/$t" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' | wc -l)
  start=$(date +%s)
  "$bin_dir/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="artifacts/$t/" "corpus/$t" "seeds/$t" >"$log" 2>&1
  rc=$?
  elapsed=$(($(date +%s) - start))
  after=$(find "artifacts/$t" -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' | wc -l)
  execs=$(libfuzzer_stat number_of_executed_units "$log")
  rate=$(libfuzzer_stat average_exec_per_sec "$log")
  last=$(grep -aE '^#[0-9]+' "$log" | tail -1)
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  if [ "$rc" -eq 0 ] && [ "$after" -eq "$before" ]; then
    result="ok, no crash"
  else
    artifact=$(grep -a "Test unit written to" "$log" | sed -n 's/.*Test unit written to \(.*\)$/\1/p' | tail -1)
    result="CRASH (exit $rc) ${artifact:-see $log}"
    failed+=("$t")
  fi
  row=$(printf '%-16s %12s %9s %6ss %7s %7s  %s' "$t" "${execs:-?}" "${rate:-?}" "$elapsed" "${corp:-?}" "${cov:-?}" "$result")
  rows+=("$row")
  echo "$row"
done

if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo
    echo "== $t: fuzz/artifacts/$t/run.log"
    grep -a -E -A12 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|Test unit written|^Base64" "artifacts/$t/run.log" | head -40
  done
  echo
  echo "FAILED: ${failed[*]} (replay: fuzz/$bin_dir/<target> fuzz/artifacts/<target>/crash-...)"
  exit 1
fi
echo
echo "all ${#targets[@]} targets: no crash in $seconds s each"
