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
  # grep hides libFuzzer's progress lines; the status that counts is the fuzzer's.
  set +e
  cargo +nightly fuzz run --fuzz-dir testdata/fuzz "$t" \
    "testdata/fuzz/corpus/$t" testdata/fixtures -- \
    -max_total_time="$secs" -dict=testdata/fuzz/pcap.dict -max_len=262144 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 \
    | grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|Test unit written|thread .* panicked|error)'
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t failed (exit $status; a crash input is in testdata/fuzz/artifacts/$t/)" >&2
    exit 1
  fi
done
