#!/usr/bin/env bash
# The kernel lab: two network namespaces joined by a veth pair, so that the running kernel's GRO
# (on the receiver's veth, NAPI mode) and TSO/GSO (on the sender) act on real traffic. Facts this
# builds on: ../shared/notes/kernel-lab.md. Needs root, iproute2, ethtool, tcpdump, iperf3,
# nftables, tcpreplay, chrt/taskset and pgrep (what .ci/run installs) and python3 (standard
# library for app.py, the UDP GSO sender and the GRO matrix's crafted segments; aioquic from PyPI
# for quic_app.py, the QUIC scenarios).
#
#   bash testdata/lab/lab.sh SCENARIO OUTDIR
#
# writes OUTDIR/send.pcap (on the sender's veth) and OUTDIR/recv.pcap (on the receiver's veth,
# after GRO), and in some scenarios send-any.pcap / recv-any.pcap (`tcpdump -i any`); the
# expected findings are in testdata/lab/SCENARIO.expect.json, checked by src/tests/lab.rs.
set -euo pipefail

SCENARIO=${1:?scenario}
OUT=${2:?output directory}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${LAB_PYTHON:-python3}
TAG=od$$
A=${TAG}a
B=${TAG}b
# The router between A and B in the peer-router-* scenarios (router): only those make it.
R=${TAG}r
mkdir -p "$OUT"

cleanup() {
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  ip netns del "$R" 2>/dev/null || true
}
trap cleanup EXIT

ina() { ip netns exec "$A" "$@"; }
inb() { ip netns exec "$B" "$@"; }
inr() { ip netns exec "$R" "$@"; }

# The link: va (10.77.0.1, sender) -- vb (10.77.0.2, receiver). $1: TSO/GSO "on"/"off" on both
# ends, $2: receiver GRO "on"/"off".
link() {
  ip netns add "$A"
  ip netns add "$B"
  # The MACs testdata/gen_fixtures.py's frames carry (the GRO matrix replays them).
  ip link add va netns "$A" address 02:00:00:00:00:01 type veth peer name vb netns "$B" \
    address 02:00:00:00:00:02
  ina ip addr add 10.77.0.1/24 dev va
  inb ip addr add 10.77.0.2/24 dev vb
  ina ip link set va up
  inb ip link set vb up
  ina ip link set lo up
  inb ip link set lo up
  ina ethtool -K va tso "$1" gso "$1" >/dev/null
  # The receiver's side too: a veth hands a GSO packet to its peer whole, so data the receiver
  # sends (the applications' servers) would arrive unsegmented and look coalesced.
  inb ethtool -K vb tso "$1" gso "$1" gro "$2" >/dev/null
}

# Two links through a router namespace R, so that what R drops or rewrites (an nftables forward
# chain, a NAT, a device that segments) lies BETWEEN the two captures (start_capture: va in A, vb
# in B), which `--peer` compares (path-loss):
#   A: va 10.77.0.1 -- ra 10.77.0.254 :R: rb 10.78.0.254 -- vb 10.78.0.2 :B
# $1: TSO/GSO "on"/"off" at A's va and B's vb (as link), $2: GRO "on"/"off" on B's vb. R's
# devices keep veth's defaults (the scenarios change what they need).
router() {
  local ns
  for ns in "$A" "$R" "$B"; do
    ip netns add "$ns"
    # No IPv6: its router solicitations and listener reports come at times of their own, and
    # the captures' first and last frames must be the marks (router_mark), nothing else.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
      net.ipv6.conf.all.disable_ipv6=1
  done
  ip link add va netns "$A" type veth peer name ra netns "$R"
  ip link add rb netns "$R" type veth peer name vb netns "$B"
  ina ip addr add 10.77.0.1/24 dev va
  inr ip addr add 10.77.0.254/24 dev ra
  inr ip addr add 10.78.0.254/24 dev rb
  inb ip addr add 10.78.0.2/24 dev vb
  ina ip link set va up
  inr ip link set ra up
  inr ip link set rb up
  inb ip link set vb up
  ina ip link set lo up
  inr ip link set lo up
  inb ip link set lo up
  ina ip route add default via 10.77.0.254
  inb ip route add default via 10.78.0.254
  inr sysctl -qw net.ipv4.ip_forward=1
  ina ethtool -K va tso "$1" gso "$1" >/dev/null
  inb ethtool -K vb tso "$1" gso "$1" gro "$2" >/dev/null
  ROUTED=1
}

