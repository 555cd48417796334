#!/usr/bin/env python3
"""Writes testdata/oracle/quic_server.json: what tshark reads in the QUIC Initial packets of the
shared captures (../shared/captures, or the folder given), per connection: the ServerHello's
cipher suite, and the first RTT sample (the client Initial to the server Initial that
acknowledged it, less the ACK Delay field times 2^3 us: the default ack_delay_exponent, RFC 9000
18.2), for src/tests/real_captures.rs. tshark decrypts Initials without keys, as we do.

    python3 testdata/quic_server_oracle.py [SHARED_DIR]
"""
import os
import subprocess
import sys

import tshark_oracle

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = ["frame.time_epoch", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport",
          "udp.dstport", "quic.packet_number", "quic.ack.largest_acknowledged",
          "quic.ack.ack_delay", "tls.handshake.type", "tls.handshake.ciphersuite", "quic.version"]
# The versions offload-doctor decrypts Initials of (1, 2, draft-29); tshark reads more.
QUIC_VERSIONS = {"0x00000001", "0x6b3343cf", "0xff00001d"}


def initials(path):
    """Every Initial packet's fields (the first occurrence of each: an ICMP error quotes a
    second IP header, a coalesced datagram repeats some)."""
    cmd = ["tshark", "-n", "-r", path, "-Y", "quic.long.packet_type == 0", "-T", "fields",
           "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    for line in out.splitlines():
        yield dict(zip(FIELDS, (line.split("\t") + [""] * len(FIELDS))[:len(FIELDS)]))


def connections(path):
    ep = lambda a4, a6, p: "%s:%s" % (a4, p) if a4 else "[%s]:%s" % (a6, p)
    conns = {}
    for p in initials(path):
        if p["quic.version"] not in QUIC_VERSIONS:
            continue
        src = ep(p["ip.src"], p["ipv6.src"], p["udp.srcport"])
        dst = ep(p["ip.dst"], p["ipv6.dst"], p["udp.dstport"])
        t = float(p["frame.time_epoch"])
        c = conns.get((dst, src))
        if c is None:
            # The first Initial of a pair of endpoints is the client's.
            c = conns.setdefault((src, dst), {"client": src, "server": dst, "sent": {},
                                              "cipher_suite": None, "rtt_ms": None,
                                              "ack_delay_ms": None})
            if p["quic.packet_number"]:
                c["sent"].setdefault(int(p["quic.packet_number"]), t)
            continue
        if c["cipher_suite"] is None and p["tls.handshake.type"] == "2":
            c["cipher_suite"] = int(p["tls.handshake.ciphersuite"], 16)
        largest = p["quic.ack.largest_acknowledged"]
        if c["rtt_ms"] is None and largest and int(largest) in c["sent"]:
            delay = int(p["quic.ack.ack_delay"]) * 8 / 1000.0
            raw = (t - c["sent"][int(largest)]) * 1000.0
            c["rtt_ms"] = round(max(raw - delay, 0.0), 3)
            c["ack_delay_ms"] = round(delay, 3)
    return [{k: v for k, v in c.items() if k != "sent"} for c in conns.values()
            if c["cipher_suite"] is not None or c["rtt_ms"] is not None]


def main():
    shared = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "captures")
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    tshark_oracle.write("quic_server", version, tshark_oracle.per_capture(shared, connections))

if __name__ == "__main__":
    main()
