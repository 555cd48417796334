#!/usr/bin/env python3
"""Records which frames tshark flags with each tcp.analysis.* flag, for the agreement test
(src/tests/tcp_agreement.rs), and the server name and ALPN of every QUIC ClientHello tshark reads
from a client Initial (src/tests/real_captures.rs). Writes testdata/oracle/tcp_analysis.json and
testdata/oracle/quic_hello.json.

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


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "captures")
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    files = {}
    fx = os.path.join(HERE, "fixtures")
    for name in sorted(os.listdir(fx)):
        # Sidecar files (qlog beside a capture) have no expectations of their own.
        if name.endswith(".expect.json") or not os.path.exists(os.path.join(fx, name + ".expect.json")):
            continue
        exp = json.load(open(os.path.join(fx, name + ".expect.json")))
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
    hellos = {}
    if os.path.isdir(shared):
        for name in sorted(os.listdir(shared)):
            if name.endswith((".pcap", ".pcapng")):
                found = quic_hellos(os.path.join(shared, name))
                if found:
                    hellos[name] = found
    with open(os.path.join(HERE, "oracle", "quic_hello.json"), "w") as f:
        json.dump({"generated_with": version, "files": hellos}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