# One ICMP echo request A -> B through R, which both captures hold (start_capture and
# stop_capture send one when routed): path-loss judges only packets due downstream more than
# 10 ms after the downstream capture's first frame and before its last (it cannot know when a
# capture started or stopped, so a packet near either edge may have been in flight). With the
# marks at least 0.3 s before the traffic and 0.2 s after it, every packet of the transfer is
# judged, and the loss path-loss counts can be held to R's counter exactly.
router_mark() {
  # An ICMP echo request (type 8, checksum of the 8-byte header) from a raw socket: the image
  # has no ping. Not TCP or UDP, so path-loss indexes none of it.
  ina "$PY" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(bytes.fromhex("0800f7ff00000000"), ("10.78.0.2", 0))'
  sleep 0.05
}

# An nftables forward chain in R with the rule $1 (its own table, inet lab, which stop_capture
# dumps to nft-router.txt with its counters): what it drops was seen by the sender's capture and
# never reaches the receiver's.
router_rule() {
  inr nft -f - <<NFT
table inet lab {
  chain forward {
    type filter hook forward priority 0;
    $1
  }
}
NFT
}

# A VXLAN overlay over the link: vx0 with 10.88.0.1 / 10.88.0.2, VNI 42, outer UDP 4789.
# The sender's vx0 has TSO/GSO $1 (default off, so that each outer packet is separate on va).
vxlan() {
  ina ip link add vx0 type vxlan id 42 dstport 4789 local 10.77.0.1 remote 10.77.0.2 dev va
  inb ip link add vx0 type vxlan id 42 dstport 4789 local 10.77.0.2 remote 10.77.0.1 dev vb
  ina ip addr add 10.88.0.1/24 dev vx0
  inb ip addr add 10.88.0.2/24 dev vx0
  ina ip link set vx0 up
  inb ip link set vx0 up
  ina ethtool -K vx0 tso "${1:-off}" gso "${1:-off}" >/dev/null
}

# Captures on both ends until stop_capture: send.pcap (on va), recv.pcap (on vb, after GRO).
start_capture() {
  CAPTURES=()
  ip netns exec "$A" tcpdump -i va -s 262144 -B 65536 --immediate-mode -U -w "$OUT/send.pcap" \
    2>"$OUT/tcpdump-send.log" &
  CAPTURES+=($!)
  ip netns exec "$B" tcpdump -i vb -s 262144 -B 65536 --immediate-mode -U -w "$OUT/recv.pcap" \
    2>"$OUT/tcpdump-recv.log" &
  CAPTURES+=($!)
  # With ANY=1, also `tcpdump -i any` on each side: Linux cooked captures whose header says
  # whether each packet was outgoing or incoming (what tells the capture point on a veth, where
  # the round trip is too short to tell it by timing). Only where needed: every capture costs
  # CPU, and a capture that falls behind drops packets.
  local want=2
  if [ "${ANY:-0}" = 1 ]; then
    want=4
    ip netns exec "$A" tcpdump -i any -s 262144 -B 65536 --immediate-mode -U \
      -w "$OUT/send-any.pcap" 2>"$OUT/tcpdump-send-any.log" &
    CAPTURES+=($!)
    ip netns exec "$B" tcpdump -i any -s 262144 -B 65536 --immediate-mode -U \
      -w "$OUT/recv-any.pcap" 2>"$OUT/tcpdump-recv-any.log" &
    CAPTURES+=($!)
  fi
  # tcpdump says "listening on" once its socket is bound.
  for _ in $(seq 100); do
    if [ "$(cat "$OUT"/tcpdump-*.log 2>/dev/null | grep -c listening)" = "$want" ]; then break; fi
    sleep 0.05
  done
  if [ "$(cat "$OUT"/tcpdump-*.log 2>/dev/null | grep -c listening)" != "$want" ]; then
    echo "tcpdump did not start" >&2
    exit 1
  fi
  if [ -n "${ROUTED:-}" ]; then router_mark; fi
}

