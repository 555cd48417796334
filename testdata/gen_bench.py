#!/usr/bin/env python3
"""Writes a large synthetic capture for benchmarks: N frames of 64 interleaved bulk TCP flows
(1448-byte segments, an ACK every second segment), a third of them inside VXLAN, and 0.1% of the
frames retransmissions (every 1000th frame resends the segment its flow sent 4 segments earlier).
Each side's (inner) IPv4 ID counts up per packet, as Linux's does per connection, so a resend is
a retransmission, not a copy of the frame (with one ID for every frame the resends read as
capture duplicates, and the benchmark measured the wrong thing).

    python3 testdata/gen_bench.py OUT.pcap [FRAMES] [FLOWS]   (default 1,000,000 frames, 64 flows)

With FLOWS=1 (the plot benchmark: one flow with a million segments) the flow is plain TCP (so that
tcptrace sees it too), and every 100,000th frame is a retransmission of a segment sent 20 segments
earlier, so thinning can be checked to keep them.

    python3 testdata/gen_bench.py OUT.pcap FLOWS scan

writes a port scan instead: FLOWS SYN-only flows, each its own 5-tuple (source 10.x.y.z, port
1024 + i % 60000, to 192.0.2.1:80) and none answered, for the memory bound of flows that carry
nothing (docs: README "Speed and memory").
"""

import struct
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from gen_fixtures import ACK, PSH, csum, eth, ipv4, tcp, udp, vxlan  # noqa: E402


MSS_OPT = bytes.fromhex("020405b4")


def scan(out, n):
    """N SYNs, each opening its own flow; IP addresses and checksum patched into one template."""
    syn = ipv4("10.0.0.0", "192.0.2.1", 6, tcp(1024, 80, 1000, 0, 0x02, options=MSS_OPT))
    frame = bytearray(eth(syn))
    ip_at, tcp_at = 14, 34
    with open(out, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        t = 1_700_000_000_000_000
        for i in range(n):
            struct.pack_into("!I", frame, ip_at + 12, (10 << 24) | (i // 60000 + 1))
            struct.pack_into("!H", frame, ip_at + 10, 0)
            struct.pack_into("!H", frame, ip_at + 10, csum(bytes(frame[ip_at:ip_at + 20])))
            struct.pack_into("!HI", frame, tcp_at, 1024 + i % 60000, 1000 + i)
            t += 3
            sec, usec = divmod(t, 1_000_000)
            fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            fh.write(frame)


def main():
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    if len(sys.argv) > 3 and sys.argv[3] == "scan":
        scan(out, n)
        return
    flows = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    seg = 1448
    # Per flow: a data template and an ACK template; sequence numbers are patched in place.
    tmpl = []
    for f in range(flows):
        c, s = "10.8.%d.1" % f, "10.9.%d.2" % f
        data = tcp(443, 40000 + f, 0, 1, ACK | PSH, b"d" * seg)
        ack = tcp(40000 + f, 443, 1, 0, ACK)
        d_ip, a_ip = ipv4(s, c, 6, data, df=True), ipv4(c, s, 6, ack, df=True)
        if f % 3 == 0 and flows > 1:
            d = eth(ipv4("172.20.0.2", "172.20.0.1", 17, udp(50000 + f, 4789, vxlan(100, eth(d_ip)), 0), df=False))
            a = eth(ipv4("172.20.0.1", "172.20.0.2", 17, udp(50000 + f, 4789, vxlan(100, eth(a_ip)), 0), df=False))
        else:
            d, a = eth(d_ip), eth(a_ip)
        # offset of the TCP sequence / ack field inside each frame, the next sequence number, the
        # offset of the (inner) IPv4 header, and each side's next IPv4 ID
        ip_at = 64 if f % 3 == 0 and flows > 1 else 14
        tmpl.append([bytearray(d), len(d) - seg - 20 + 4, bytearray(a), len(a) - 20 + 8, 1,
                     ip_at, 1, 1])
    with open(out, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        t = 1_700_000_000_000_000
        for i in range(n):
            f = tmpl[i % flows]
            t += 7
            sec, usec = divmod(t, 1_000_000)
            if (i // flows) % 3 == 2:  # every third round is an ACK
                frame = f[2]
                struct.pack_into("!I", frame, f[3], f[4])
                set_id(frame, f[5], f[7])
                if f[5] != 14:
                    set_id(frame, 14, f[7])
                f[7] = (f[7] + 1) & 0xFFFF
            elif flows == 1 and i % 100_000 == 99_999:
                frame = f[0]
                struct.pack_into("!I", frame, f[1], (f[4] - 20 * seg) & 0xFFFFFFFF)
            elif flows > 1 and i % 1000 == 999 and f[4] > 4 * seg:
                frame = f[0]
                struct.pack_into("!I", frame, f[1], (f[4] - 4 * seg) & 0xFFFFFFFF)
            else:
                frame = f[0]
                struct.pack_into("!I", frame, f[1], f[4])
                f[4] = (f[4] + seg) & 0xFFFFFFFF
            if frame is f[0]:
                set_id(frame, f[5], f[6])
                if f[5] != 14:  # the outer header counts too (DF clear: an ID per packet)
                    set_id(frame, 14, f[6])
                f[6] = (f[6] + 1) & 0xFFFF
            fh.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            fh.write(frame)


def set_id(frame, ip_at, ident):
    """Writes the IPv4 ID of the header at `ip_at` and its checksum."""
    struct.pack_into("!H", frame, ip_at + 4, ident)
    struct.pack_into("!H", frame, ip_at + 10, 0)
    struct.pack_into("!H", frame, ip_at + 10, csum(bytes(frame[ip_at:ip_at + 20])))


if __name__ == "__main__":
    main()
