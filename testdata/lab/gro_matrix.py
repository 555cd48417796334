#!/usr/bin/env python3
"""The GRO header matrix of the kernel lab: crafted TCP segments, one pcap per case, each case a
flow of its own whose segments differ from a clean bulk train in one header field (IP ID pattern,
TTL, TOS/ECN, TCP timestamp, PSH, window, ACK, a short segment, a gap, VXLAN outer fields).
lab.sh replays them on the sender's veth; the receiver's capture shows what the running kernel's
GRO merged, and src/tests/lab.rs holds the model's verdict on every pair against it.

    gro_matrix.py gen OUTDIR          # OUTDIR/cases/NAME.pcap and OUTDIR/cases.json
    gro_matrix.py merged RECV OUTDIR  # OUTDIR/kernel.json: per source port, the received
                                      # frames as [seq, payload length, IP length]

Standard library only (the packet builders are testdata/gen_fixtures.py's).
"""

import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gen_fixtures import csum, eth, ip4, ipv4, pcap_timed, vxlan  # noqa: E402

ACK, PSH = 0x10, 0x08
# Addresses of lab.sh's link and overlay; the MACs are the ones lab.sh gives va and vb.
A, B = "10.77.0.1", "10.77.0.2"
VA, VB = "10.88.0.1", "10.88.0.2"
SEGMENTS = 16
# Payload of a full-size segment with the 12-byte timestamp option: 1500 - 20 - 32, and inside
# VXLAN 50 bytes less (outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14).
FULL, FULL_VXLAN = 1448, 1398
TS_VAL = 0x01020304


def tcp_csum(src, dst, seg):
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 6, len(seg))
    return seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]


def tcp_seg(src, dst, sport, seq, s):
    opts = b"" if s["ts"] is None else b"\x01\x01\x08\x0a" + struct.pack("!II", s["ts"], 1)
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, 5001, seq, s["ack"], off << 4, s["flags"], s["win"],
                      0, 0)
    return tcp_csum(src, dst, hdr + opts + b"\x5a" * s["len"])


def udp_csum(src, dst, dgram):
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, len(dgram))
    return csum(pseudo + dgram) or 0xFFFF


def frame(sport, seq, s, tunnel):
    if not tunnel:
        inner = ipv4(A, B, 6, tcp_seg(A, B, sport, seq, s), ident=s["id"], df=s["df"],
                     ttl=s["ttl"], tos=s["tos"])
        return eth(inner)
    inner = ipv4(VA, VB, 6, tcp_seg(VA, VB, sport, seq, s), ident=s["id"], df=s["df"],
                 ttl=s["ttl"], tos=s["tos"])
    payload = vxlan(42, eth(inner))
    dgram = struct.pack("!HHHH", s["usport"], 4789, 8 + len(payload), 0) + payload
    if s["ucsum"]:
        dgram = dgram[:6] + struct.pack("!H", udp_csum(A, B, dgram)) + dgram[8:]
    outer = ipv4(A, B, 17, dgram, ident=s["oid"], df=s["odf"], ttl=s["ottl"])
    return eth(outer)