stop_capture() {
  if [ -n "${ROUTED:-}" ]; then
    sleep 0.2
    router_mark
  fi
  # Let every tcpdump drain its ring: a signal ends it at once, and what is still queued is lost
  # ("received by filter" above "captured" in its log).
  sleep 1
  # SIGTERM, not SIGINT: a background job of a script ignores SIGINT. tcpdump flushes on both.
  kill -TERM "${CAPTURES[@]}" 2>/dev/null || true
  wait "${CAPTURES[@]}" 2>/dev/null || true
  # What the receiver's ingress loss rule dropped (lossy), for the lab test to hold counts to.
  inb nft list table netdev lab >"$OUT/nft-ingress.txt" 2>/dev/null || rm -f "$OUT/nft-ingress.txt"
  # What the router's forward rule dropped (router_rule), for path-loss to be held to.
  if [ -n "${ROUTED:-}" ]; then
    inr nft list table inet lab >"$OUT/nft-router.txt" 2>/dev/null || rm -f "$OUT/nft-router.txt"
  fi
}

# iperf3 for $1 bytes to $2 (the receiver's address) with extra client options.
iperf() {
  local bytes=$1 dst=$2
  shift 2
  inb iperf3 -s -1 -B "$dst" >/dev/null 2>&1 &
  local server=$!
  sleep 0.3
  # 200 Mbit/s: iperf3 still writes back-to-back bursts (one per millisecond), slowly enough for
  # the captures to keep up.
  ina timeout 30 iperf3 -c "$dst" -n "$bytes" -b 200M "$@" >/dev/null
  wait "$server" 2>/dev/null || true
}

# iperf3 over the VXLAN overlay with the nftables rule $1 in an egress chain on va: it sees every
# outer packet as it leaves (kernel-lab.md: the egress hook runs after the vxlan encapsulation).
vxlan_mangled() {
  ina nft -f - <<NFT
table netdev lab {
  chain egress {
    type filter hook egress device "va" priority 0;
    $1
  }
}
NFT
  start_capture
  iperf 4M 10.88.0.2
  stop_capture
}

