#!/usr/bin/env python3
"""Records which frames tshark flags with each tcp.analysis.* flag, for the agreement test
(src/tests/tcp_agreement.rs), the server name and ALPN of every QUIC ClientHello tshark reads
from a client Initial, and the type, code and quoted ports of every ICMP error
(src/tests/real_captures.rs), and per TCP direction the count and median of tshark's RTT samples,
tcp.analysis.ack_rtt (src/tests/rtt_agreement.rs). Writes testdata/oracle/tcp_analysis.json,
testdata/oracle/quic_hello.json, testdata/oracle/icmp_errors.json and testdata/oracle/rtt.json.

    python3 testdata/tshark_oracle.py [SHARED_CAPTURES_DIR]

Covers the generated fixtures in testdata/fixtures/ and the real public captures in
../shared/captures/ (only frame numbers are stored, never capture bytes). Wireshark's default TCP
preferences; UDP 8472 is decoded as VXLAN as offload-doctor does (-d udp.port==8472,vxlan).
Needs tshark (apt-get install tshark); the test itself does not.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = [
    "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order",
    "lost_segment", "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe",
    "zero_window_probe_ack", "window_full", "window_update", "keep_alive", "keep_alive_ack",
]


def flags(path, extra=()):
    cmd = ["tshark", "-n", "-r", path, "-d", "udp.port==8472,vxlan", *extra, "-Y", "tcp",
           "-T", "fields"]
    for f in FIELDS:
        cmd += ["-e", "tcp.analysis." + f]
    cmd = cmd[:-2 * len(FIELDS)] + ["-e", "frame.number"] + cmd[-2 * len(FIELDS):]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    res = {f: [] for f in FIELDS}
    for line in out.splitlines():
        cols = line.split("\t")
        if not cols[0].isdigit():
            continue
        for f, v in zip(FIELDS, cols[1:]):
            if v:
                res[f].append(int(cols[0]))
    return {f: v for f, v in res.items() if v}


# QUIC versions offload-doctor decrypts Initials of (1, 2, draft-29); tshark reads more.
QUIC_VERSIONS = {"0x00000001", "0x6b3343cf", "0xff00001d"}


def quic_hellos(path):
    """The ClientHellos in QUIC Initials of the versions above: client, server, SNI, ALPN."""
    cmd = ["tshark", "-n", "-r", path, "-Y", "quic && tls.handshake.type == 1", "-T", "fields",
           "-E", "occurrence=a", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e",
           "ipv6.dst", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "quic.version", "-e",
           "tls.handshake.extensions_server_name", "-e", "tls.handshake.extensions_alpn_str"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    seen = {}
    for line in out.splitlines():
        cols = (line.split("\t") + [""] * 9)[:9]
        # Every occurrence of the ALPN list, the first of the rest (an ICMP error quotes a
        # second IP header; coalesced packets repeat the version).
        s4, s6, d4, d6, sp, dp, version, sni = (c.split(",")[0] for c in cols[:8])
        alpn = cols[8]
        if version not in QUIC_VERSIONS:
            continue
        ep = lambda a4, a6, p: "%s:%s" % (a4, p) if a4 else "[%s]:%s" % (a6, p)
        key = (ep(s4, s6, sp), ep(d4, d6, dp))
        seen.setdefault(key, {"client": key[0], "server": key[1], "sni": sni or None,
                              "alpn": alpn.split(",") if alpn else []})
    return list(seen.values())


def rtt_samples(path, spread=False):
    """tcp.analysis.ack_rtt per tcp.stream and data direction: sample count and median (ms);
    with `spread`, also the nearest-rank 40th and 60th percentiles (the kernel lab's microsecond
    round trips, where a few samples more or less move the median by more than a clock tick).

    tshark puts ack_rtt on the ACKing frame (the time since the segment whose end it acknowledges
    exactly, packet-tcp.c, tcp_analyze_sequence_number); the RTT belongs to the data of the other
    direction, so the data sender is the ACK's destination. The median is the nearest-rank one
    (the lower middle of an even count), as offload-doctor's quantiles compute it. A tunnelled
    flow is named by its innermost IP header (the last ip or ipv6 in frame.protocols before tcp),
    as offload-doctor names it.
    """
    cmd = ["tshark", "-n", "-r", path, "-d", "udp.port==8472,vxlan", "-Y", "tcp.analysis.ack_rtt",
           "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-e", "tcp.stream", "-e",
           "frame.protocols", "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
           "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.analysis.ack_rtt"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    dirs = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) != 9 or not cols[0].isdigit() or not cols[8]:
            continue
        last = lambda c: c.split("|")[-1]
        stream, protos, s4, d4, s6, d6 = int(cols[0]), cols[1].split(":"), *map(last, cols[2:6])
        sp, dp, rtt = map(last, cols[6:9])
        below_tcp = protos[:protos.index("tcp")] if "tcp" in protos else protos
        inner = [p for p in below_tcp if p in ("ip", "ipv6")]
        if not inner:
            continue
        if inner[-1] == "ip":
            src, dst = "%s:%s" % (s4, sp), "%s:%s" % (d4, dp)
        else:
            src, dst = "[%s]:%s" % (s6, sp), "[%s]:%s" % (d6, dp)
        # The ACK goes from the data's receiver to its sender.
        dirs.setdefault((stream, dst, src), []).append(float(rtt) * 1e3)
    res = []
    for (stream, sender, receiver), v in sorted(dirs.items()):
        v.sort()
        median = v[(len(v) + 1) // 2 - 1]
        d = {"stream": stream, "sender": sender, "receiver": receiver, "samples": len(v),
             "median_ms": round(median, 6)}
        if spread:
            rank = lambda q: v[max(0, -(-len(v) * q // 100) - 1)]
            d["p40_ms"], d["p60_ms"] = round(rank(40), 6), round(rank(60), 6)
        res.append(d)
    return res


ICMP_ERRORS = ("icmp.type == 3 || icmp.type == 11 || icmpv6.type == 1 || icmpv6.type == 2 || "
               "icmpv6.type == 3")


def icmp_errors(path):
    """Per ICMP error frame: its number, type and code, and the quoted packet's ports (the last
    UDP or TCP header of the frame: a UDP tunnel's header comes first)."""
    cmd = ["tshark", "-n", "-r", path, "-d", "udp.port==8472,vxlan", "-Y", ICMP_ERRORS, "-T",
           "fields", "-E", "occurrence=l", "-e", "frame.number", "-e", "icmp.type", "-e",
           "icmp.code", "-e", "icmpv6.type", "-e", "icmpv6.code", "-e", "udp.srcport", "-e",
           "udp.dstport", "-e", "tcp.srcport", "-e", "tcp.dstport"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        n, t4, c4, t6, c6, us, ud, ts, td = (line.split("\t") + [""] * 9)[:9]
        ports = [int(us), int(ud)] if us else [int(ts), int(td)] if ts else None
        found.append({"frame": int(n), "type": int(t4 or t6), "code": int(c4 or c6),
                      "ports": ports})
    return found


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "captures")
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    files = {}
    fx = os.path.join(HERE, "fixtures")
    for name in sorted(os.listdir(fx)):
        expect = os.path.join(fx, name + ".expect.json")
        # Only captures have expectations (qlog files beside a fixture are no capture).
        if name.endswith(".expect.json") or not os.path.exists(expect):
            continue
        exp = json.load(open(expect))
        if exp.get("exit_code", 0) != 0 or exp.get("args"):
            continue
        files["fixtures/" + name] = flags(os.path.join(fx, name))
    if os.path.isdir(shared):
        for name in sorted(os.listdir(shared)):
            if name.endswith((".pcap", ".pcapng")):
                files["shared/" + name] = flags(os.path.join(shared, name))
    out = {"generated_with": version, "fields": FIELDS, "files": files}
    with open(os.path.join(HERE, "oracle", "tcp_analysis.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    for name, read in (("quic_hello", quic_hellos), ("rtt", rtt_samples),
                       ("icmp_errors", icmp_errors)):
        write(name, version, per_capture(shared, read))


def per_capture(shared, read):
    """`read` of every capture in `shared` that gives something, by file name."""
    found = {}
    if os.path.isdir(shared):
        for name in sorted(os.listdir(shared)):
            if name.endswith((".pcap", ".pcapng")):
                got = read(os.path.join(shared, name))
                if got:
                    found[name] = got
    return found


def write(name, version, files):
    """testdata/oracle/NAME.json: the tshark version and what it said per capture."""
    with open(os.path.join(HERE, "oracle", name + ".json"), "w") as f:
        json.dump({"generated_with": version, "files": files}, f, indent=1, sort_keys=True)
        f.write("\n")

if __name__ == "__main__":
    main()
