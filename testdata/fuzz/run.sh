#!/usr/bin/env bash
# Fuzzes each target for SECONDS (default 30) with libFuzzer, seeded with every fixture in
# testdata/fixtures and the dictionary of capture magic numbers and block types.
#
#   bash testdata/fuzz/run.sh [SECONDS]          # all targets
#   FUZZ_TARGETS=readers bash testdata/fuzz/run.sh 3600   # a long run of one
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). A crash stops
# the run with a non-zero exit and leaves the input in testdata/fuzz/artifacts/TARGET/: make it a
# regression fixture (testdata/gen_fixtures.py or a test in src/tests/hostile_input.rs).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
for t in ${FUZZ_TARGETS:-analyze readers decode renderers}; do
  mkdir -p "testdata/fuzz/corpus/$t"
  echo "fuzz: $t for ${secs}s"
  cargo +nightly fuzz run --fuzz-dir testdata/fuzz "$t" \
    "testdata/fuzz/corpus/$t" testdata/fixtures -- \
    -max_total_time="$secs" -dict=testdata/fuzz/pcap.dict -max_len=262144 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written|fuzz:)' || true
  # grep hides libFuzzer's progress lines; the pipeline's status is the fuzzer's.
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $t found a crash (see testdata/fuzz/artifacts/$t/)" >&2; exit 1; }
done