def ids(pattern, n, seed):
    """IP IDs of n segments in one of the matrix's patterns."""
    rnd = random.Random(seed)
    if pattern == "increment":
        return [1000 + i for i in range(n)]
    if pattern == "fixed":
        return [777] * n
    if pattern == "zero":
        return [0] * n
    if pattern == "wrap":
        return [(65530 + i) % 65536 for i in range(n)]
    if pattern == "jumps":
        out = [101]
        for _ in range(n - 1):
            out.append((out[-1] + rnd.randint(2, 7)) % 65536)
        return out
    if pattern == "random":
        return [rnd.randrange(65536) for _ in range(n)]
    if pattern == "decreasing":
        return [5000 - i for i in range(n)]
    if pattern == "step2":
        return [1000 + 2 * i for i in range(n)]
    if pattern == "fixed-then-increment":
        return [777 + max(0, i - n // 2 + 1) for i in range(n)]
    raise ValueError(pattern)


PATTERNS = ["increment", "fixed", "zero", "wrap", "jumps", "random", "decreasing", "step2",
            "fixed-then-increment"]


def base(i, tunnel):
    return {"id": 1000 + i, "df": True, "ttl": 64, "tos": 0, "flags": ACK, "ack": 1,
            "win": 502, "ts": TS_VAL, "len": FULL_VXLAN if tunnel else FULL,
            "oid": 3000 + i, "odf": False, "ottl": 64, "usport": 40000, "ucsum": False}


def half(i, n=SEGMENTS):
    return i >= n // 2


def cases():
    """(name, reason, tunnel, segments, change(i, s) -> None, seq gap before segment or None)."""
    out = []
    for p in PATTERNS:
        for df in (False, True):
            def inner_ids(i, s, p=p, df=df, v=ids(p, SEGMENTS, len(out))):
                s["id"], s["df"] = v[i], df
            out.append(("ip-id-%s-df%d" % (p, df), "ip-id", False, SEGMENTS, inner_ids))

            def outer_ids(i, s, p=p, df=df, v=ids(p, SEGMENTS, len(out))):
                s["oid"], s["odf"] = v[i], df
            out.append(("vxlan-outer-id-%s-df%d" % (p, df), "ip-id", True, SEGMENTS, outer_ids))

    def vx_inner_fixed(i, s):
        s["id"], s["df"] = 777, False
    out.append(("vxlan-inner-id-fixed-df0", "ip-id", True, SEGMENTS, vx_inner_fixed))

    headers = [
        ("ttl-once", "headers", lambda i, s: s.update(ttl=63 if half(i) else 64)),
        ("ttl-alternating", "headers", lambda i, s: s.update(ttl=63 + i % 2)),
        ("tos-once", "headers", lambda i, s: s.update(tos=0x10 if half(i) else 0)),
        ("tos-alternating", "headers", lambda i, s: s.update(tos=0x10 * (i % 2))),
        ("ecn-ce-once", "headers", lambda i, s: s.update(tos=3 if half(i) else 2)),
        ("ecn-ce-alternating", "headers", lambda i, s: s.update(tos=2 + i % 2)),
        ("ts-ticking", "headers", lambda i, s: s.update(ts=TS_VAL + i)),
        ("ts-once", "headers", lambda i, s: s.update(ts=TS_VAL + int(half(i)))),
        ("no-options", "none", lambda i, s: s.update(ts=None, len=1460)),
        # PSH is the application's message boundary: GRO flushes there by design, never a
        # header fault (gro-blocked-headers only notes it).
        ("psh-every", "psh", lambda i, s: s.update(flags=ACK | PSH)),
        ("psh-every-4th", "none", lambda i, s: s.update(flags=ACK | PSH if i % 4 == 3 else ACK)),
        ("window-once", "shape", lambda i, s: s.update(win=600 if half(i) else 502)),
        ("ack-once", "shape", lambda i, s: s.update(ack=1001 if half(i) else 1)),
        ("short-segment", "shape", lambda i, s: s.update(len=700 if i == SEGMENTS // 2 else FULL)),
        ("clean", "none", lambda i, s: None),
    ]
    for name, reason, change in headers:
        out.append((name, reason, False, SEGMENTS, change))
    out.append(("gap", "shape", False, SEGMENTS, "gap"))
    out.append(("sixty-segments", "none", False, 60, lambda i, s: None))
    vx = [
        ("vxlan-clean", "none", lambda i, s: None),
        ("vxlan-sport-per-packet", "headers", lambda i, s: s.update(usport=40000 + i)),
        ("vxlan-sport-once", "headers", lambda i, s: s.update(usport=40001 if half(i) else 40000)),
        ("vxlan-csum-on", "none", lambda i, s: s.update(ucsum=True)),
        ("vxlan-csum-mixed", "headers", lambda i, s: s.update(ucsum=i % 2 == 1)),
        ("vxlan-outer-ttl-alternating", "headers", lambda i, s: s.update(ottl=63 + i % 2)),
    ]
    for name, reason, change in vx:
        out.append((name, reason, True, SEGMENTS, change))
    return out


def gen(outdir):
    os.makedirs(os.path.join(outdir, "cases"), exist_ok=True)
    index = []
    for k, (name, reason, tunnel, n, change) in enumerate(cases()):
        sport = 20000 + k
        seq, t, records, segs = 1, 1_700_000_000.0, [], []
        for i in range(n):
            s = base(i, tunnel)
            if change == "gap":
                if i == n // 2:
                    seq += s["len"]
            else:
                change(i, s)
            records.append((frame(sport, seq, s, tunnel), None, t + i * 10e-6))
            segs.append([seq, s["len"]])
            seq += s["len"]
        path = os.path.join(outdir, "cases", name + ".pcap")
        with open(path, "wb") as f:
            f.write(pcap_timed(records))
        index.append({"name": name, "reason": reason, "tunnel": tunnel, "sport": sport,
                      "file": "cases/%s.pcap" % name, "segments": segs})
    with open(os.path.join(outdir, "cases.json"), "w") as f:
        json.dump(index, f, indent=1)


def received(path):
    """Per TCP source port: [seq, payload length, innermost IP length] of each received frame."""
    data = open(path, "rb").read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, out = 24, {}
    while off + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        tcp = inner_tcp(pkt)
        if tcp:
            sport, seq, plen, iplen = tcp
            out.setdefault(str(sport), []).append([seq, plen, iplen])
    return out


def inner_tcp(pkt):
    """(source port, seq, payload length, IP length) of the innermost IPv4/TCP, or None."""
    if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
        return None
    ip = pkt[14:]
    ihl, proto, iplen = (ip[0] & 15) * 4, ip[9], struct.unpack("!H", ip[2:4])[0]
    if proto == 17 and len(ip) >= ihl + 16 + 34 and struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] == 4789:
        return inner_tcp(ip[ihl + 16:])
    if proto != 6 or len(ip) < ihl + 20:
        return None
    t = ip[ihl:]
    sport, seq = struct.unpack("!HI", t[0:2] + t[4:8])
    doff = (t[12] >> 4) * 4
    return sport, seq, iplen - ihl - doff, iplen


def main():
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif sys.argv[1] == "merged":
        with open(os.path.join(sys.argv[3], "kernel.json"), "w") as f:
            json.dump(received(sys.argv[2]), f)
    else:
        sys.exit("usage: gro_matrix.py gen OUTDIR | merged RECV OUTDIR")


if __name__ == "__main__":
    main()