# The GRO header matrix (gro_matrix.py): every case's crafted segments replayed on va in one
# burst, what the receiver's GRO made of them captured on vb. Deterministic per kernel-lab.md:
# GRO keeps flows across NAPI polls (gro_flush_timeout), and with threaded NAPI pinned to the
# sender's CPU, a burst is queued whole before one poll.
gro_matrix() {
  link off on
  vxlan
  inb sh -c 'echo 1000000 > /sys/class/net/vb/gro_flush_timeout; echo 1 > /sys/class/net/vb/threaded'
  local napi
  napi=$(pgrep '^napi/vb-' | head -n 1)
  [ -n "$napi" ] || { echo "no napi/vb thread" >&2; exit 1; }
  taskset -pc 0 "$napi" >/dev/null
  "$PY" "$HERE/gro_matrix.py" gen "$OUT"
  ip netns exec "$B" tcpdump -i vb -Q in -s 262144 -B 65536 --immediate-mode -U \
    -w "$OUT/recv.pcap" 2>"$OUT/tcpdump-recv.log" &
  CAPTURES=($!)
  for _ in $(seq 100); do
    grep -q listening "$OUT/tcpdump-recv.log" 2>/dev/null && break
    sleep 0.05
  done
  for f in "$OUT"/cases/*.pcap; do
    ina chrt -f 50 taskset -c 0 tcpreplay -q --topspeed -i va "$f" >/dev/null
    # Past the flush timeout: each case's train ends before the next case starts.
    sleep 0.01
  done
  stop_capture
  "$PY" "$HERE/gro_matrix.py" merged "$OUT/recv.pcap" "$OUT"
}

# Random loss of data segments arriving on vb: an nftables netdev ingress chain, which runs after
# the captures' taps (both captures still hold every dropped packet) and before TCP sees them.
# $1: the nftables expression that picks the dropped ones. Only frames over 1000 bytes: data,
# never a handshake or ACK.
lossy() {
  inb nft -f - <<NFT
table netdev lab {
  chain ingress {
    type filter hook ingress device "vb" priority 0;
    meta length > 1000 $1 counter drop
  }
}
NFT
}

# An HTTP/3 download of $1 bytes over aioquic (quic_app.py): the server in the sender's namespace
# (10.77.0.1:4433, extra options $2), the client in the receiver's; both write qlog files and a
# secrets log into OUTDIR.
quic_download() {
  start_capture
  ina "$PY" "$HERE/quic_app.py" server 10.77.0.1 4433 "$OUT" ${2:-} &
  local server=$!
  sleep 1
  inb timeout 40 "$PY" "$HERE/quic_app.py" client 10.77.0.1 4433 "$OUT" "$1" ${3:-}
  wait "$server"
  stop_capture
}

case "$SCENARIO" in
  quic-clean)
    link off on
    quic_download 1000000
    ;;
  quic-loss)
    # 5% of the server's full-size datagrams dropped on the client's ingress (after both
    # captures' taps): loss recovery that both qlogs and both captures see.
    link off on
    lossy 'udp sport 4433 numgen random mod 100 < 5'
    quic_download 1000000
    ;;
  quic-sender-drop)
    # The quic-go story: the server's own kernel drops 20% of its full-size datagrams (an
    # nftables output rule, before the capture's tap), so the server's qlog says they were
    # sent and no capture holds them.
    link off on
    ina nft -f - <<NFT
table inet lab {
  chain output {
    type filter hook output priority 0;
    udp sport 4433 meta length > 1000 numgen random mod 100 < 20 drop
  }
}
NFT
    quic_download 1000000
    ;;
  quic-blackout)
    # The quic-go story's silence: mid-transfer, the server's own kernel drops everything the
    # server sends for 1.5 s (an nftables output rule, before the capture's tap). Its probe
    # timer backs off and its probes never reach the wire: the sender's capture shows both
    # sides silent, while the server's qlog logs the probes as sent.
    link off on
    (
      # Mid-transfer, whatever the machine's speed: once the sender's capture holds 1 MB of
      # the 3 MB. A short download keeps the packets lost in the blackout (a congestion window
      # and a few probes, 100-260 on these machines) well above quic-qlog-mismatch's 2%: with
      # 10 MB they were 1.6-3% and the finding came and went between runs.
      for _ in $(seq 1500); do
        [ "$(stat -c %s "$OUT/send.pcap" 2>/dev/null || echo 0)" -gt 1000000 ] && break
        sleep 0.02
      done
      ina nft -f - <<NFT
table inet lab {
  chain output {
    type filter hook output priority 0;
    udp sport 4433 drop
  }
}
NFT
      sleep 1.5
      ina nft delete table inet lab
    ) &
    quic_download 3000000
    wait
    ;;
  quic-rebind)
    # The client moves to a new port halfway, keeping its connection IDs (a NAT rebinding):
    # one connection, two paths.
    link off on
    quic_download 1000000 "" --rebind
    ;;
  quic-concurrent)
    # 50 long-lived connections at once, each asking 20 times for 2 kB, 100 ms apart: the
    # HAProxy story's many trickling connections (quic-memory counts them).
    link off on
    quic_download 2000 "--connections 50" "--connections 50 --requests 20"
    ;;
  quic-closed-port)
    # A QUIC client (in the receiver's namespace) whose Initials go to a port where nothing
    # listens: the server host's kernel answers each with ICMP port unreachable, and the client
    # resends with growing PTO until it gives up (ended after 8 s).
    link off on
    start_capture
    inb timeout 8 "$PY" "$HERE/quic_app.py" client 10.77.0.1 4434 "$OUT" 1000 >/dev/null 2>&1 || true
    stop_capture
    ;;
  quic-gso)
    # The server sends runs of datagrams with UDP_SEGMENT, offloads on: the sender's capture
    # holds super-datagrams.
    link on on
    quic_download 1000000 --gso
    ;;
  quic-keys)
    # Another suite and new keys mid-connection: both endpoints offer only ChaCha20-Poly1305,
    # and the server updates its 1-RTT keys 50 ms into a 3 MB download (RFC 9001 §6; the
    # client follows).
    link off on
    quic_download 3000000 "--key-update --chacha" "--chacha"
    ;;
  quic-flow-control)
    # The io_uring story in QUIC: the client's application reads 300 kB/s and its stream
    # window opens only as it reads (32 kB past it), on a link far faster: the server is held
    # at the client's flow-control limit most of the download.
    link off on
    quic_download 600000 "" "--window 32768 --read-rate 300000"
    ;;
  quic-gso-loss)
    # The quic-go story's shape: the server sends with UDP_SEGMENT and every 6th of its large
    # sends is dropped whole on the client's ingress hook, after both captures' taps (a veth
    # hands a GSO packet to its peer unsegmented; the UDP stack segments it at the socket).
    # Every 6th, not a random share: a run can be as few as 16 large sends (64 kB each), and
    # 5% at random once dropped none.
    link on on
    lossy 'udp sport 4433 numgen inc mod 6 == 5'
    quic_download 1000000 --gso
    ;;
  peer-router-loss)
    # iperf3 A -> B through the router, wire-size segments (TSO/GSO off), GRO off at B, and R's
    # forward chain drops 2% of the full-size data packets coming from A: lost between the two
    # captures, which path-loss must count as the nftables counter does.
    router off off
    router_rule 'iifname "ra" meta length > 1000 numgen random mod 100 < 2 counter drop'
    start_capture
    iperf 4M 10.78.0.2
    stop_capture
    ;;
  peer-router-gro-loss)
    # peer-router-loss with GRO on R's ra (a forwarding host that coalesces): R merges A's wire
    # segments, its forward chain drops 2% of the merged packets (the counter counts merged
    # packets, bytes / 1448 the segments), and rb hands the rest to B whole. No expect.json
    # yet: path-loss calls nearly all the lost segments coalesced (their resends arrive merged
    # with their neighbours and carry the lost bytes); kept to reproduce that. (B's vb keeps its
    # offloads off, so libpcap sizes tcpdump's ring to the MTU and recv.pcap's merged frames are
    # cut at 1530 bytes: capture-snaplen, headers intact.)
    router off off
    inr ethtool -K ra gro on >/dev/null
    router_rule 'iifname "ra" meta length > 1000 numgen random mod 100 < 2 counter drop'
    start_capture
    iperf 4M 10.78.0.2
    stop_capture
    ;;
  peer-router-vxlan | peer-router-vxlan-loss)
    # A reaches B through a VXLAN tunnel that ends at R (VNI 42 over va -- ra, overlay
    # 10.88.0.1 -- 10.88.0.254): R decapsulates and routes the inner packets on to B, and B's
    # answers back into the tunnel. send.pcap holds the tunnel's outer packets (TSO/GSO off on
    # A's vx0: each separate on the wire), recv.pcap the bare inner ones, merged: R's vxlan
    # device receives through GRO (gro_cells), which coalesces the inner segments. GRO on at B
    # only so that libpcap sizes tcpdump's ring for merged frames (on a device without offloads
    # it keeps 1530 bytes of each frame: capture-snaplen).
    router off on
    ina ip link add vx0 type vxlan id 42 dstport 4789 local 10.77.0.1 remote 10.77.0.254 dev va
    inr ip link add vx0 type vxlan id 42 dstport 4789 local 10.77.0.254 remote 10.77.0.1 dev ra
    ina ip addr add 10.88.0.1/24 dev vx0
    inr ip addr add 10.88.0.254/24 dev vx0
    ina ip link set vx0 up
    inr ip link set vx0 up
    ina ethtool -K vx0 tso off gso off >/dev/null
    ina ip route add 10.78.0.0/24 via 10.88.0.254 dev vx0
    if [ "$SCENARIO" = peer-router-vxlan-loss ]; then
      # 2% of A's full-size outer packets dropped as they reach R (netdev ingress on ra, before
      # the decapsulation and its GRO, so one drop is one inner segment). The resent segments
      # arrive merged with their neighbours and carry the lost ones' bytes: path-loss must
      # still count each lost copy (it did not before, found here).
      inr nft -f - <<NFT
table netdev lab {
  chain ingress {
    type filter hook ingress device "ra" priority 0;
    udp dport 4789 meta length > 1000 numgen random mod 100 < 2 counter drop
  }
}
NFT
    fi
    start_capture
    iperf 4M 10.78.0.2
    stop_capture
    if [ "$SCENARIO" = peer-router-vxlan-loss ]; then
      inr nft list table netdev lab >"$OUT/nft-router.txt"
    fi
    ;;
  peer-router-nat)
    # peer-router-loss with R masquerading A's address (10.77.0.1 -> 10.78.0.254, the port too
    # when it must): the two captures share no address, so the flows pair by content, and the
    # 2% of A's full-size data packets R drops must still be counted.
    router off off
    inr nft -f - <<NFT
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "rb" masquerade
  }
}
NFT
    router_rule 'iifname "ra" meta length > 1000 numgen random mod 100 < 2 counter drop'
    start_capture
    iperf 4M 10.78.0.2
    stop_capture
    ;;
  peer-router-quic)
    # An HTTP/3 download (aioquic) from the server in A to the client in B through the router,
    # which drops 3% of the server's full-size datagrams: lost between the two captures. QUIC
    # packets are known at both points by their length and first bytes (protected, unchanged).
    router off on
    router_rule 'iifname "ra" udp sport 4433 meta length > 1000 numgen random mod 100 < 3 counter drop'
    quic_download 1000000
    ;;
  peer-router-quic-hosts)
    # Every stretch of a lost QUIC packet's path at once: the server's own kernel drops 5% of
    # its full-size datagrams before A's tap (an output rule: sender-drop), R drops 3% between
    # the taps (path-loss), B's ingress drops 6% after B's tap (netdev ingress runs after the
    # taps: receiver-drop). Each rule counts what it dropped. At 4% a fresh-clone CI run drew
    # 19 drops of 941 datagrams, under quic-qlog-mismatch's 2%: 6% keeps its share well above.
    router off on
    ina nft -f - <<NFT
table inet lab {
  chain output {
    type filter hook output priority 0;
    udp sport 4433 meta length > 1000 numgen random mod 100 < 5 counter drop
  }
}
NFT
    router_rule 'iifname "ra" udp sport 4433 meta length > 1000 numgen random mod 100 < 3 counter drop'
    lossy 'udp sport 4433 numgen random mod 100 < 6'
    quic_download 1000000
    ina nft list table inet lab >"$OUT/nft-output.txt"
    ;;
  peer-router-segment)
    # TSO/GSO on at A: send.pcap holds super-packets up to 64 KB (veth hands them to R whole).
    # R forwards them to rb, whose TSO/GSO is off, so R's kernel cuts them into wire segments
    # there (software GSO on transmit), and recv.pcap holds those segments. GRO stays off at B:
    # with it on, vb's GRO merged the segments back into exactly the super-packets A sent (TSO
    # marks the end of every one with PSH, where GRO flushes), and the two captures were
    # identical, which tests nothing. Nothing is dropped: every byte of send.pcap arrives, cut.
    router on off
    inr ethtool -K rb tso off gso off >/dev/null
    start_capture
    iperf 4M 10.78.0.2
    stop_capture
    ;;
  tcp-loss)
    # Wire-size segments (TSO off, GRO off), 3% of them lost: the kernel's loss recovery.
    link off off
    lossy 'numgen random mod 100 < 3'
    start_capture
    iperf 4M 10.77.0.2
    stop_capture
    ;;
  tcp-tso-loss)
    # TSO/GSO on at the sender: veth hands its super-packets on whole, so a lost one is a whole
    # burst lost, and the sender's capture shows it resent as bursts. Every 30th super-packet,
    # so that every run loses a few (a random 3% of about 100 packets is sometimes none).
    link on on
    lossy 'numgen inc mod 30 == 29'
    ANY=1 start_capture
    iperf 4M 10.77.0.2
    stop_capture
    ;;
  tcp-gro-run-loss)
    # Wire-size segments (TSO off), GRO on at the receiver, and every 40th merged frame dropped
    # at the receiver's ingress, after its tap: runs of consecutive segments lost whole, resent
    # back to back and merged again by GRO. Nothing of a run had been delivered: not a TSO burst.
    link off on
    lossy 'numgen inc mod 40 == 39'
    start_capture
    iperf 4M 10.77.0.2
    stop_capture
    ;;
  gro-matrix)
    gro_matrix
    ;;
  tcp-gro-on)
    # Kernel TCP, wire-size segments from the sender, GRO on at the receiver.
    link off on
    ANY=1 start_capture
    iperf 4M 10.77.0.2
    stop_capture
    ;;
  tcp-gro-off)
    link off off
    start_capture
    iperf 4M 10.77.0.2
    stop_capture
    ;;
  tcp-tso-on)
    # TSO/GSO on at the sender: a capture on the sender sees unsegmented super-packets (veth
    # passes them on whole, so the receiver's capture does too); send-any.pcap marks them as
    # outgoing.
    link on on
    ANY=1 start_capture
    iperf 4M 10.77.0.2
    stop_capture
    ;;
  vxlan-gro-on)
    link off on
    vxlan
    start_capture
    iperf 4M 10.88.0.2
    stop_capture
    ;;
  vxlan-gro-off)
    link off off
    vxlan
    start_capture
    iperf 4M 10.88.0.2
    stop_capture
    ;;
  vxlan-tso-on)
    # TSO/GSO on at the sender, on vx0 and va: the overlay's super-packets leave vx0 whole, and
    # veth hands them on whole too (UDP tunnel GSO); send-any.pcap marks them outgoing.
    link on on
    vxlan on
    ANY=1 start_capture
    iperf 4M 10.88.0.2
    stop_capture
    ;;
  vxlan-outer-id-jumps)
    # The VXLAN story: nftables rewrites the outer IPv4 ID of every packet leaving va from a map
    # of jumping values (DF stays as the kernel set it: 0 for vxlan). GRO on the receiver must
    # refuse to merge the inner segments.
    link off on
    vxlan
    vxlan_mangled 'udp dport 4789 ip id set numgen random mod 4 map { 0 : 11, 1 : 2222, 2 : 33333, 3 : 4444 }'
    ;;
  vxlan-ttl-alternating)
    # Every other outer packet leaves with TTL 63 instead of 64: GRO flushes on a TTL change.
    link off on
    vxlan
    vxlan_mangled 'udp dport 4789 numgen inc mod 2 == 0 ip ttl set 63'
    ;;
  udp-gso | udp-gso-df-clear)
    # A UDP GSO sender (UDP_SEGMENT) with offloads on: the sender's capture sees super-datagrams.
    # udp-gso sets DF (IP_PMTUDISC_DO, as quic-go); udp-gso-df-clear leaves the socket's default,
    # 54 segments of 1200 per send (the issue's 64,808-byte datagrams).
    link on on
    start_capture
    inb "$PY" "$HERE/udp_sink.py" 10.77.0.2 9000 &
    sink=$!
    sleep 0.3
    if [ "$SCENARIO" = udp-gso ]; then
      ina "$PY" "$HERE/udp_gso_send.py" 10.77.0.2 9000 1200 20
    else
      ina "$PY" "$HERE/udp_gso_send.py" 10.77.0.2 9000 1200 20 54 want
    fi
    wait "$sink" || true
    stop_capture
    ;;
  app-starve | app-pool | app-stop-reading | app-keepalive | app-udp-rr)
    # Applications (app.py): the server in the receiver's namespace, the client in the sender's.
    link off on
    start_capture
    inb "$PY" "$HERE/app.py" server "${SCENARIO#app-}" 10.77.0.2 7000 &
    server=$!
    sleep 0.3
    ina timeout 20 "$PY" "$HERE/app.py" client "${SCENARIO#app-}" 10.77.0.2 7000
    wait "$server"
    stop_capture
    ;;
  *)
    echo "unknown scenario: $SCENARIO" >&2
    exit 2
    ;;
esac
