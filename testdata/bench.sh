#!/usr/bin/env bash
# Benchmark: packets/s of `offload-doctor analyze` on a large synthetic capture, with tcptrace's
# (and, with --tshark, tshark's) figure measured in the same run on the same file.
#
#   bash testdata/bench.sh [FRAMES] [--tshark]
#
# Not a test: numbers depend on the machine. Quote ratios, not absolutes.
set -euo pipefail
cd "$(dirname "$0")/.."
frames=${1:-1000000}
cap=${TMPDIR:-/tmp}/offload-doctor-bench-$frames.pcap
[ -f "$cap" ] || python3 testdata/gen_bench.py "$cap" "$frames"
cargo build --release --quiet
bin=target/release/offload-doctor
size=$(stat -c %s "$cap")
cat "$cap" > /dev/null  # warm the page cache for every contender

best() { # best wall time of 3 runs, in seconds
  local b=999999
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; e=$(date +%s.%N)
    b=$(echo "$e - $s" | bc -l | awk -v b="$b" '{print ($1 < b) ? $1 : b}')
  done
  echo "$b"
}

printf 'capture: %s (%d frames, %.0f MB)\n' "$cap" "$frames" "$(echo "$size/1000000" | bc -l)"
od=$(best "$bin" analyze --format json "$cap")
printf '%-28s %8.3f s  %10.0f packets/s\n' "offload-doctor analyze" "$od" "$(echo "$frames/$od" | bc -l)"
if command -v tcptrace > /dev/null; then
  tt=$(best tcptrace -n "$cap")
  printf '%-28s %8.3f s  %10.0f packets/s  (offload-doctor is %.1fx faster; tcptrace skips the VXLAN third)\n' \
    "tcptrace -n" "$tt" "$(echo "$frames/$tt" | bc -l)" "$(echo "$tt/$od" | bc -l)"
else
  echo "tcptrace not installed (apt-get install tcptrace) - no comparison"
fi
if [ "${2:-}" = "--tshark" ] && command -v tshark > /dev/null; then
  s=$(date +%s.%N); tshark -n -q -z conv,tcp -r "$cap" > /dev/null 2>&1; e=$(date +%s.%N)
  ts=$(echo "$e - $s" | bc -l)
  printf '%-28s %8.3f s  %10.0f packets/s  (offload-doctor is %.1fx faster)\n' \
    "tshark -q -z conv,tcp" "$ts" "$(echo "$frames/$ts" | bc -l)" "$(echo "$ts/$od" | bc -l)"
fi

# Heap allocations must not grow with the number of packets (same traffic, 10x the frames): they
# grow with flows, and per flow only while its bounded buffers (RTT samples, series bins, trace
# summary) double on the way to their caps, a few times per flow in all.
if command -v valgrind > /dev/null; then
  for n in 10000 100000; do
    small=${TMPDIR:-/tmp}/offload-doctor-bench-$n.pcap
    [ -f "$small" ] || python3 testdata/gen_bench.py "$small" "$n"
    allocs=$(valgrind --tool=dhat --dhat-out-file=/dev/null "$bin" analyze --format json "$small" 2>&1 >/dev/null \
      | sed -n 's/.*Total:.* in \([0-9,]*\) blocks.*/\1/p')
    printf '%-28s %8s frames  %s heap allocations\n' "allocations" "$n" "$allocs"
  done
fi

# Graphs of one large flow: one plain TCP flow of a million data segments (1.5 million frames, with
# a retransmission every 100,000 frames). tcptrace -S (its time-sequence graphs as xplot files) is
# the closest baseline: it writes the plot files but draws nothing.
plot_cap=${TMPDIR:-/tmp}/offload-doctor-bench-plot-1500000.pcap
[ -f "$plot_cap" ] || python3 testdata/gen_bench.py "$plot_cap" 1500000 1
cat "$plot_cap" > /dev/null
out=$(mktemp -d)
pa=$(best "$bin" analyze --format json "$plot_cap")
pp=$(best "$bin" plot --flow 1 --out "$out" "$plot_cap")
ps=$(best "$bin" plot --flow 1 --kind time-sequence --format svg --out "$out" "$plot_cap")
printf '%-40s %8.3f s\n' "analyze (the pass alone)" "$pa"
printf '%-40s %8.3f s  (%s)\n' "plot --flow 1 (6 PNG graphs)" "$pp" "$(du -ch "$out"/*.png | tail -1 | cut -f1)"
printf '%-40s %8.3f s  (%s)\n' "plot --flow 1 time-sequence SVG" "$ps" "$(du -h "$out"/*.svg | cut -f1)"
if command -v tcptrace > /dev/null; then
  abs=$(realpath "$plot_cap")
  pt=$(cd "$out" && best tcptrace -n -S "$abs")
  printf '%-40s %8.3f s  (xplot files, not pictures; 6 PNG graphs take %.2fx its time)\n' \
    "tcptrace -n -S" "$pt" "$(echo "$pp/$pt" | bc -l)"
fi
rm -rf "$out"
