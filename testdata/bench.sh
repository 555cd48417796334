#!/usr/bin/env bash
# Benchmark: `offload-doctor analyze --format json` against tcptrace and tshark on the mixed
# capture of testdata/gen_bench.py (64 interleaved bulk TCP flows, a third in VXLAN, an ACK every
# second segment, 0.1% retransmissions) at 500,000 and 2,000,000 frames; then heap allocations
# (DHAT) and the graphs of one large flow.
#
#   bash testdata/bench.sh [--no-tshark] [--quick]
#
# Every contender runs RUNS times (default 5), alternating with the others in the same run, on a
# warm page cache; the table gives each one's median wall time, its peak RSS (/usr/bin/time %M)
# and offload-doctor's time as a ratio of its own (0.33 = offload-doctor takes a third of its
# time). `cat FILE > /dev/null` is the floor: reading the bytes and nothing else. `1 thread` is
# offload-doctor with OFFLOAD_DOCTOR_THREADS=1. --quick: the 500k capture only, 3 runs.
# BEFORE=/path/to/offload-doctor adds an older build to the same alternating runs (before/after
# ratios from one run: build it with `git worktree add /tmp/old REV && cargo build --release`).
# Not a test: numbers depend on the machine, so quote ratios measured in one run, never
# absolutes from different runs.
set -euo pipefail
cd "$(dirname "$0")/.."
tshark=1 sizes="500000 2000000" runs=${RUNS:-5} quick=0
for a in "$@"; do
  case $a in
    --no-tshark) tshark=0 ;;
    --quick) sizes=500000 runs=${RUNS:-3} quick=1 ;;
    *) echo "usage: bash testdata/bench.sh [--no-tshark] [--quick]" >&2; exit 2 ;;
  esac
done
command -v /usr/bin/time > /dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/offload-doctor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run_once NAME CMD...: appends "seconds peak_kB" to $tmp/NAME.
run_once() {
  local name=$1 s e
  shift
  s=$(date +%s%N)
  /usr/bin/time -f %M -o "$tmp/rss" "$@" > /dev/null 2>&1 || true
  e=$(date +%s%N)
  echo "$(( (e - s) / 1000 )) $(tail -1 "$tmp/rss")" >> "$tmp/$name"
}

# median NAME COLUMN: the median of a column of $tmp/NAME.
median() { cut -d' ' -f"$2" "$tmp/$1" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for frames in $sizes; do
  cap=${TMPDIR:-/tmp}/offload-doctor-bench-mixed-$frames.pcap
  [ -f "$cap" ] || python3 testdata/gen_bench.py "$cap" "$frames"
  names=(offload-doctor "1 thread" "tcptrace -n" "cat (floor)")
  cmds=("$bin analyze --format json $cap" "env OFFLOAD_DOCTOR_THREADS=1 $bin analyze --format json $cap"
        "tcptrace -n $cap" "cat $cap")
  if [ -n "${BEFORE:-}" ]; then
    names+=("before (\$BEFORE)")
    cmds+=("$BEFORE analyze --format json $cap")
  fi
  if [ "$tshark" = 1 ] && command -v tshark > /dev/null; then
    names+=("tshark -q -z conv,tcp")
    cmds+=("tshark -n -q -z conv,tcp -r $cap")
  fi
  rm -f "$tmp"/c*
  for _ in $(seq "$runs"); do
    for i in "${!cmds[@]}"; do
      # Warm the page cache before every run, not once: tshark's 0.4-1.2 GB of memory pushes
      # part of the capture out of a small page cache, and the contender after it would read
      # from disk.
      cat "$cap" > /dev/null
      # shellcheck disable=SC2086 # the commands are words, the paths have no spaces
      run_once "c$i" ${cmds[$i]}
    done
  done
  od=$(median c0 1)
  printf '\n%s: %d frames, %.0f MB, median of %d alternating runs\n' "$cap" "$frames" \
    "$(echo "$(stat -c %s "$cap")/1000000" | bc -l)" "$runs"
  printf '%-24s %9s %12s %10s %s\n' tool "time (s)" "packets/s" "peak RSS" "offload-doctor's time / its time"
  for i in "${!cmds[@]}"; do
    t=$(median "c$i" 1)
    printf '%-24s %9.3f %12.0f %7.1f MB %8.2f\n' "${names[$i]}" "$(echo "$t/1000000" | bc -l)" \
      "$(echo "$frames*1000000/$t" | bc -l)" "$(echo "$(median "c$i" 2)/1024" | bc -l)" \
      "$(echo "$od/$t" | bc -l)"
  done
done

best() { # best wall time of 3 runs, in seconds (the graph section below)
  local b=999999
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; e=$(date +%s.%N)
    b=$(echo "$e - $s" | bc -l | awk -v b="$b" '{print ($1 < b) ? $1 : b}')
  done
  echo "$b"
}

[ "$quick" = 1 ] && exit 0

# Heap allocations must not grow with the number of packets (same traffic, 10x the frames): they
# grow with flows, and per flow only while its bounded buffers (RTT samples, series bins, trace
# summary) double on the way to their caps, a few times per flow in all.
if command -v valgrind > /dev/null; then
  for n in 10000 100000; do
    small=${TMPDIR:-/tmp}/offload-doctor-bench-mixed-$n.pcap
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
