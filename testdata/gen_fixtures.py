#!/usr/bin/env python3
"""Generates the small capture fixtures in testdata/fixtures/ and, beside each, the facts the
generator knows about it (NAME.expect.json). Standard library only; deterministic output.

    python3 testdata/gen_fixtures.py          # (re)write the fixtures
    python3 testdata/gen_fixtures.py --check  # fail if the committed fixtures differ

The expectations are written from what this script put into each file, independently of
offload-doctor: tests/fixtures.rs runs `analyze --format json` on every fixture and checks each
expected field. `findings` lists the exact set of finding ids, so a fixture without a finding id
asserts that the detector stays silent.
"""

import gzip
import io
import json
import os
import struct
import sys

import peer_fixtures  # noqa: E402 (beside this file: python puts its folder on the path)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
FILES = {}


# ---------------------------------------------------------------- packet builders


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def ip6(a):
    import ipaddress

    return ipaddress.IPv6Address(a).packed


def str_ip6(b):
    import ipaddress

    return str(ipaddress.IPv6Address(b))


def ipv4(src, dst, proto, payload, ident=1, df=True, ttl=64, tos=0, options=b"", mf=False,
         frag_off=0, total_len=None):
    ihl = 5 + len(options) // 4
    tl = 20 + len(options) + len(payload) if total_len is None else total_len
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | frag_off
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tl, ident, flags, ttl, proto, 0,
                    ip4(src), ip4(dst)) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload, hlim=64, ext=b"", plen=None):
    pl = len(ext) + len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", 0x60000000, pl, nh, hlim, ip6(src), ip6(dst)) + ext + payload


def tcp(sport, dport, seq, ack, flags, payload=b"", win=65535, options=b""):
    off = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, win, 0, 0) + options + payload


def udp(sport, dport, payload, checksum=0x1234):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), checksum) + payload


def eth(payload, ethertype=0x0800, vlans=()):
    h = bytes.fromhex("020000000002") + bytes.fromhex("020000000001")
    for tpid, vid in vlans:
        h += struct.pack("!HH", tpid, vid)
    return h + struct.pack("!H", ethertype) + payload


def vxlan(vni, inner):
    return struct.pack("!B3sI", 0x08, b"\0\0\0", vni << 8) + inner


def geneve(vni, inner, proto=0x6558, options=b""):
    return struct.pack("!BBH", len(options) // 4, 0, proto) + struct.pack("!I", vni << 8) + options + inner


SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
MSS_OPT = bytes.fromhex("020405b4")  # MSS 1460


def tcp_conversation(c, s, cport=40000, sport=80, data_segments=3, seg=1000, v6=False):
    """Handshake, `data_segments` server segments of `seg` bytes with ACKs, FIN/ACK both ways.
    Returns (list of IP packets, expected facts)."""
    mk = (lambda a, b, p: ipv6(a, b, 6, p)) if v6 else (lambda a, b, p: ipv4(a, b, 6, p))
    cs, ss = 1000, 5000
    pk = [mk(c, s, tcp(cport, sport, cs, 0, SYN, options=MSS_OPT)),
          mk(s, c, tcp(sport, cport, ss, cs + 1, SYN | ACK, options=MSS_OPT)),
          mk(c, s, tcp(cport, sport, cs + 1, ss + 1, ACK))]
    for i in range(data_segments):
        pk.append(mk(s, c, tcp(sport, cport, ss + 1 + i * seg, cs + 1, ACK | PSH, b"x" * seg)))
        pk.append(mk(c, s, tcp(cport, sport, cs + 1, ss + 1 + (i + 1) * seg, ACK)))
    end = ss + 1 + data_segments * seg
    pk.append(mk(s, c, tcp(sport, cport, end, cs + 1, FIN | ACK)))
    pk.append(mk(c, s, tcp(cport, sport, cs + 1, end + 1, FIN | ACK)))
    pk.append(mk(s, c, tcp(sport, cport, end + 1, cs + 2, ACK)))
    ep = (lambda a, p: "[%s]:%d" % (a, p)) if v6 else (lambda a, p: "%s:%d" % (a, p))
    facts = {
        "protocol": "tcp",
        "client": ep(c, cport),
        "server": ep(s, sport),
        "frames": len(pk),
        "c2s": {"frames": 3 + data_segments, "payload_bytes": 0},
        "s2c": {"frames": 1 + data_segments + 2, "payload_bytes": data_segments * seg},
    }
    return pk, facts


# ---------------------------------------------------------------- file writers


def pcap(records, linktype=1, big_endian=False, nsec=False, snaplen=262144, version=(2, 4)):
    """records: list of (data, wire_len or None)."""
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)
    for i, (data, wire) in enumerate(records):
        sec, usec = T0 + i // 10, (i % 10) * 100_000
        frac = usec * 1000 if nsec else usec
        cap = data[:snaplen]
        out += struct.pack(e + "IIII", sec, frac, len(cap), wire if wire is not None else len(data)) + cap
    return out


def pad4(b):
    return b + b"\0" * (-len(b) % 4)


def ng_block(e, btype, body):
    n = 12 + len(body)
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def ng_opt(e, code, value):
    return struct.pack(e + "HH", code, len(value)) + pad4(value)


def ng_opts(e, opts):
    if not opts:
        return b""
    return b"".join(ng_opt(e, c, v) for c, v in opts) + struct.pack(e + "HH", 0, 0)


def ng_shb(e):
    body = struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    n = 12 + len(body)
    return struct.pack(e + "I", 0x0A0D0D0A) + struct.pack(e + "I", n) + body + struct.pack(e + "I", n)


def ng_idb(e, linktype, snaplen=0, tsresol=None, tsoffset=None):
    opts = []
    if tsresol is not None:
        opts.append((9, bytes([tsresol])))
    if tsoffset is not None:
        opts.append((14, struct.pack(e + "q", tsoffset)))
    return ng_block(e, 1, struct.pack(e + "HHI", linktype, 0, snaplen) + ng_opts(e, opts))


def ng_epb(e, if_id, ticks, data, wire=None):
    body = struct.pack(e + "IIIII", if_id, ticks >> 32, ticks & 0xFFFFFFFF, len(data),
                       wire if wire is not None else len(data)) + pad4(data)
    return ng_block(e, 6, body)


def ng_opb(e, if_id, ticks, data):
    body = struct.pack(e + "HHIIII", if_id, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)) + pad4(data)
    return ng_block(e, 2, body)


def ng_spb(e, data):
    return ng_block(e, 3, struct.pack(e + "I", len(data)) + pad4(data))


def ng_isb(e, if_id, ifdrop, osdrop):
    opts = [(5, struct.pack(e + "Q", ifdrop)), (7, struct.pack(e + "Q", osdrop))]
    return ng_block(e, 5, struct.pack(e + "III", if_id, 0, 0) + ng_opts(e, opts))


def ng_custom(e, data):
    return ng_block(e, 0x0BAD, struct.pack(e + "I", 32473) + pad4(data))


def ng_unknown(e):
    return ng_block(e, 0x00000100, b"\1\2\3\4")


# ---------------------------------------------------------------- fixtures


def fixture(name, content, expect):
    FILES[name] = content
    FILES[name + ".expect.json"] = (json.dumps(expect, indent=2, sort_keys=True) + "\n").encode()


# Real captures this script cannot make (encrypted QUIC needs the endpoints' own keys), cut from
# kernel-lab runs and committed as they are, with why. Only their expectations are generated;
# --check leaves the files themselves alone.
KEPT = {
    "quic_loss_lab.pcap": "the first 195 frames of the lab's quic-loss run, the server's capture "
                          "(editcap -F pcap -r send.pcap quic_loss_lab.pcap 1-195)",
    "quic_loss_lab.keys.txt": "the key log aioquic wrote in that run",
    "quic_flow_control_lab.pcap": "the first 120 frames of the lab's quic-flow-control run, the "
                                  "server's capture (editcap -F pcap -r send.pcap ... 1-120)",
    "quic_flow_control_lab.keys.txt": "the key log aioquic wrote in that run",
    "quic_zero_rtt.pcap": "testdata/lab/quic_zero_rtt.py on loopback (tcpdump -i lo udp port "
                          "4455): a connection that gets a session ticket, then one that sends "
                          "its request in 0-RTT",
    "quic_zero_rtt.keys.txt": "the key log aioquic wrote in that run (CLIENT_EARLY_TRAFFIC_SECRET "
                              "for the second connection)",
    "quic_draft29.pcap": "testdata/lab/quic_draft29.py on loopback (tcpdump -i lo udp port 4466): "
                         "aioquic 0.9.21, the client offering draft-29 only",
    "quic_draft29.keys.txt": "the key log aioquic wrote in that run",
    "quic_v2.pcap": "testdata/lab/quic_zero_rtt.py's first connection with both sides on QUIC v2 "
                    "(supported_versions=[VERSION_2], port 4477), aioquic 1.7",
    "quic_v2.keys.txt": "the key log aioquic wrote in that run",
}


def kept_fixtures():
    """quic-loss on real aioquic traffic: the client's ingress rule dropped server packets after
    the capture's tap. tshark with the key log (-o tls.keylog_file:) shows 168 server packets, the
    client's ACK ranges up to 125 leaving out 84, 86, 116 and 118 (frames 102, 104, 135, 138)."""
    expect = {
        "args": ["--keylog", "testdata/fixtures/quic_loss_lab.keys.txt"],
        "findings": ["quic-loss"],
        "finding_severity": {"quic-loss": "warning"},
        "finding_frames": {"quic-loss": [102, 104, 135, 138]},
        "finding_details": {"quic-loss": {
            "side": "server", "lost_after_capture": 4, "lost_before_capture": 0,
            "acked_unseen": 0, "spurious": 0, "runs": 4, "longest_run": 1}},
    }
    FILES["quic_loss_lab.pcap.expect.json"] = (
        json.dumps(expect, indent=2, sort_keys=True) + "\n").encode()
    # quic-flow-control: the client reads a 32 kB window at a time, 300 kB/s. tshark with the key
    # log: the client's ClientHello grants 32,768 on its stream (initial_max_stream_data_
    # bidi_local), which the server's stream 0 reaches in frame 47; 65,536 in frame 79 (offset
    # 65,382 + 154), the client's MAX_STREAM_DATA in frame 85, 103 ms later; 98,304 in frame 114,
    # raised in frame 119, 114 ms later: 0.321 s held of the 0.334 s the server was sending.
    expect = {
        "args": ["--keylog", "testdata/fixtures/quic_flow_control_lab.keys.txt"],
        "findings": ["quic-flow-control"],
        "finding_severity": {"quic-flow-control": "warning"},
        "finding_frames": {"quic-flow-control": [47, 79, 114]},
        "finding_details": {"quic-flow-control": {
            "side": "server", "limit": "stream", "held_by_stream": 3, "held_by_connection": 0,
            "max_stream_data": 131072, "blocked_frames": 0}},
    }
    FILES["quic_flow_control_lab.pcap.expect.json"] = (
        json.dumps(expect, indent=2, sort_keys=True) + "\n").encode()
    # 0-RTT: healthy, both connections decrypted (src/tests/keylog.rs holds the 0-RTT packet to
    # tshark's reading: frame 28, packet number 1, a STREAM frame on stream 0).
    expect = {"args": ["--keylog", "testdata/fixtures/quic_zero_rtt.keys.txt"], "findings": []}
    FILES["quic_zero_rtt.pcap.expect.json"] = (
        json.dumps(expect, indent=2, sort_keys=True) + "\n").encode()
    # draft-29: healthy (src/tests/keylog.rs holds it to tshark's reading).
    expect = {"args": ["--keylog", "testdata/fixtures/quic_draft29.keys.txt"], "findings": []}
    FILES["quic_draft29.pcap.expect.json"] = (
        json.dumps(expect, indent=2, sort_keys=True) + "\n").encode()
    expect = {"args": ["--keylog", "testdata/fixtures/quic_v2.keys.txt"], "findings": []}
    FILES["quic_v2.pcap.expect.json"] = (
        json.dumps(expect, indent=2, sort_keys=True) + "\n").encode()


def tcp_eth_pcap_variants():
    pk, facts = tcp_conversation("10.0.0.1", "10.0.0.2")
    recs = [(eth(p), None) for p in pk]
    n = len(recs)
    base = {
        "capture": {"frames": n, "format": "pcap", "file_truncated": False,
                    "decoded": {"tcp": n}, "undecoded": {},
                    "link_types": [{"link_type": 1, "name": "ethernet", "frames": n}]},
        "flows": [facts], "findings": [],
    }
    for be in (False, True):
        for ns in (False, True):
            name = "tcp_%s_%s.pcap" % ("be" if be else "le", "nsec" if ns else "usec")
            exp = json.loads(json.dumps(base))
            # frame 3 is 100 ms after frame 1 (see pcap()): resolution must not change time.
            exp["capture"]["first_timestamp_ns"] = T0 * 10**9
            exp["capture"]["duration_s"] = (n - 1) // 10 + ((n - 1) % 10) * 0.1
            fixture(name, pcap(recs, big_endian=be, nsec=ns), exp)
    raw = pcap(recs)
    gz = gzip.compress(raw, mtime=0)
    exp = json.loads(json.dumps(base))
    exp["capture"]["gzip"] = True
    fixture("tcp_gzip.pcap.gz", gz, exp)
    # gzip is detected by content, not by name
    fixture("tcp_gzip_no_suffix.cap", gz, exp)
    # a pre-2.3 file with incl_len/orig_len swapped (libpcap MAYBE_SWAPPED)
    old = bytearray(pcap(recs, version=(2, 2)))
    off = 24
    for data, _ in recs:
        cap = struct.unpack_from("<I", old, off + 8)[0]
        struct.pack_into("<II", old, off + 8, cap + 100, cap)  # caplen field := wire, len := cap
        off += 16 + cap
    exp = json.loads(json.dumps(base))
    exp["capture"]["bytes"] = sum(len(eth(p)) + 100 for p in pk)
    exp["findings"] = ["capture-header", "capture-snaplen"]
    exp["finding_severity"] = {"capture-header": "info"}
    exp["finding_details"] = {"capture-header": {"version": "2.2", "stray_bits": None}}
    fixture("tcp_v2_2_swapped_lengths.pcap", bytes(old), exp)
    # A version libpcap refuses (3.0), read as 2.4: a warning, and every frame still read.
    exp = json.loads(json.dumps(base))
    exp["findings"] = ["capture-header"]
    exp["finding_severity"] = {"capture-header": "warning"}
    exp["finding_details"] = {"capture-header": {"version": "3.0"}}
    fixture("tcp_pcap_version_3_0.pcap", pcap(recs, version=(3, 0)), exp)
    # Bits above the link type that no writer sets (an FCS length without its "present" flag,
    # as in a fuzzed capture): a warning, read as Ethernet.
    exp = json.loads(json.dumps(base))
    exp["findings"] = ["capture-header"]
    exp["finding_details"] = {"capture-header": {"link_field": "0x40000001", "link_type": 1,
                                                 "stray_bits": "0x40000000", "fcs_bytes": None}}
    fixture("tcp_pcap_link_type_stray_bits.pcap", pcap(recs, linktype=0x40000001), exp)


def link_type_fixtures():
    pk, facts = tcp_conversation("192.0.2.1", "192.0.2.2", data_segments=1)
    v6pk, v6facts = tcp_conversation("2001:db8::1", "2001:db8::2", data_segments=1, v6=True)
    def sll(p, et=0x0800, pkttype=0):
        return struct.pack("!HHH8sH", pkttype, 1, 6, b"\2\0\0\0\0\1\0\0", et) + p
    def sll2(p, et=0x0800, pkttype=0):
        return struct.pack("!HHIHBB8s", et, 0, 2, 1, pkttype, 6, b"\2\0\0\0\0\1\0\0") + p
    def nflog(p):
        # family AF_INET, version 0, resource 1; TLVs in little-endian (an x86 capture host):
        # NFULA_PACKET_HDR, NFULA_PREFIX "drop", NFULA_PAYLOAD.
        tlv = lambda t, v: pad4(struct.pack("<HH", 4 + len(v), t) + v)
        return (struct.pack("!BBH", 2, 0, 1) + tlv(1, b"\x08\x00\x01\x00")
                + tlv(10, b"drop\0") + tlv(9, p))
    cases = [
        ("link_raw_101.pcap", 101, [p for p in pk], facts, "raw-ip"),
        ("link_raw_12.pcap", 12, [p for p in pk], facts, "raw-ip"),
        ("link_raw_14.pcap", 14, [p for p in pk], facts, "raw-ip"),
        ("link_ipv4_228.pcap", 228, [p for p in pk], facts, "ipv4"),
        ("link_ipv6_229.pcap", 229, [p for p in v6pk], v6facts, "ipv6"),
        ("link_sll_113.pcap", 113, [sll(p) for p in pk], facts, "linux-sll"),
        ("link_sll2_276.pcap", 276, [sll2(p) for p in pk], facts, "linux-sll2"),
        ("link_sll2_ipv6_276.pcap", 276, [sll2(p, 0x86DD) for p in v6pk], v6facts, "linux-sll2"),
        ("link_null_le_0.pcap", 0, [struct.pack("<I", 2) + p for p in pk], facts, "null"),
        ("link_null_be_0.pcap", 0, [struct.pack(">I", 2) + p for p in pk], facts, "null"),
        ("link_null_ipv6_0.pcap", 0, [struct.pack("<I", 30) + p for p in v6pk], v6facts, "null"),
        ("link_loop_108.pcap", 108, [struct.pack(">I", 2) + p for p in pk], facts, "loop"),
        ("link_ppp_9.pcap", 9, [b"\xff\x03\x00\x21" + p for p in pk], facts, "ppp"),
        ("link_nflog_239.pcap", 239, [nflog(p) for p in pk], facts, "nflog"),
    ]
    for name, lt, frames, f, lname in cases:
        n = len(frames)
        fixture(name, pcap([(x, None) for x in frames], linktype=lt), {
            "capture": {"frames": n, "decoded": {"tcp": n}, "undecoded": {},
                        "link_types": [{"link_type": lt, "name": lname, "frames": n}]},
            "flows": [f], "findings": []})
    # An unsupported link type is counted, never dropped silently.
    fixture("link_unsupported_147.pcap", pcap([(p, None) for p in pk], linktype=147), {
        "capture": {"frames": len(pk), "decoded": {},
                    "undecoded": {"unsupported-link-type-147": len(pk)}},
        "flows": [], "findings": []})


def tunnel_fixtures():
    inner_pk, inner = tcp_conversation("10.1.0.1", "10.1.0.2", cport=33000, sport=443)
    def wrap(kind, port, vni, opts=b""):
        out = []
        for i, p in enumerate(inner_pk):
            # client->server packets travel VTEP .1 -> .2, replies the other way
            src_is_client = p[12:16] == ip4("10.1.0.1")
            a, b = ("172.16.0.1", "172.16.0.2") if src_is_client else ("172.16.0.2", "172.16.0.1")
            payload = vxlan(vni, eth(p)) if kind == "vxlan" else geneve(vni, eth(p), options=opts)
            out.append(eth(ipv4(a, b, 17, udp(50000 + i % 7, port, payload, 0), ident=100 + i, df=False)))
        return out
    for name, kind, port, vni, args in [
        ("vxlan_4789.pcap", "vxlan", 4789, 5001, []),
        ("vxlan_8472.pcap", "vxlan", 8472, 42, []),
        ("vxlan_custom_port.pcap", "vxlan", 4790, 7, ["--vxlan-port", "4790"]),
        ("geneve_6081.pcap", "geneve", 6081, 10, []),
    ]:
        frames = wrap(kind, port, vni, opts=bytes.fromhex("01028000") if kind == "geneve" else b"")
        f = dict(inner)
        f["tunnel"] = {"kind": kind, "vni": vni, "vni_s2c": vni,
                       "outer_client": "172.16.0.1", "outer_server": "172.16.0.2"}
        fixture(name, pcap([(x, None) for x in frames]), {
            "args": args,
            "capture": {"frames": len(frames), "decoded": {"tcp": len(frames)}, "undecoded": {}},
            "flows": [f], "findings": []})
    # Encapsulations without UDP ports of their own, and GTP-U (port 2152).
    def gre(proto, body, key=None, seq=None):
        flags = (0x20 if key is not None else 0) | (0x10 if seq is not None else 0)
        h = struct.pack("!BBH", flags, 0, proto)
        if key is not None:
            h += struct.pack("!I", key)
        if seq is not None:
            h += struct.pack("!I", seq)
        return h + body
    def erspan2(session, frame):
        return struct.pack("!HHI", 0x1000 | 100, session, 0) + frame
    def erspan3(session, frame):
        # version 2, session; timestamp; SGT 0, frame type 0 (Ethernet), O bit set + subheader
        return struct.pack("!HHIHH", 0x2000, session, 1234, 0, 0x0001) + bytes(8) + frame
    def gtpu(teid, ip):
        ext = struct.pack("!HBB", 0, 0, 0x85) + bytes([1, 0, 9, 0])
        body = ext + ip
        return struct.pack("!BBHI", 0x34, 0xff, len(body), teid) + body
    def ipip(ip, client):
        v6 = ip[0] >> 4 == 6
        a, b = ("172.16.0.1", "172.16.0.2") if client else ("172.16.0.2", "172.16.0.1")
        return ipv4(a, b, 41 if v6 else 4, ip, df=False)
    v6_pk, v6_inner = tcp_conversation("2001:db8:1::1", "2001:db8:1::2", cport=33001, sport=443, v6=True)
    encaps = [
        ("gre_ipv4_key.pcap", "gre", 77, inner_pk, inner,
         lambda ip, i: (47, gre(0x0800, ip, key=77))),
        ("nvgre.pcap", "nvgre", 0x1234, inner_pk, inner,
         lambda ip, i: (47, gre(0x6558, eth(ip), key=(0x1234 << 8) | 1))),
        ("gretap_mirror.pcap", "gre", 0, inner_pk, inner,
         lambda ip, i: (47, gre(0x6558, eth(ip)))),
        ("erspan_type2.pcap", "erspan", 5, inner_pk, inner,
         lambda ip, i: (47, gre(0x88BE, erspan2(5, eth(ip)), seq=i))),
        ("erspan_type3.pcap", "erspan", 9, inner_pk, inner,
         lambda ip, i: (47, gre(0x22EB, erspan3(9, eth(ip)), seq=i))),
        ("ipip_4in4.pcap", "ip-in-ip", 0, inner_pk, inner, lambda ip, i: (4, ip)),
        ("ipip_6in4.pcap", "ip-in-ip", 0, v6_pk, v6_inner, lambda ip, i: (41, ip)),
        ("gtpu_ipv4.pcap", "gtp-u", 42, inner_pk, inner,
         lambda ip, i: (17, udp(2152, 2152, gtpu(42, ip), 0))),
    ]
    for name, kind, vni, pkts, facts, enc in encaps:
        frames = []
        for i, p in enumerate(pkts):
            client = p[12:16] == ip4("10.1.0.1") or p[8:24] == ip6("2001:db8:1::1")
            a, b = ("172.16.0.1", "172.16.0.2") if client else ("172.16.0.2", "172.16.0.1")
            proto, body = enc(p, i)
            frames.append(eth(ipv4(a, b, proto, body, ident=100 + i, df=False)))
        f = dict(facts)
        f["tunnel"] = {"kind": kind, "vni": vni, "vni_s2c": vni,
                       "outer_client": "172.16.0.1", "outer_server": "172.16.0.2"}
        fixture(name, pcap([(x, None) for x in frames]), {
            "capture": {"frames": len(frames), "decoded": {"tcp": len(frames)}, "undecoded": {}},
            "flows": [f], "findings": []})
    wlan_and_nested_fixtures(inner_pk, inner, gre, erspan2)
    # Shims: MPLS (two labels) and PPPoE over 802.1ad + 802.1Q; the flow has no tunnel context.
    def mpls(ip):
        return struct.pack("!II", (16 << 12) | 64, (32 << 12) | 0x100 | 64) + ip
    def pppoe(ip):
        return struct.pack("!BBHHH", 0x11, 0, 7, len(ip) + 2, 0x0021) + ip
    for name, frames in [
        ("mpls_ipv4.pcap", [eth(mpls(p), ethertype=0x8847) for p in inner_pk]),
        ("pppoe_qinq.pcap", [eth(pppoe(p) + bytes(6), ethertype=0x8864, vlans=((0x88a8, 10), (0x8100, 20)))
                             for p in inner_pk]),
    ]:
        fixture(name, pcap([(x, None) for x in frames]), {
            "capture": {"frames": len(frames), "decoded": {"tcp": len(frames)}, "undecoded": {}},
            "flows": [dict(inner)], "findings": []})
    # A GRE header cut short: counted as tunnel-header-truncated, the frame kept.
    bad = eth(ipv4("172.16.0.1", "172.16.0.2", 47, b"\x30\0\x65\x58\0\0", df=False))
    fixture("gre_header_truncated.pcap", pcap([(bad, None)]), {
        "capture": {"frames": 1, "decoded": {}, "undecoded": {"tunnel-header-truncated": 1}},
        "flows": [], "findings": []})
    # Without --vxlan-port, port 4790 is plain UDP: one UDP flow per source port.
    frames = wrap("vxlan", 4790, 7)
    # One flow per unordered pair of outer endpoints.
    pairs = {tuple(sorted([(f[26:30], f[34:36]), (f[30:34], f[36:38])])) for f in frames}
    fixture("vxlan_custom_port_not_decoded.pcap", pcap([(x, None) for x in frames]), {
        "capture": {"frames": len(frames), "decoded": {"udp": len(frames)}},
        "flows_count": len(pairs), "findings": []})
    # VXLAN header cut: counted as tunnel-header-truncated.
    bad = eth(ipv4("172.16.0.1", "172.16.0.2", 17, udp(50000, 4789, b"\x08\0\0"), df=False))
    fixture("vxlan_header_truncated.pcap", pcap([(bad, None)]), {
        "capture": {"frames": 1, "decoded": {}, "undecoded": {"tunnel-header-truncated": 1}},
        "flows": [], "findings": []})


def wlan80211(ip, to_ds, protected=False, subtype=8, order=False):
    """An IEEE 802.11 frame (IEEE 802.11-2020 §9.3.2.1): data type, `subtype` (8: QoS data, 12:
    QoS Null), ToDS from the station to the AP or FromDS back, LLC/SNAP (RFC 1042) + IPv4."""
    fc0 = (subtype << 4) | (2 << 2)
    fc1 = (0x01 if to_ds else 0x02) | (0x40 if protected else 0) | (0x80 if order else 0)
    sta, bssid, router = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b"), bytes.fromhex("02000000000c")
    addrs = bssid + sta + router if to_ds else sta + bssid + router
    h = struct.pack("<BBH", fc0, fc1, 44) + addrs + struct.pack("<H", 0x10)
    if subtype & 8:
        h += struct.pack("<H", 5)  # QoS control: TID 5
        if order:
            h += bytes(4)  # HT control
    if subtype & 4:
        return h  # no body
    if protected:
        # CCMP header and ciphertext: nothing in it reads as LLC.
        return h + bytes.fromhex("0100002000000000") + bytes((i * 37) & 0xFF for i in range(len(ip))) + bytes(8)
    return h + bytes.fromhex("aaaa03000000") + struct.pack("!H", 0x0800) + ip


def wlan_and_nested_fixtures(inner_pk, inner, gre, erspan2):
    """802.11 in GRE (a WLAN controller's tunnel from its APs) and VXLAN mirrored by ERSPAN."""
    client = lambda p: p[12:16] == ip4("10.1.0.1")
    ends = lambda c: ("172.16.0.1", "172.16.0.2") if c else ("172.16.0.2", "172.16.0.1")
    tunnel = lambda kind, vni, oc, os_, **kw: dict(
        {"kind": kind, "vni": vni, "vni_s2c": vni, "outer_client": oc, "outer_server": os_}, **kw)
    # AP 172.16.0.1 tunnels its stations' frames to the controller 172.16.0.2 with Aruba's GRE
    # protocol type 0x8200; the station is the client. Every other frame carries HT control.
    frames = []
    for i, p in enumerate(inner_pk):
        a, b = ends(client(p))
        body = wlan80211(p, to_ds=client(p), order=i % 2 == 1)
        frames.append(eth(ipv4(a, b, 47, gre(0x8200, body), ident=100 + i, df=False)))
    f = dict(inner)
    f["tunnel"] = tunnel("gre-wlan", 0, "172.16.0.1", "172.16.0.2")
    f["wireshark_filter"] = "gre && wlan && ip.addr == 10.1.0.1 && ip.addr == 10.1.0.2 && tcp.port == 33000 && tcp.port == 443"
    fixture("gre_wlan.pcap", pcap([(x, None) for x in frames]), {
        "capture": {"frames": len(frames), "decoded": {"tcp": len(frames)}, "undecoded": {}},
        "flows": [f], "findings": []})
    # Protected (encrypted) data frames stop there with a reason; a QoS Null frame has no body.
    frames = [eth(ipv4("172.16.0.1", "172.16.0.2", 47, gre(0x8210, wlan80211(p, True, protected=True)),
                       ident=200 + i, df=False)) for i, p in enumerate(inner_pk[:3])]
    frames.append(eth(ipv4("172.16.0.1", "172.16.0.2", 47, gre(0x8210, wlan80211(b"", True, subtype=12)),
                           ident=203, df=False)))
    fixture("gre_wlan_protected.pcap", pcap([(x, None) for x in frames]), {
        "capture": {"frames": 4, "decoded": {"non-ip": 1}, "undecoded": {"wlan-protected": 3}},
        "flows": [], "findings": []})
    # A switch mirrors (ERSPAN II, session 5, to the collector 172.16.0.2) the VXLAN traffic
    # between the VTEPs 192.168.0.1 and 192.168.0.2: the flow is the VXLAN tenant's, seen
    # through the mirror.
    frames = []
    for i, p in enumerate(inner_pk):
        c = client(p)
        va, vb = ("192.168.0.1", "192.168.0.2") if c else ("192.168.0.2", "192.168.0.1")
        vx = eth(ipv4(va, vb, 17, udp(50000 + i % 7, 4789, vxlan(5001, eth(p)), 0), ident=300 + i, df=False))
        frames.append(eth(ipv4("172.16.0.1", "172.16.0.2", 47, gre(0x88BE, erspan2(5, vx), seq=i),
                               ident=100 + i, df=False)))
    f = dict(inner)
    f["tunnel"] = tunnel("vxlan", 5001, "192.168.0.1", "192.168.0.2", via=["erspan"])
    f["wireshark_filter"] = ("erspan && vxlan.vni == 5001 && ip.addr == 10.1.0.1 && ip.addr == 10.1.0.2"
                             " && tcp.port == 33000 && tcp.port == 443")
    fixture("erspan_vxlan.pcap", pcap([(x, None) for x in frames]), {
        "capture": {"frames": len(frames), "decoded": {"tcp": len(frames)}, "undecoded": {}},
        "flows": [f], "findings": []})


def vlan_ipv6_fragment_fixtures():
    pk, facts = tcp_conversation("10.2.0.1", "10.2.0.2", data_segments=1)
    # 802.1ad outer tag + 802.1Q inner tag
    frames = [eth(p, vlans=((0x88A8, 100), (0x8100, 200))) for p in pk]
    fixture("qinq.pcap", pcap([(x, None) for x in frames]), {
        "capture": {"frames": len(frames), "decoded": {"tcp": len(frames)}, "undecoded": {}},
        "flows": [facts], "findings": []})
    # IPv6 with hop-by-hop and destination-options extension headers before TCP
    hbh = bytes([60, 0]) + b"\x01\x04\0\0\0\0"      # next: dest opts, PadN
    dst = bytes([6, 0]) + b"\x01\x04\0\0\0\0"       # next: TCP
    v6pk, f6 = tcp_conversation("2001:db8::1", "2001:db8::2", data_segments=2, v6=True)
    # Rebuild each packet with the extension headers between the IPv6 header and TCP.
    v6 = [eth(ipv6(str_ip6(p[8:24]), str_ip6(p[24:40]), 0, p[40:], ext=hbh + dst), 0x86DD)
          for p in v6pk]
    fixture("ipv6_ext_headers.pcap", pcap([(x, None) for x in v6]), {
        "capture": {"frames": len(v6), "decoded": {"tcp": len(v6)}, "undecoded": {}},
        "flows": [f6], "findings": []})
    # IPv4 fragments (a 3000-byte UDP datagram in three pieces) + IPv4 options on a TCP flow.
    dgram = udp(5353, 5353, b"f" * 2992)
    parts = [dgram[0:1480], dgram[1480:2960], dgram[2960:]]
    frags = []
    for i, part in enumerate(parts):
        frags.append(eth(ipv4("10.3.0.1", "10.3.0.2", 17, part, ident=7, df=False,
                              mf=i < 2, frag_off=(i * 1480) // 8)))
    opt = eth(ipv4("10.3.0.1", "10.3.0.2", 6, tcp(1, 2, 0, 0, SYN), options=b"\x01\x01\x01\x00"))
    fixture("ipv4_fragments.pcap", pcap([(x, None) for x in frags + [opt]]), {
        "capture": {"frames": 4, "decoded": {"ip-fragment": 3, "tcp": 1}, "undecoded": {}},
        "flows_count": 1,
        "findings": ["ip-fragmentation"],
        "finding_frames": {"ip-fragmentation": [1, 2, 3]}})
    # The close case: DF clear, no fragments (must stay silent).
    whole = [eth(ipv4("10.3.0.1", "10.3.0.2", 17, udp(5353, 5353, b"q" * 100), ident=i, df=False))
             for i in range(3)]
    fixture("ipv4_df_clear_no_fragments.pcap", pcap([(x, None) for x in whole]), {
        "capture": {"frames": 3, "decoded": {"udp": 3}}, "flows_count": 1, "findings": []})
    # IPv6 fragment header
    fh = struct.pack("!BBHI", 17, 0, (0 << 3) | 1, 0xABCD)
    v6frag = eth(ipv6("2001:db8::1", "2001:db8::2", 44, udp(1, 2, b"z" * 100)[:48], ext=fh), 0x86DD)
    fixture("ipv6_fragment.pcap", pcap([(v6frag, None)]), {
        "capture": {"frames": 1, "decoded": {"ip-fragment": 1}},
        "findings": ["ip-fragmentation"], "finding_frames": {"ip-fragmentation": [1]}})


def length_fixtures():
    # Snaplen 96: every data frame is cut, but flow byte counts come from the IP headers.
    pk, facts = tcp_conversation("10.4.0.1", "10.4.0.2", data_segments=4, seg=1400)
    frames = [eth(p) for p in pk]
    cut = [i + 1 for i, f in enumerate(frames) if len(f) > 96]
    fixture("snaplen_96.pcap", pcap([(x, None) for x in frames], snaplen=96), {
        "capture": {"frames": len(frames), "decoded": {"tcp": len(frames)}, "undecoded": {},
                    "captured_bytes": sum(min(len(f), 96) for f in frames),
                    "bytes": sum(len(f) for f in frames)},
        "flows": [facts], "findings": ["capture-snaplen"],
        "finding_frames": {"capture-snaplen": cut}})
    # TSO capture: IPv4 total length 0, real size only in the record's wire length.
    seg = tcp(80, 40000, 1, 1, ACK, b"t" * 20000)
    tso = eth(ipv4("10.5.0.2", "10.5.0.1", 6, seg, total_len=0))
    fixture("tso_total_len_zero.pcap", pcap([(tso, None)]), {
        "capture": {"frames": 1, "decoded": {"tcp": 1}},
        "flows": [{"protocol": "tcp", "c2s": {"payload_bytes": 20000, "max_ip_len": 20040,
                                              "offload": {"oversized_frames": 1, "mtu": 1500,
                                                          "max_segments_per_frame": 14}},
                   "tcp": {"capture_point": "client",
                           "capture_point_evidence": "tso-length-zero"}}],
        # Only a sender's tap sees IPv4 total length 0: TSO, before the NIC filled it in.
        "findings": ["oversized-frames"], "finding_frames": {"oversized-frames": [1]},
        "finding_details": {"oversized-frames": {"offload": "send"}}})


def pcapng_fixtures():
    pk, facts = tcp_conversation("10.6.0.1", "10.6.0.2", data_segments=1)
    v6pk, _ = tcp_conversation("2001:db8::1", "2001:db8::2", data_segments=1, v6=True)
    for e, name in (("<", "multi_section_le.pcapng"), (">", "multi_section_be.pcapng")):
        b = ng_shb(e)
        b += ng_idb(e, 1, 65535)                        # if 0: Ethernet, default µs
        b += ng_idb(e, 101, 0, tsresol=9)              # if 1: raw IP, ns
        b += ng_idb(e, 276, 0, tsresol=0x8A, tsoffset=100)  # if 2: SLL2, 2^-10 s, +100 s
        b += ng_epb(e, 0, T0 * 10**6, eth(pk[0]))                         # frame 1
        b += ng_epb(e, 1, T0 * 10**9 + 1, pk[1])                          # frame 2
        b += ng_unknown(e)                                                # skipped
        b += ng_custom(e, b"hello")                                       # frame 3 (non-packet)
        sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, b"\2\0\0\0\0\1\0\0")
        b += ng_epb(e, 2, (T0 - 100) * 1024 + 512, sll2 + pk[2])          # frame 4: T0 + 0.5 s
        b += ng_isb(e, 0, 7, 3)
        # Section 2: its own interfaces; SPB and OPB on interface 0 (Ethernet).
        b += ng_shb(e)
        b += ng_idb(e, 1, 0)
        b += ng_spb(e, eth(pk[3]))                                        # frame 5
        b += ng_opb(e, 0, T0 * 10**6 + 600_000, eth(pk[4]))               # frame 6
        for p in pk[5:]:
            b += ng_epb(e, 0, T0 * 10**6 + 700_000, eth(p))
        for p in v6pk[:2]:
            b += ng_epb(e, 0, T0 * 10**6 + 800_000, eth(p, 0x86DD))
        n = 6 + len(pk[5:]) + 2
        fixture(name, b, {
            "capture": {"format": "pcapng", "frames": n, "sections": 2, "interfaces": 4,
                        "decoded": {"tcp": n - 1},
                        "undecoded": {"pcapng-non-packet-record": 1},
                        "first_timestamp_ns": T0 * 10**9,
                        "last_timestamp_ns": T0 * 10**9 + 800_000_000,
                        "interface_stats": [{"interface": 0, "link_type": 1, "if_drop": 7,
                                             "os_drop": 3, "if_recv": None, "usr_deliv": None}],
                        "link_types": [
                            {"link_type": 1, "name": "ethernet", "frames": n - 3},
                            {"link_type": 101, "name": "raw-ip", "frames": 1},
                            {"link_type": 276, "name": "linux-sll2", "frames": 1}]},
            "flows_count": 2,
            "flows": [dict(facts, frames=len(pk)), {"protocol": "tcp", "frames": 2}],
            "findings": []})
    # Two interfaces whose records interleave out of time order: the capture spans the earliest
    # to the latest timestamp, never a negative duration.
    e = "<"
    ooo = ng_shb(e) + ng_idb(e, 1) + ng_idb(e, 1)
    ooo += ng_epb(e, 0, (T0 + 5) * 10**6, eth(pk[0]))
    ooo += ng_epb(e, 1, (T0 + 1) * 10**6, eth(pk[1]))
    ooo += ng_epb(e, 0, (T0 + 3) * 10**6, eth(pk[2]))
    # Frames 2 and 3 are older than frame 1 (by 4 s and 2 s): capture-timestamps warns; the flow,
    # like the capture, spans the earliest to the latest time.
    fixture("pcapng_out_of_order.pcapng", ooo, {
        "capture": {"frames": 3, "first_timestamp_ns": (T0 + 1) * 10**9,
                    "last_timestamp_ns": (T0 + 5) * 10**9, "duration_s": 4.0},
        "flows": [{"duration_s": 4.0, "first_timestamp_ns": (T0 + 1) * 10**9,
                   "last_timestamp_ns": (T0 + 5) * 10**9}],
        "findings": ["capture-timestamps"],
        "finding_frames": {"capture-timestamps": [2, 3]},
        "finding_severity": {"capture-timestamps": "warning"},
        "finding_details": {"capture-timestamps": {
            "steps_back": 2, "largest_step_back_s": 4.0, "bad_fraction_records": 0}}})
    # 64-bit timestamps at the limits, the second frame of the flow far before the first: the
    # flow's duration is the span of its earliest and latest time, never negative.
    ext = ng_shb(e) + ng_idb(e, 1)
    ext += ng_epb(e, 0, 2**63 - 1, eth(pk[0]))
    ext += ng_epb(e, 0, 0, eth(pk[1]))
    fixture("pcapng_extreme_times.pcapng", ext, {
        "capture": {"frames": 2, "first_timestamp_ns": 0, "last_timestamp_ns": 2**63 - 1},
        "flows_count": 1,
        "flows": [{"first_timestamp_ns": 0, "last_timestamp_ns": 2**63 - 1}],
        "findings": ["capture-timestamps"],
        "finding_frames": {"capture-timestamps": [2]},
        "finding_severity": {"capture-timestamps": "warning"}})
    # Two taps merged with half a millisecond of jitter: out of order, but nothing a user reads
    # changes; capture-timestamps stays silent.
    jit = ng_shb(e) + ng_idb(e, 1) + ng_idb(e, 1)
    jit += ng_epb(e, 0, T0 * 10**6 + 1_000, eth(pk[0]))
    jit += ng_epb(e, 1, T0 * 10**6 + 500, eth(pk[1]))
    jit += ng_epb(e, 0, T0 * 10**6 + 2_000, eth(pk[2]))
    fixture("pcapng_merged_taps_jitter.pcapng", jit, {
        "capture": {"frames": 3, "first_timestamp_ns": T0 * 10**9 + 500_000,
                    "last_timestamp_ns": T0 * 10**9 + 2_000_000},
        "findings": []})
    # A classic pcap whose last record (at T0 + 0.7 s) has a microsecond field of 1,000,000 (a
    # writer's bug): its time carries into the next second, as libpcap does, and
    # capture-timestamps warns.
    bad = pcap([(eth(p), None) for p in pk])
    last = len(bad) - (16 + len(eth(pk[-1])))
    bad = bad[:last + 4] + struct.pack("<I", 1_000_000) + bad[last + 8:]
    fixture("pcap_bad_usec.pcap", bad, {
        "capture": {"frames": len(pk), "last_timestamp_ns": (T0 + 1) * 10**9},
        "flows_count": 1,
        "findings": ["capture-timestamps"],
        "finding_frames": {"capture-timestamps": [len(pk)]},
        "finding_severity": {"capture-timestamps": "warning"},
        "finding_details": {"capture-timestamps": {
            "steps_back": 0, "bad_fraction_records": 1}}})
    # Two captures joined, the second 5.8 years after the first (as ndpi's 1kxun): the time is in
    # two parts, the duration counts the time within them (0.15 s each), the jump is named by
    # its frame; time going forward is no capture-timestamps finding.
    c1, _ = tcp_conversation("10.8.0.1", "10.8.0.2", data_segments=5)
    c2, _ = tcp_conversation("10.8.0.3", "10.8.0.4", data_segments=5)
    later = 184_280_000
    joined = [(eth(p), None, T0 + i * 0.01) for i, p in enumerate(c1)]
    joined += [(eth(p), None, T0 + later + i * 0.01) for i, p in enumerate(c2)]
    fixture("pcap_joined_years_apart.pcap", pcap_timed(joined), {
        "capture": {"frames": len(joined), "first_timestamp_ns": T0 * 10**9,
                    "duration_s": 0.3, "time_parts": 2,
                    "time_jumps": [{"frame": len(c1) + 1, "step_s": later - 0.15}]},
        "flows_count": 2,
        "flows": [{"duration_s": 0.15}, {"duration_s": 0.15}],
        "findings": []})
    # Only a section header and an interface: valid, empty.
    fixture("empty_section.pcapng", ng_shb("<") + ng_idb("<", 1), {
        "capture": {"format": "pcapng", "frames": 0, "file_truncated": False},
        "flows": [], "findings": []})
    # A packet naming an interface that does not exist is counted, not dropped.
    bad_if = ng_shb("<") + ng_idb("<", 1) + ng_epb("<", 5, 0, eth(pk[0])) + ng_epb("<", 0, 0, eth(pk[0]))
    fixture("pcapng_unknown_interface.pcapng", bad_if, {
        "capture": {"frames": 2, "decoded": {"tcp": 1}, "undecoded": {"pcapng-unknown-interface": 1}},
        "findings": []})


def broken_fixtures():
    pk, _ = tcp_conversation("10.7.0.1", "10.7.0.2", data_segments=5, seg=1400)
    full = pcap([(eth(p), None) for p in pk])
    # Cut in the middle of the 6th record: 5 frames reported, warning, exit 0.
    off = 24
    for p in pk[:5]:
        off += 16 + len(eth(p))
    fixture("cut_mid_record.pcap", full[:off + 16 + 30], {
        "exit_code": 0,
        "capture": {"frames": 5, "file_truncated": True, "truncation": {"offset": off, "reason": "cut-short"}},
        "findings": ["capture-file-truncated"], "finding_frames": {"capture-file-truncated": [5]}})
    fixture("cut_mid_record_header.pcap", full[:off + 7], {
        "exit_code": 0, "capture": {"frames": 5, "file_truncated": True},
        "findings": ["capture-file-truncated"]})
    # A record claiming 16 MiB: damaged. Report what was read, then exit 2.
    bad = bytearray(full)
    struct.pack_into("<I", bad, off + 8, 0x00FF0000)
    fixture("corrupt_record_length.pcap", bytes(bad), {
        "exit_code": 2,
        "capture": {"frames": 5, "file_truncated": True, "truncation": {"offset": off, "reason": "corrupt"}},
        "findings": ["capture-file-truncated"]})
    # pcapng block with length 8 (< 12): pcap-parser would panic on it (crates.md B4).
    ng = ng_shb("<") + ng_idb("<", 1) + ng_epb("<", 0, 0, eth(pk[0])) + struct.pack("<II", 6, 8) + b"\0" * 16
    fixture("pcapng_block_len_8.pcapng", ng, {
        "exit_code": 2, "capture": {"frames": 1, "file_truncated": True,
                                    "truncation": {"reason": "corrupt"}},
        "findings": ["capture-file-truncated"]})
    # Not captures at all: exit 2, one line on stderr naming the file.
    fixture("empty.pcap", b"", {"exit_code": 2, "stderr_contains": "empty file"})
    fixture("not_a_capture.txt", b"GET / HTTP/1.1\r\nHost: example\r\n\r\n", {
        "exit_code": 2, "stderr_contains": "not a pcap or pcapng capture"})
    fixture("pcap_header_cut.pcap", full[:10], {"exit_code": 2, "stderr_contains": "shorter than 24 bytes"})
    shb = bytearray(ng_shb("<"))
    struct.pack_into("<H", shb, 12, 0)  # major version 0
    fixture("pcapng_bad_version.pcapng", bytes(shb), {
        "exit_code": 2, "stderr_contains": "unsupported pcapng version 0.0"})
    fixture("gzip_garbage.pcap.gz", gzip.compress(b"this is not a capture", mtime=0), {
        "exit_code": 2, "stderr_contains": "not a pcap or pcapng capture"})



# ---------------------------------------------------------------- TCP analysis fixtures


WS7_SACK = bytes.fromhex("020405b4" "01030307" "0402" "0101")  # MSS 1460, NOP, WS 7, SACK-perm, NOPs


def sack_opt(blocks):
    b = b"".join(struct.pack("!II", l, r) for l, r in blocks)
    return b"\x01\x01" + struct.pack("!BB", 5, 2 + len(b)) + b


class Script:
    """A scripted capture: a clock and the frames sent so far, as (time, bytes)."""

    def __init__(self, t0):
        self.t = float(t0)
        self.frames = []

    def at(self, dt):
        self.t += dt
        return self

    def pcap(self):
        return pcap_timed([(data, None, t) for t, data in self.frames])


class Conv(Script):
    """A scripted TCP conversation between a client and a server. Sequence numbers are relative
    (0 = the SYN) and made absolute with each side's ISN; the script says what is on the wire."""

    def __init__(self, cisn=1000, sisn=5000, c=("10.20.0.1", 40000), s=("10.20.0.2", 80), t0=T0,
                 wrap=None):
        super().__init__(t0)
        self.isn = {"c": cisn, "s": sisn}
        self.ep = {"c": c, "s": s}
        # Each side's IPv4 ID counter: +1 per packet, as Linux does for a connected socket.
        self.ids = {"c": 0x1000, "s": 0x2000}
        # Each side's TTL as the capture sees it (64: Linux, sent by the capture host or one on
        # its link).
        self.ttl = {"c": 64, "s": 64}
        # wrap(side, ip_packet, frame_index) -> frame bytes (tunnels); default: Ethernet.
        self.wrap = wrap or (lambda side, p, n: eth(p))

    def segments(self, first, last, seg=1448, gap=0.0001, skip=(), **kw):
        """The server sends segments `first`..`last - 1` (relative sequence 1 + i * seg), `gap`
        apart, leaving out those in `skip`; returns their frame numbers."""
        frames = []
        for i in range(first, last):
            if i not in skip:
                frames.append(self.send("s", 1 + i * seg, 1, ACK, seg, **kw))
            self.at(gap)
        return frames

    def send(self, side, seq, ack, flags, length=0, win=512, options=b"", ident=None, df=True,
             total_len=None):
        other = "s" if side == "c" else "c"
        (a, ap), (b, bp) = self.ep[side], self.ep[other]
        aseq = (self.isn[side] + seq) % 2**32
        aack = (self.isn[other] + ack) % 2**32 if flags & ACK else 0
        seg = tcp(ap, bp, aseq, aack, flags, b"d" * length, win=win, options=options)
        if ident is None:
            ident = self.ids[side]
            self.ids[side] = (ident + 1) % 65536
        ip = ipv4(a, b, 6, seg, ident=ident, df=df, total_len=total_len, ttl=self.ttl[side])
        self.frames.append((self.t, self.wrap(side, ip, len(self.frames))))
        return len(self.frames)

    def handshake(self, rtt=0.010, options=WS7_SACK, win=65535, local=None):
        """`local`: the side the capture is taken on ("c" or "s"), which answers in 20 µs; by
        default the capture sits halfway (on the wire)."""
        first, second = {None: (rtt / 2, rtt / 2), "c": (rtt, 20e-6), "s": (20e-6, rtt)}[local]
        self.send("c", 0, 0, SYN, win=win, options=options)
        self.at(first)
        self.send("s", 0, 1, SYN | ACK, win=win, options=options)
        self.at(second)
        self.send("c", 1, 1, ACK)

    def bulk(self, start, count, seg=1448, gap=0.0001, ack_every=2, ack_delay=0.005, skip=(),
             win=512):
        """Server sends `count` segments from relative `start`; the client ACKs every
        `ack_every` segments `ack_delay` later. Segments in `skip` are not on the wire."""
        pending = []
        for i in range(count):
            if i not in skip:
                # PSH marks the end of the write, as Linux sets it.
                self.send("s", start + i * seg, 1, ACK | (PSH if i == count - 1 else 0), seg)
            if (i + 1) % ack_every == 0:
                pending.append(start + (i + 1) * seg)
            self.at(gap)
        self.at(ack_delay)
        for a in pending:
            self.send("c", 1, a, ACK, win=win)
            self.at(gap)
        return start + count * seg

    def close(self, send_end, recv_end=1):
        self.send("s", send_end, recv_end, FIN | ACK)
        self.at(0.001)
        self.send("c", recv_end, send_end + 1, FIN | ACK)
        self.at(0.001)
        self.send("s", send_end + 1, recv_end + 1, ACK)



def pcap_timed(records):
    """Classic pcap with explicit per-record times: records of (data, wire_len or None, t)."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    for data, wire, t in records:
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        out += struct.pack("<IIII", sec, usec, len(data), wire or len(data)) + data
    return out


def tcp_expect(flow, findings=(), frames=None, severity=None, details=None, **extra):
    e = {"flows": [flow], "flows_count": 1, "findings": sorted(findings)}
    if frames:
        e["finding_frames"] = frames
    if severity:
        e["finding_severity"] = severity
    if details:
        e["finding_details"] = details
    e.update(extra)
    return e


def tcp_analysis_fixtures():
    # A clean bulk transfer: every detector must stay silent.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 20)
    c.close(end)
    fixture("tcp_clean_transfer.pcap", c.pcap(), tcp_expect({
        "tcp": {"syn_seen": True, "syn_ack_seen": True, "window_scaling_known": True},
        "s2c": {"data_segments": 20, "data_bytes": 20 * 1448, "new_bytes": 20 * 1448,
                "retransmissions": 0, "lost_segments": 0, "dup_acks": 0, "out_of_order": 0,
                "zero_windows": 0, "keep_alives": 0, "window_scale": 7, "mss": 1460,
                "sack_permitted": True, "capture_gap_bytes": 0, "max_segment_bytes": 1448},
        "c2s": {"data_segments": 0, "window_scale": 7},
    }))

    # The same transfer again from another ephemeral port, with a loss: the "after" capture of
    # `compare --ignore-ephemeral-ports` tests (matched to tcp_clean_transfer.pcap only when the
    # client's port is ignored).
    c = Conv(c=("10.20.0.1", 40123))
    c.handshake()
    end = c.bulk(1, 20)
    c.send("s", 1 + 5 * 1448, 1, ACK, 1448)
    c.close(end)
    fixture("tcp_clean_transfer_new_port.pcap", c.pcap(), tcp_expect({
        "s2c": {"data_segments": 21, "retransmissions": 1},
    }, findings=["retransmissions"], severity={"retransmissions": "info"}))

    # The server's sequence numbers cross 2^32 in the middle of the transfer.
    c = Conv(sisn=2**32 - 10001)
    c.handshake()
    end = c.bulk(1, 20)
    c.close(end)
    fixture("tcp_seq_wrap.pcap", c.pcap(), tcp_expect({
        "s2c": {"isn": 2**32 - 10001, "data_segments": 20, "new_bytes": 20 * 1448,
                "retransmissions": 0, "lost_segments": 0, "out_of_order": 0,
                "capture_gap_bytes": 0, "acked_unseen": 0},
    }))

    # Captured mid-connection: no handshake, so window scaling is unknown.
    c = Conv()
    c.send("c", 1, 100001, ACK, win=512)
    c.at(0.001)
    c.bulk(100001, 10)
    fixture("tcp_no_handshake.pcap", c.pcap(), tcp_expect({
        "tcp": {"syn_seen": False, "syn_ack_seen": False, "window_scaling_known": False,
                "initial_rtt_ms": None},
        "s2c": {"data_segments": 10, "new_bytes": 10 * 1448, "retransmissions": 0,
                "lost_segments": 0, "window_scale": None, "isn": None},
    }))

    # Sender-side capture: segment 5 is lost after the capture point; the receiver SACKs the rest
    # with three duplicate ACKs and the sender fast-retransmits.
    c = Conv()
    c.handshake()
    seg = 1448
    c.segments(0, 10)
    c.at(0.005)
    c.send("c", 1, 1 + 5 * seg, ACK, win=512)
    for k in range(3):
        c.at(0.0001)
        c.send("c", 1, 1 + 5 * seg, ACK, win=512,
               options=sack_opt([(5000 + 1 + 6 * seg, 5000 + 1 + (7 + 2 * k) * seg)]))
    c.at(0.0005)
    retx = c.send("s", 1 + 5 * seg, 1, ACK | PSH, seg)
    c.at(0.005)
    c.send("c", 1, 1 + 10 * seg, ACK, win=512)
    c.close(1 + 10 * seg)
    fixture("tcp_sack_fast_retransmission.pcap", c.pcap(), tcp_expect({
        # Ten segments in flight at the peak; at the resend, 5 are unacknowledged but the SACK
        # blocks cover 4 of them.
        "s2c": {"retransmissions": 1, "fast_retransmissions": 1, "retransmitted_bytes": seg,
                "new_bytes": 10 * seg, "data_segments": 11,
                "bytes_in_flight": {"peak_bytes": 10 * seg}},
        "c2s": {"dup_acks": 3},
        # One loss event on an 11-segment flow: no rate to speak of, so info.
    }, findings=["retransmissions"], frames={"retransmissions": [retx]},
        severity={"retransmissions": "info"}))

    # A mirror port copying every frame of a transfer 3 µs later (tcptrace's "hardware
    # duplicates"): Wireshark flags the copies as retransmissions; this tool reports capture
    # duplicates and no retransmissions.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 30)
    c.close(end)
    copies = []
    for t, data in c.frames:
        copies += [(t, data), (t + 3e-6, data)]
    c.frames = copies
    n = len(copies) // 2
    fixture("tcp_span_duplicates.pcap", c.pcap(), tcp_expect({}, findings=["capture-duplicates"],
        frames={"capture-duplicates": list(range(2, 2 * 20 + 1, 2))},
        severity={"capture-duplicates": "info"},
        details={"capture-duplicates": {"duplicates": n}}))
    # Close cases: a fast retransmission 300 µs after the original takes the sender's next IP
    # ID, so it is a retransmission, not a copy; and a data segment that the tap delivers after
    # the sender's next frame (its ID is behind) is out of order, not resent.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 30)
    c.at(0.0003)
    retx = c.send("s", end - 1448, 1, ACK | PSH, 1448)
    c.close(end)
    fixture("tcp_fast_resend_not_duplicate.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 1, "capture_duplicates": 0},
    }, findings=["retransmissions"], frames={"retransmissions": [retx]},
        severity={"retransmissions": "info"}))

    # The tap delivers two data segments after the sender's next frame (a pure ACK whose IPv4 ID
    # is two higher), as a mirror port did in nDPI's ultrasurf.pcap: Wireshark calls the second
    # late segment a retransmission; the IDs say it was sent once, before the ACK.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 12)
    a = c.send("s", end, 1, ACK | PSH, 98)
    c.at(2e-6)
    b = c.send("s", end + 98, 1, ACK | PSH, 98)
    c.at(2e-6)
    ack = c.send("s", end + 196, 1, ACK)
    c.at(2e-6)
    times = [c.frames[i - 1][0] for i in (a, b, ack)]
    late = [c.frames[i - 1][1] for i in (ack, a, b)]
    c.frames[a - 1:ack] = list(zip(times, late))
    c.at(0.005)
    c.send("c", 1, end + 196, ACK)
    c.close(end + 196)
    fixture("tcp_capture_reordered.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 1, "out_of_order": 1, "capture_duplicates": 0},
    }, findings=["out-of-order"]))

    # Three retransmissions in a long transfer (602 segments): 0.5%, below the 1% threshold.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 600)
    c.at(0.3)
    retx = [c.send("s", end - k * 1448, 1, ACK | PSH, 1448) for k in (3, 2, 1)]
    c.close(end)
    fixture("tcp_retransmission_below_threshold.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 3, "fast_retransmissions": 0, "spurious_retransmissions": 3},
    }, findings=["retransmissions"], frames={"retransmissions": retx},
        severity={"retransmissions": "info"}))

    # Receiver-side capture with GRO: super-segments of 10 MSS (14,480 bytes) are normal here.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 8, seg=14480, ack_every=1)
    c.close(end)
    fixture("tcp_super_segments.pcap", c.pcap(), tcp_expect({
        # RTT: SYN/ACK 5 ms, each super-segment acked 5.8 ms after it left, the FIN 1 ms; all
        # eight are in flight before the first ACK.
        "s2c": {"data_segments": 8, "max_segment_bytes": 14480, "mss": 1460, "new_bytes": 8 * 14480,
                "retransmissions": 0, "lost_segments": 0, "max_ip_len": 14520,
                "rtt": {"source": "seq-ack", "samples": 10, "min_ms": 1.0, "max_ms": 5.8},
                "bytes_in_flight": {"peak_bytes": 8 * 14480},
                "offload": {"oversized_frames": 8, "max_segments_per_frame": 10,
                            "segments_per_frame": 10.0}},
        # The handshake is symmetric here (a capture halfway): GRO or TSO cannot be told apart.
    }, findings=["oversized-frames"], frames={"oversized-frames": list(range(4, 12))},
        details={"oversized-frames": {"offload": "unknown", "mtu": 1500, "mtu_source": "mss",
                                      "segments_histogram": {"9-16": 8}}}))

    # The receiver stops reading: zero window for 0.5 s, two zero-window probes, then an update.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 4, ack_every=4)
    c.at(0.001)
    zw = [c.send("c", 1, end, ACK, win=0)]
    c.at(0.2)
    c.send("s", end, 1, ACK, 1)
    c.at(0.001)
    zw.append(c.send("c", 1, end, ACK, win=0))
    c.at(0.299)
    c.send("c", 1, end, ACK, win=512)
    c.at(0.001)
    end = c.bulk(end, 4, ack_every=4)
    c.close(end)
    fixture("tcp_zero_window.pcap", c.pcap(), tcp_expect({
        "c2s": {"zero_windows": 2, "zero_window_time_s": 0.5, "zero_window_at_end": False},
        "s2c": {"zero_window_probes": 1},
    }, findings=["zero-window"], frames={"zero-window": zw}))

    # Close case: the window shrinks to one segment but never to zero.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 6, ack_every=2, win=12)
    c.close(end)
    fixture("tcp_small_window.pcap", c.pcap(), tcp_expect({
        "c2s": {"zero_windows": 0, "zero_window_time_s": 0.0},
    }))

    # An idle connection kept alive: 0- and 1-byte probes one below the next sequence number.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 2)
    ka = []
    for n in range(3):
        c.at(10.0)
        ka.append(c.send("c", 0, end, ACK, n % 2))
        c.at(0.005)
        c.send("s", end, 1, ACK, win=512)
    fixture("tcp_keepalive.pcap", c.pcap(), tcp_expect({
        "c2s": {"keep_alives": 3},
    }, findings=["keep-alive"], frames={"keep-alive": ka}))

    # Two segments swapped on the path (0.1 ms apart, well under the 10 ms handshake RTT).
    c = Conv()
    c.handshake()
    seg = 1448
    order = [0, 1, 3, 2, 4, 5]
    ooo = None
    for i in order:
        n = c.send("s", 1 + i * seg, 1, ACK, seg)
        if i == 2:
            ooo = n
        c.at(0.0001)
    c.at(0.005)
    c.send("c", 1, 1 + 6 * seg, ACK, win=512)
    c.close(1 + 6 * seg)
    fixture("tcp_out_of_order.pcap", c.pcap(), tcp_expect({
        "s2c": {"out_of_order": 1, "retransmissions": 0, "lost_segments": 1},
    }, findings=["out-of-order"], frames={"out-of-order": [ooo]}))

    # Receiver-side capture that missed segment 3: the receiver ACKs past it (it did arrive).
    c = Conv()
    c.handshake()
    end = c.bulk(1, 8, skip=(3,), ack_every=8)
    c.close(end)
    fixture("tcp_capture_gap.pcap", c.pcap(), tcp_expect({
        "s2c": {"lost_segments": 1, "capture_gap_bytes": 1448, "capture_gap_events": 1,
                "retransmissions": 0, "new_bytes": 8 * 1448},
    }, findings=["capture-gaps"], frames={"capture-gaps": [7, 11]}))

    # A SYN refused with RST, then the same SYN (same ISN) again and a whole connection: one
    # connection, as tshark counts tcp.stream (a retransmitted SYN, not a port reuse).
    c = Conv()
    c.send("c", 0, 0, SYN, options=WS7_SACK)
    c.at(0.001)
    c.send("s", 0, 1, RST | ACK)
    c.at(1.0)
    c.handshake()
    c.close(c.bulk(1, 4))
    fixture("tcp_syn_again_after_rst.pcap", c.pcap(), {
        "flows_count": 1, "findings": ["retransmissions"],
        "finding_severity": {"retransmissions": "info"}})

    # A challenge ACK (RFC 5961 §4): the server still holds an older connection on these ports
    # and answers the SYN with that connection's numbers; the client resets them (RFC 9293
    # §3.10.7.3: <SEQ=SEG.ACK><CTL=RST>, no ACK bit) and its SYN timer sends the same SYN (same
    # ISN) a second later; then a 2 kB exchange. The ACK acknowledges nothing of this connection:
    # it lands 976 MB ahead of the ISN (counted as missed bytes before) or 445 MB behind it (as
    # bytes in flight, a high-inflight warning). In flight: the 1000 bytes each side sent. The
    # retransmission flags are tshark's: the resent SYN, and the server's SYN/ACK, data and FIN,
    # which lie below the sequence number of its challenge ACK (the older connection's). Only
    # the SYN was resent: the server's frames carry sequence space it never sent before, so the
    # finding counts one retransmission (the client's) and no server bytes resent.
    for name, old in (("tcp_challenge_ack.pcap", 976_000_000),
                      ("tcp_challenge_ack_behind.pcap", -445_000_000)):
        c = Conv()
        c.send("c", 0, 0, SYN, options=WS7_SACK)
        c.at(0.005)
        c.send("s", 0x30000000, old, ACK, win=502)
        c.at(0.005)
        c.send("c", old, 0, RST, win=0)
        c.at(1.0)
        c.handshake()
        c.send("c", 1, 1, ACK | PSH, 1000)
        c.at(0.005)
        c.send("s", 1, 1001, ACK | PSH, 1000)
        c.at(0.005)
        c.send("c", 1001, 1001, ACK)
        c.at(0.1)
        c.close(1001, 1001)
        inflight = {"capture_gap_bytes": 0, "capture_gap_events": 0,
                    "bytes_in_flight": {"peak_bytes": 1000}}
        server = dict(inflight, retransmitted_bytes=0, stale_retransmissions=3)
        fixture(name, c.pcap(), tcp_expect({"c2s": inflight, "s2c": server},
                                           findings=["retransmissions"],
                                           severity={"retransmissions": "info"},
                                           details={"retransmissions": {
                                               "side": "client", "retransmissions": 1,
                                               "other_side_retransmissions": 0}}))

    # Close case: the capture saw the SYN but missed the SYN/ACK, the handshake's ACK and the
    # client's 1000-byte request; the server's ACK of it lies within the window a SYN can offer
    # (65,535 bytes, RFC 7323 §2.2) of what the client was seen to send: a capture gap.
    c = Conv()
    c.send("c", 0, 0, SYN, options=WS7_SACK)
    c.at(0.015)
    c.send("s", 1, 1001, ACK | PSH, 1000)
    c.at(0.005)
    c.send("c", 1001, 1001, ACK)
    c.at(0.1)
    c.close(1001, 1001)
    fixture("tcp_capture_gap_after_syn.pcap", c.pcap(), tcp_expect({
        "c2s": {"capture_gap_bytes": 1000, "capture_gap_events": 1},
    }, findings=["capture-gaps"]))

    # Close case: a capture that starts mid-stream (no SYN) and misses the transfer's last
    # segment, which the receiver acknowledges: a capture gap, with nothing to check the ACK
    # against but the data seen.
    c = Conv()
    c.segments(100, 104)
    c.at(0.005)
    c.send("c", 1, 1 + 105 * 1448, ACK, win=512)
    # Without a handshake the first sender is taken for the client: the server's data is "c2s".
    fixture("tcp_capture_gap_midstream.pcap", c.pcap(), tcp_expect({
        "c2s": {"capture_gap_bytes": 1448, "capture_gap_events": 1},
    }, findings=["capture-gaps"]))
    # Close case: the ports reused by a new connection (a new ISN) after the first one closed:
    # two connections.
    c = Conv()
    c.handshake()
    c.close(c.bulk(1, 4))
    c.at(1.0)
    c.isn = {k: (v + 0x01000000) % 2**32 for k, v in c.isn.items()}
    c.handshake()
    c.close(c.bulk(1, 4))
    fixture("tcp_port_reuse_new_isn.pcap", c.pcap(), {"flows_count": 2, "findings": []})

    # A slice of a long transfer (as Zeek's bigtransfer trace): 4 segments, then 4 more 100 MB
    # further on, which the receiver acknowledges: it got the 100 MB the capture never held. The gap is real, but the
    # capture holds under 1% of the connection: the message says so instead of a "lower bound".
    c = Conv()
    c.handshake()
    jump = 100_000_000
    for i in range(4):
        c.send("s", 1 + i * seg, 1, ACK, seg)
        c.at(0.0001)
    c.send("c", 1, 1 + 4 * seg, ACK, win=512)
    c.at(0.5)
    for i in range(4):
        c.send("s", 1 + jump + i * seg, 1, ACK, seg)
        c.at(0.0001)
    c.send("c", 1, 1 + jump + 4 * seg, ACK, win=512)
    fixture("tcp_capture_slice_of_transfer.pcap", c.pcap(), {
        "flows_count": 1, "findings": ["capture-gaps"],
        "finding_details": {"capture-gaps": {"captured_bytes": 8 * seg,
                                             "gap_bytes": jump - 4 * seg}}})

    # Close case: the same gap, but IP fragments pass between the two hosts (a 1448-byte
    # segment too big for the path, fragmented on the way): the bytes are probably in them, as
    # Wireshark would show after reassembly. Info, not a warning.
    c = Conv()
    c.handshake()
    c.frames.append((c.t, eth(ipv4("10.20.0.2", "10.20.0.1", 6, b"f" * 600, ident=0x3000,
                                   df=False, frag_off=100))))
    end = c.bulk(1, 8, skip=(3,), ack_every=8)
    c.close(end)
    fixture("tcp_capture_gap_in_fragments.pcap", c.pcap(), tcp_expect({
        "s2c": {"lost_segments": 1, "capture_gap_bytes": 1448, "capture_gap_events": 1},
    }, findings=["capture-gaps", "ip-fragmentation"], severity={"capture-gaps": "info"},
        details={"capture-gaps": {"in_fragments": True}}))

    # Close case: segment 3 lost on the network before the capture point, then resent: a real
    # loss (retransmission), not a capture gap.
    c = Conv()
    c.handshake()
    seg = 1448
    c.segments(0, 8, skip=(3,))
    c.at(0.005)
    c.send("c", 1, 1 + 3 * seg, ACK, win=512)
    c.at(0.2)
    retx = c.send("s", 1 + 3 * seg, 1, ACK | PSH, seg)
    c.at(0.005)
    c.send("c", 1, 1 + 8 * seg, ACK, win=512)
    c.close(1 + 8 * seg)
    fixture("tcp_loss_before_capture.pcap", c.pcap(), tcp_expect({
        "s2c": {"lost_segments": 1, "capture_gap_bytes": 0, "retransmissions": 1,
                "new_bytes": 8 * seg},
    }, findings=["retransmissions"], frames={"retransmissions": [retx]}))


# ------------------------------------------------ capture duplicates away from their twin (issue 32)


# MSS 1460, SACK-perm, timestamps (TSval set per frame), NOP, WS 7.
def ts_syn_opts(tsval):
    return bytes.fromhex("020405b4" "0402") + ts_opt(tsval, 0)[2:] + bytes.fromhex("01030307")


def ts_opt(tsval, tsecr):
    """NOP, NOP, timestamps (RFC 7323)."""
    return b"\x01\x01" + struct.pack("!BBII", 8, 10, tsval, tsecr)


def far_copies(c, originals, delays):
    """Captures each frame in `originals` (frame numbers) a second time, `delays[k % len]` seconds
    after it, and puts the capture in time order (a mirror port or bonded tap whose copies queue
    behind other frames). Returns the copies' frame numbers and how many frames after its twin
    each one landed."""
    tagged = [(t, i, d) for i, (t, d) in enumerate(c.frames)]
    first_copy = len(tagged)
    for k, n in enumerate(originals):
        t, d = c.frames[n - 1]
        tagged.append((t + delays[k % len(delays)], first_copy + k, d))
    tagged.sort(key=lambda r: (r[0], r[1]))
    c.frames = [(t, d) for t, _, d in tagged]
    where = {i: pos + 1 for pos, (_, i, _) in enumerate(tagged)}
    copies = [where[first_copy + k] for k in range(len(originals))]
    after = [where[first_copy + k] - where[n - 1] for k, n in enumerate(originals)]
    return copies, after


def capture_duplicate_fixtures():
    # Every data segment captured twice, the copy 1.2-3.6 ms and 2-6 frames after its twin, with
    # ACKs, other segments and other copies in between (a mirror port whose copies queue). The
    # copies keep their twin's IPv4 ID; Wireshark flags them as retransmissions, spurious
    # retransmissions or out-of-order segments. This tool reports capture duplicates only.
    c = Conv()
    c.handshake()
    c.at(0.001)
    data = [c.send("c", 1, 1, ACK | PSH, 300)]
    c.at(0.001)
    seg, n = 1448, 24
    for i in range(n):
        data.append(c.send("s", 1 + i * seg, 301, ACK | (PSH if i == n - 1 else 0), seg))
        c.at(0.00075)
        if i % 2 == 1:
            c.send("c", 301, 1 + (i + 1) * seg, ACK)
        c.at(0.00075)
    c.at(0.005)
    c.close(1 + n * seg, 301)
    copies, after = far_copies(c, data, [0.0012, 0.0020, 0.0028, 0.0036])
    assert min(after) == 2 and max(after) == 6, after
    fixture("tcp_span_duplicates_far.pcap", c.pcap(), tcp_expect({
        "s2c": {"capture_duplicates": n, "data_segments": 2 * n, "new_bytes": n * seg},
        "c2s": {"capture_duplicates": 1},
    }, findings=["capture-duplicates"], frames={"capture-duplicates": sorted(copies)[:20]},
        severity={"capture-duplicates": "info"},
        details={"capture-duplicates": {"duplicates": n + 1, "from_client": 1, "from_server": n}}))

    # A busier transfer (a segment every 100 us) behind a mirror port that copies every frame,
    # handshake and ACKs included, 1.1-3.9 ms later: up to 40 of the server's frames come
    # between a segment and its copy. The handshake's copies land next to their twins; from
    # then on the connection remembers 256 frames per side.
    c = Conv()
    c.handshake()
    end = c.bulk(1, 60)
    c.close(end)
    both = list(range(1, len(c.frames) + 1))
    sides = [c.frames[i - 1][1][14 + 12:14 + 16] == ip4("10.20.0.2") for i in both]
    copies, after = far_copies(c, both, [0.0011, 0.0023, 0.0032, 0.0039])
    assert max(after) > 40, after
    fixture("tcp_span_duplicates_busy.pcap", c.pcap(), tcp_expect({
        "s2c": {"capture_duplicates": sum(sides), "new_bytes": 60 * seg},
        "c2s": {"capture_duplicates": len(both) - sum(sides)},
    }, findings=["capture-duplicates"], frames={"capture-duplicates": sorted(copies)[:20]},
        severity={"capture-duplicates": "info"},
        details={"capture-duplicates": {"duplicates": len(both)}}))

    # Close cases that stay retransmissions, in one transfer: a resend 0.8 ms after the last
    # segment that repeats its IP ID and sequence number but is shorter (a repacketised resend;
    # tcptrace's rule, ID and sequence only, would call it a hardware duplicate), and the RTO
    # resend of the segment before it 200 ms later, with the sender's next IP ID.
    c = Conv()
    # A 0.5 ms handshake: Wireshark's out-of-order window is the handshake RTT, so both resends
    # are retransmissions in its eyes too.
    c.handshake(rtt=0.0005)
    last = [c.send("s", 1 + i * seg, 1, ACK, seg) for i in range(12)][-1]
    c.at(0.0008)
    ident = struct.unpack("!H", c.frames[last - 1][1][14 + 4:14 + 6])[0]
    shorter = c.send("s", 1 + 11 * seg, 1, ACK, 1000, ident=ident)
    c.at(0.005)
    c.send("c", 1, 1 + 10 * seg, ACK)
    c.at(0.2)
    rto = c.send("s", 1 + 10 * seg, 1, ACK, seg)
    c.at(0.005)
    c.send("c", 1, 1 + 12 * seg, ACK)
    c.close(1 + 12 * seg)
    fixture("tcp_resend_not_copy.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 2, "capture_duplicates": 0, "reordered_retransmissions": 0},
    }, findings=["retransmissions"], frames={"retransmissions": [shorter, rto]},
        severity={"retransmissions": "info"}))

    # A stack that sends IPv4 ID 0 on every DF packet (FreeBSD since 13 by RFC 6864) and a
    # coarse timestamp clock (the same TSval all along): its resends repeat ID, sequence, ACK,
    # window and timestamps exactly. A fast retransmission 400 us after the original (three
    # duplicate ACKs on a LAN) and an RTO resend 200 ms later stay retransmissions: without an
    # ID, a copy must follow within 1 ms and Wireshark must not see duplicate ACKs asking for it.
    c = Conv()
    c.handshake(options=ts_syn_opts(7000))
    tss, tsc = ts_opt(7000, 9000), ts_opt(9000, 7000)
    for i in range(8):
        c.send("s", 1 + i * seg, 1, ACK, seg, ident=0, options=tss)
        c.at(0.00001)
    for k in range(3):
        c.at(0.00005)
        c.send("c", 1, 1 + 3 * seg, ACK, options=sack_opt(
            [(5000 + 1 + 4 * seg, 5000 + 1 + (6 + k) * seg)]) + tsc)
    c.at(0.0001)
    fast = c.send("s", 1 + 3 * seg, 1, ACK, seg, ident=0, options=tss)
    c.at(0.0001)
    c.send("c", 1, 1 + 7 * seg, ACK, options=tsc)
    c.at(0.2)
    rto = c.send("s", 1 + 7 * seg, 1, ACK, seg, ident=0, options=tss)
    c.at(0.0001)
    c.send("c", 1, 1 + 8 * seg, ACK, options=tsc)
    c.at(0.001)
    c.send("s", 1 + 8 * seg, 1, FIN | ACK, ident=0, options=tss)
    c.at(0.001)
    c.send("c", 1, 2 + 8 * seg, FIN | ACK, options=tsc)
    c.at(0.001)
    c.send("s", 2 + 8 * seg, 2, ACK, ident=0, options=tss)
    assert c.frames[fast - 1][0] - c.frames[3 + 3][0] < 0.001
    fixture("tcp_id0_resends_not_copies.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 2, "fast_retransmissions": 1, "capture_duplicates": 0},
    }, findings=["retransmissions"], frames={"retransmissions": [fast, rto]},
        severity={"retransmissions": "info"}))


# ---------------------------------------------------------------- offload fixtures (issue 4)


def merge_convs(*convs):
    """One capture of several conversations, in time order."""
    frames = sorted((f for c in convs for f in c.frames), key=lambda f: f[0])
    return pcap_timed([(data, None, t) for t, data in frames])


def vxlan_wrap(outer_ids, df=False, sport=None, vni=5001):
    """Wraps a Conv's packets in VXLAN (port 4789): client side VTEP 172.16.0.1, server side
    172.16.0.2. Outer IDs come from `outer_ids` (an iterator per side), the outer UDP source port
    from `sport(side, n)` (default: one per direction, as a flow hash gives)."""
    ids = {"c": outer_ids("c"), "s": outer_ids("s")}

    def wrap(side, ip, n):
        a, b = ("172.16.0.1", "172.16.0.2") if side == "c" else ("172.16.0.2", "172.16.0.1")
        sp = sport(side, n) if sport else (51000 if side == "c" else 52000)
        outer = udp(sp, 4789, vxlan(vni, eth(ip)), 0)
        return eth(ipv4(a, b, 17, outer, ident=next(ids[side]), df=df))
    return wrap


def id_sequence(start, steps):
    """IDs from `start`, advancing by `steps` in turn."""
    def gen(_side):
        i, k = start, 0
        while True:
            yield i % 65536
            i += steps[k % len(steps)]
            k += 1
    return gen


# Inside a VXLAN overlay on a 1500-byte underlay the inner MTU is 1450: MSS 1410.
VX_OPTS = bytes.fromhex("02040582" "01030307" "0402" "0101")


def receiver_bulk(c, count, seg=1448, gap=12e-6, start=1):
    """The server sends `count` back-to-back segments; a receiver-side capture sees each pair
    ACKed 20 µs after it arrives (the local host answers at once)."""
    for i in range(count):
        c.send("s", start + i * seg, 1, ACK | (PSH if i == count - 1 else 0), seg)
        if i % 2 == 1:
            c.at(20e-6)
            c.send("c", 1, start + (i + 1) * seg, ACK, win=512)
        c.at(gap)
    return start + count * seg


def ts_option(tsval, tsecr=777):
    """A TCP timestamp option (RFC 7323) behind two NOPs: 12 bytes."""
    return b"\x01\x01\x08\x0a" + struct.pack("!II", tsval, tsecr)


def gro_blame_fixtures():
    """What blocks GRO, said alike by every GRO finding: PSH (the application's message
    boundaries) never warns; several header rules that each refuse every pair are all named."""
    # Request/response: the client pipelines 20 requests (1 ms apart), the server answers them
    # back to back, each response a message of 1 to 3 full-size segments with PSH on its last
    # (Linux sets PSH at the end of each write). GRO flushes at every PSH by design
    # (tcp_gro_receive): 19 of the 34 judged pairs end a train there, and nothing on the
    # network is at fault. Captured on the client: no-coalescing only notes it, and so does
    # gro-blocked-headers.
    c = Conv()
    c.handshake(local="c")
    for i in range(20):
        c.send("c", 1 + i * 100, 1, ACK | PSH, 100)
        c.at(0.001)
    sizes = [1, 3, 1, 2] * 5
    seq, n = 1, 0
    for size in sizes:
        for k in range(size):
            c.send("s", seq, 2001, ACK | (PSH if k == size - 1 else 0), 1448)
            seq += 1448
            n += 1
            if n % 2 == 0:
                c.at(20e-6)
                c.send("c", 2001, seq, ACK)
            c.at(12e-6)
    c.close(seq, 2001)
    fixture("tcp_request_response_psh.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"gro": {"judged_pairs": 34, "mergeable_pairs": 15,
                                    "blockers": {"psh": 19}}}},
    }, findings=["gro-blocked-headers", "no-coalescing"],
        severity={"gro-blocked-headers": "info", "no-coalescing": "info"},
        details={"gro-blocked-headers": {"top_blocker": "psh", "must_fix": []},
                 "no-coalescing": {"blocker": "psh", "must_fix": []}}))

    # A bulk sender that pushes every segment (one small write each), captured on the receiver:
    # 520 back-to-back full-size segments (a 100-byte MSS keeps the file small) and nothing
    # coalesced, as GRO flushes at every PSH. The messages explain it: info, where the same
    # transfer without PSH (offload_no_coalescing.pcap) is a warning.
    c = Conv()
    c.handshake(local="c", options=bytes.fromhex("02040064" "0101" "0402"))
    for i in range(520):
        c.send("s", 1 + i * 100, 1, ACK | PSH, 100)
        if i % 2 == 1:
            c.at(20e-6)
            c.send("c", 1, 1 + (i + 1) * 100, ACK)
        c.at(12e-6)
    c.close(1 + 520 * 100)
    fixture("offload_no_coalescing_psh_every_segment.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"mtu": 140, "gro": {"judged_pairs": 519, "blockers": {"psh": 519}}}},
    }, findings=["gro-blocked-headers", "no-coalescing"],
        severity={"gro-blocked-headers": "info", "no-coalescing": "info"},
        details={"no-coalescing": {"blocker": "psh", "back_to_back_full_size": 519}}))

    # Close case: a bulk sender (PSH only at the end of its one write) whose TTL alternates
    # (per-packet ECMP over paths of different length): a header defect, still a warning.
    c = Conv()
    c.handshake()
    for i in range(30):
        c.ttl["s"] = 63 + i % 2
        c.send("s", 1 + i * 1448, 1, ACK | (PSH if i == 29 else 0), 1448)
        c.at(12e-6)
    c.ttl["s"] = 64
    c.at(0.005)
    c.send("c", 1, 1 + 30 * 1448, ACK)
    c.close(1 + 30 * 1448)
    fixture("tcp_ttl_alternating.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"gro": {"judged_pairs": 29, "mergeable_pairs": 0,
                                    "blockers": {"ttl": 29}}}},
    }, findings=["gro-blocked-headers"], severity={"gro-blocked-headers": "warning"},
        details={"gro-blocked-headers": {"top_blocker": "ttl", "must_fix": ["ttl"]}}))

    # Two rules that each refuse every pair: outer IDs with DF=0 that jump (the VXLAN story) and
    # a TCP timestamp that ticks on every segment. Fixing either alone frees no pair, so every
    # finding names both, in the order they must go (no-coalescing, gro-blocked-ip-id, and
    # gro-blocked-headers, the warning the verdict quotes).
    c = Conv(c=("10.1.0.1", 33000), s=("10.1.0.2", 443),
             wrap=vxlan_wrap(id_sequence(101, [4, 2, 3, 5, 2])))
    c.handshake(local="c", options=VX_OPTS)
    for i in range(40):
        c.send("s", 1 + i * 1398, 1, ACK | (PSH if i == 39 else 0), 1398,
               options=ts_option(1000 + i))
        if i % 2 == 1:
            c.at(20e-6)
            c.send("c", 1, 1 + (i + 1) * 1398, ACK, options=ts_option(9000))
        c.at(12e-6)
    c.close(1 + 40 * 1398)
    both = ["outer-ip-id", "tcp-options"]
    fixture("vxlan_outer_ip_id_and_timestamps.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"gro": {"judged_pairs": 39, "mergeable_pairs": 0,
                                    "blockers": {"outer-ip-id": 39, "tcp-options": 39}}}},
    }, findings=["gro-blocked-headers", "gro-blocked-ip-id", "no-coalescing"],
        severity={"gro-blocked-headers": "warning", "gro-blocked-ip-id": "info",
                  "no-coalescing": "info"},
        details={"gro-blocked-ip-id": {"layer": "outer", "only_ids_blocked": 0,
                                       "other_blocker": "tcp-options", "must_fix": both},
                 "gro-blocked-headers": {"top_blocker": "tcp-options", "must_fix": both},
                 "no-coalescing": {"blocker": "outer-ip-id", "must_fix": both}}))


def offload_fixtures():
    # Receive side, GRO working: the client (the capture host) gets super-segments of 10 MSS and
    # ACKs each within 20 µs; the handshake shows the client answers at once.
    c = Conv()
    c.handshake(local="c")
    seg = 14480
    for i in range(8):
        c.send("s", 1 + i * seg, 1, ACK, seg)
        c.at(20e-6)
        c.send("c", 1, 1 + (i + 1) * seg, ACK, win=512)
        c.at(120e-6)
    c.close(1 + 8 * seg)
    fixture("offload_gro_receive.pcap", c.pcap(), tcp_expect({
        "tcp": {"capture_point": "client", "capture_point_evidence": "handshake-timing"},
        "s2c": {"offload": {"oversized_frames": 8, "max_segments_per_frame": 10, "data_frames": 8,
                            "wire_segments": 80, "mtu": 1500, "mtu_source": "mss"}},
        # The close case for no-coalescing: a receiver whose coalescing works.
    }, findings=["oversized-frames"], frames={"oversized-frames": [4, 6, 8, 10, 12, 14, 16, 18]},
        severity={"oversized-frames": "info"},
        details={"oversized-frames": {"offload": "receive", "oversized_frames": 8, "share": 1.0,
                                      "segments_histogram": {"9-16": 8}}}))

    # The same receiver, captured mid-connection (no handshake), with data both ways: the client
    # ACKs the server's data in 20 µs, its own requests are ACKed a 10 ms round trip later.
    c = Conv()
    seg = 14480
    for i in range(4):
        c.send("c", 1 + i * 100, 1 + i * seg, ACK | PSH, 100)
        c.at(0.010)
        c.send("s", 1 + i * seg, 1 + (i + 1) * 100, ACK, seg)
        c.at(20e-6)
        c.send("c", 1 + (i + 1) * 100, 1 + (i + 1) * seg, ACK, win=512)
        c.at(0.001)
    fixture("offload_gro_receive_midstream.pcap", c.pcap(), tcp_expect({
        "tcp": {"syn_seen": False, "capture_point": "client",
                "capture_point_evidence": "data-ack-timing"},
    }, findings=["oversized-frames"], frames={"oversized-frames": [2, 5, 8, 11]},
        details={"oversized-frames": {"offload": "receive", "mtu_source": "default"}}))

    # Send side: the server's own capture sees its TSO super-segments (the server answers the SYN
    # in 20 µs; the client's ACK comes a round trip later).
    c = Conv()
    c.handshake(local="s")
    seg = 4 * 1448
    c.segments(0, 6, seg=seg, gap=10e-6)
    c.at(0.010)
    c.send("c", 1, 1 + 6 * seg, ACK, win=512)
    c.close(1 + 6 * seg)
    fixture("offload_tso_send.pcap", c.pcap(), tcp_expect({
        "tcp": {"capture_point": "server", "capture_point_evidence": "handshake-timing"},
        "s2c": {"offload": {"oversized_frames": 6, "max_segments_per_frame": 4}},
    }, findings=["oversized-frames"], frames={"oversized-frames": [4, 5, 6, 7, 8, 9]},
        details={"oversized-frames": {"offload": "send", "segments_histogram": {"4": 6}}}))

    # Close case: 9000-byte jumbo frames on a 9000-byte MTU (MSS 8960 both ways) are not oversized.
    c = Conv()
    jumbo = bytes.fromhex("02042300" "01030307" "0402" "0101")  # MSS 8960, WS 7, SACK-perm
    c.handshake(options=jumbo)
    end = c.bulk(1, 10, seg=8960)
    c.close(end)
    fixture("offload_jumbo_mtu.pcap", c.pcap(), tcp_expect({
        "s2c": {"max_ip_len": 9000, "offload": {"oversized_frames": 0, "mtu": 9000,
                                                "segments_per_frame": 1.0}},
    }))

    # Close case: a sender that fills the peer's MSS (1460) and puts a 12-byte timestamp option
    # on top (RFC 6691 says it should subtract it): every data frame is 1512 bytes of IP, a dozen
    # over MSS plus headers, and all the same size. One wire segment each, never coalesced.
    c = Conv()
    c.handshake()
    ts = bytes.fromhex("0101080a") + (1000).to_bytes(4, "big") + (2000).to_bytes(4, "big")
    for i in range(20):
        c.send("s", 1 + i * 1460, 1, ACK, 1460, options=ts)
        c.at(0.0001)
        if i % 2:
            c.send("c", 1, 1 + (i + 1) * 1460, ACK)
    c.close(1 + 20 * 1460)
    fixture("offload_mss_plus_options.pcap", c.pcap(), tcp_expect({
        "s2c": {"max_ip_len": 1512, "offload": {"oversized_frames": 0, "segments_per_frame": 1.0,
                                                "mtu_source": "mss"}},
    }))

    # GRO off on the receiver: 520 back-to-back full-size segments (750 kB) with headers GRO
    # would merge, and not one frame above the MTU.
    c = Conv()
    c.handshake(local="c")
    end = receiver_bulk(c, 520)
    c.close(end)
    data = [i + 1 for i, (_, f) in enumerate(c.frames) if len(f) > 1000]
    fixture("offload_no_coalescing.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"oversized_frames": 0, "segments_per_frame": 1.0,
                            "gro": {"judged_pairs": 519, "mergeable_pairs": 519, "merge_rate": 1.0,
                                    "blockers": {}}}},
    }, findings=["no-coalescing"], frames={"no-coalescing": data[1:21]},
        severity={"no-coalescing": "warning"},
        details={"no-coalescing": {"blocker": None, "back_to_back_full_size": 519,
                                   "receiver": "10.20.0.1:40000"}}))

    # Close cases (64 segments, 93 kB, each). A short response: the same facts, but too little
    # for the missing coalescing to cost anything, so info.
    c = Conv()
    c.handshake(local="c")
    end = receiver_bulk(c, 64)
    c.close(end)
    fixture("offload_no_coalescing_small.pcap", c.pcap(), tcp_expect({}, findings=["no-coalescing"],
        severity={"no-coalescing": "info"},
        details={"no-coalescing": {"back_to_back_full_size": 63}}))
    # A Windows receiver (its frames leave with TTL 128): Linux's GRO model says nothing about
    # Windows' receive segment coalescing.
    c = Conv()
    c.ttl["c"] = 128
    c.handshake(local="c")
    end = receiver_bulk(c, 64)
    c.close(end)
    fixture("offload_no_coalescing_windows.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"oversized_frames": 0, "segments_per_frame": 1.0}}}))
    # The receiver's frames arrive with TTL 63: they crossed a router before the tap, so the
    # capture is not on the receiver whatever the timing says.
    c = Conv()
    c.ttl["c"] = 63
    c.handshake(local="c")
    end = receiver_bulk(c, 64)
    c.close(end)
    fixture("offload_no_coalescing_routed.pcap", c.pcap(), tcp_expect({}))

    # The VXLAN story: the new device sends outer headers with DF=0 and IDs 101, 105, 107, …; the
    # capture is on the receiving host (its VTEP), which ACKs at once. GRO refuses every pair.
    c = Conv(c=("10.1.0.1", 33000), s=("10.1.0.2", 443),
             wrap=vxlan_wrap(id_sequence(101, [4, 2, 3, 5, 2])))
    c.handshake(local="c", options=VX_OPTS)
    end = receiver_bulk(c, 40, seg=1398)
    c.close(end)
    data = [i + 1 for i, (_, f) in enumerate(c.frames) if len(f) > 1000]
    fixture("vxlan_outer_ip_id_df0.pcap", c.pcap(), tcp_expect({
        "tunnel": {"kind": "vxlan", "vni": 5001},
        "s2c": {"offload": {"oversized_frames": 0, "mtu": 1450, "mtu_source": "mss",
                            "gro": {"judged_pairs": 39, "mergeable_pairs": 0,
                                    "blockers": {"outer-ip-id": 39}}}},
    }, findings=["gro-blocked-ip-id", "no-coalescing"],
        frames={"gro-blocked-ip-id": data[:12]},
        severity={"gro-blocked-ip-id": "error", "no-coalescing": "info"},
        details={"gro-blocked-ip-id": {"layer": "outer", "df": False, "pattern": "small-jump",
                                       "pairs": 39, "failing_pairs": 39, "share": 1.0,
                                       "only_ids_blocked": 39, "other_blocker": None,
                                       "must_fix": ["outer-ip-id"],
                                       "blocked_by_kernel": {"4.6": False, "4.7": True,
                                                             "6.10": True, "6.18": True}},
                 "no-coalescing": {"blocker": "outer-ip-id", "must_fix": ["outer-ip-id"]}}))

    # Close case: the same IDs, but the application pushes every segment (PSH on each, one
    # write per segment): GRO ends a train at every PSH anyway (tcp_gro_receive's
    # out_check_final), so fixing the IDs alone would merge nothing. Info, not an error; and PSH
    # is the application's message boundary, so gro-blocked-headers only notes it (info).
    c = Conv(c=("10.1.0.1", 33000), s=("10.1.0.2", 443),
             wrap=vxlan_wrap(id_sequence(101, [4, 2, 3, 5, 2])))
    c.handshake(local="c", options=VX_OPTS)
    for i in range(40):
        c.send("s", 1 + i * 1398, 1, ACK | PSH, 1398)
        if i % 2 == 1:
            c.at(20e-6)
            c.send("c", 1, 1 + (i + 1) * 1398, ACK, win=512)
        c.at(12e-6)
    c.close(1 + 40 * 1398)
    fixture("vxlan_outer_ip_id_df0_psh_every_segment.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"gro": {"judged_pairs": 39, "mergeable_pairs": 0,
                                    "blockers": {"outer-ip-id": 39, "psh": 39}}}},
    }, findings=["gro-blocked-headers", "gro-blocked-ip-id", "no-coalescing"],
        severity={"gro-blocked-ip-id": "info", "no-coalescing": "info",
                  "gro-blocked-headers": "info"},
        details={"gro-blocked-ip-id": {"layer": "outer", "only_ids_blocked": 0,
                                       "other_blocker": "psh", "must_fix": ["outer-ip-id"]},
                 "gro-blocked-headers": {"top_blocker": "psh", "must_fix": ["outer-ip-id"]},
                 "no-coalescing": {"blocker": "outer-ip-id", "must_fix": ["outer-ip-id"]}}))

    gro_blame_fixtures()

    # Close case: random IDs with DF=0 between two addresses of 127.0.0.0/8: on loopback no GRO
    # runs (lo has no NAPI), so the IDs cost nothing. The same script between 10.20.0.x hosts
    # is tcp_random_ip_id_df0.pcap, which fires.
    for name, ends, findings in [
        ("tcp_loopback_random_ip_id.pcap", (("127.0.0.1", 40000), ("127.0.0.2", 8080)), []),
        ("tcp_random_ip_id_df0.pcap", (("10.20.0.1", 40000), ("10.20.0.2", 8080)),
         ["gro-blocked-ip-id"]),
    ]:
        c = Conv(c=ends[0], s=ends[1])
        c.handshake()
        rnd = [(i * 40503 + 12345) % 65536 for i in range(20)]
        for i in range(20):
            c.send("s", 1 + i * 1448, 1, ACK, 1448, ident=rnd[i], df=False)
            c.at(12e-6)
        c.at(0.005)
        c.send("c", 1, 1 + 20 * 1448, ACK)
        c.close(1 + 20 * 1448)
        fixture(name, c.pcap(), tcp_expect({}, findings=findings,
                                           severity={f: "error" for f in findings}))

    # Close case: the same overlay with DF=0 and outer IDs that increase by one, captured on the
    # wire (no receiver to blame): GRO would merge every pair.
    c = Conv(c=("10.1.0.1", 33000), s=("10.1.0.2", 443),
             wrap=vxlan_wrap(id_sequence(101, [1])))
    c.handshake(options=VX_OPTS)
    end = c.bulk(1, 40, seg=1398, gap=12e-6)
    c.close(end)
    fixture("vxlan_outer_ip_id_incrementing.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"gro": {"judged_pairs": 39, "mergeable_pairs": 39}}},
    }))

    # Two inner flows share one VTEP whose outer ID counter increments by one per packet: each
    # flow's outer IDs jump by two. GRO still flushes; the finding says why.
    counter = iter(range(500, 70000))
    shared = vxlan_wrap(lambda side: counter)
    a = Conv(c=("10.1.0.1", 33000), s=("10.1.0.2", 443), wrap=shared)
    b = Conv(c=("10.1.0.3", 33001), s=("10.1.0.4", 443), wrap=shared, t0=T0 + 6e-6)
    for conv in (a, b):
        conv.handshake(options=VX_OPTS)
    for i in range(20):
        for conv in (a, b):
            conv.send("s", 1 + i * 1398, 1, ACK, 1398)
        for conv in (a, b):
            conv.at(12e-6)
    # Interleave by building both in one timeline: frames are merged by time.
    fixture("vxlan_outer_ip_id_shared_counter.pcap", merge_convs(a, b), {
        "flows_count": 2,
        "findings": ["gro-blocked-ip-id"],
        "finding_details": {"gro-blocked-ip-id": {"layer": "outer", "pattern": "shared-counter",
                                                  "df": False}}})

    # Fixed IP ID 0 with DF=1 (as some stacks send): fine for Linux 4.7+, refused before 4.7.
    for name, args, sev in [("tcp_fixed_ip_id_df1.pcap", [], "info"),
                            ("tcp_fixed_ip_id_df1_kernel_4_4.pcap", ["--kernel", "4.4"], "error")]:
        c = Conv()
        c.handshake()
        c.segments(0, 20, gap=12e-6, ident=0)
        c.at(0.005)
        c.send("c", 1, 1 + 20 * 1448, ACK)
        c.close(1 + 20 * 1448)
        e = tcp_expect({}, findings=["gro-blocked-ip-id"], severity={"gro-blocked-ip-id": sev},
                       details={"gro-blocked-ip-id": {
                           "layer": "inner", "df": True, "pattern": "fixed", "pairs": 19,
                           "blocked_by_kernel": {"4.6": True, "4.7": False, "6.10": False,
                                                 "6.18": False}}})
        if args:
            e["args"] = args
        fixture(name, c.pcap(), e)

    # gro-blocked-headers: an encapsulating device that picks a new outer UDP source port for
    # every packet (instead of hashing the inner flow), captured on the wire.
    c = Conv(c=("10.1.0.1", 33000), s=("10.1.0.2", 443),
             wrap=vxlan_wrap(id_sequence(1, [1]), df=True, sport=lambda side, n: 49152 + n))
    c.handshake(options=VX_OPTS)
    end = c.bulk(1, 30, seg=1398, gap=12e-6)
    c.close(end)
    data = [i + 1 for i, (_, f) in enumerate(c.frames) if len(f) > 1000]
    fixture("vxlan_outer_port_per_packet.pcap", c.pcap(), tcp_expect({
        "s2c": {"offload": {"gro": {"judged_pairs": 29, "mergeable_pairs": 0,
                                    "blockers": {"outer-udp-ports": 29}}}},
    }, findings=["gro-blocked-headers"], frames={"gro-blocked-headers": data[1:21]},
        severity={"gro-blocked-headers": "warning"},
        details={"gro-blocked-headers": {"top_blocker": "outer-udp-ports", "merge_rate": 0.0}}))

    # A sender whose TCP timestamp ticks on every segment: the option bytes never match.
    def ts_opt(v):
        return b"\x01\x01\x08\x0a" + struct.pack("!II", v, 777)
    for name, per_tick, findings in [("tcp_timestamp_every_segment.pcap", 1, ["gro-blocked-headers"]),
                                     ("tcp_timestamp_per_ms.pcap", 20, [])]:
        c = Conv()
        c.handshake()
        for i in range(40):
            # 50 µs apart; the close case ticks once per millisecond (every 20 segments).
            c.send("s", 1 + i * 1436, 1, ACK, 1436, options=ts_opt(1000 + i // per_tick))
            c.at(50e-6)
        c.at(0.005)
        c.send("c", 1, 1 + 40 * 1436, ACK, options=ts_opt(5000))
        c.close(1 + 40 * 1436)
        merged = 39 if per_tick == 1 else 37
        fixture(name, c.pcap(), tcp_expect({
            "s2c": {"offload": {"gro": {"judged_pairs": 39, "mergeable_pairs": 39 - (39 if per_tick == 1 else 1)}}},
        }, findings=findings,
            details={"gro-blocked-headers": {"top_blocker": "tcp-options"}} if findings else None))

    # The TSO story: the sender's capture (server answers the SYN at once) shows a TSO
    # super-packet of 4 segments and one of 20. One wire segment of the 20 is lost on the path:
    # the receiver ACKs 4 and SACKs the 19 after the hole. After the RTO the sender resends all
    # 20 as one burst, 19 of them already delivered.
    seg = 1448
    sisn = 5000

    def tso_burst(sacked):
        c = Conv(sisn=sisn)
        c.handshake(local="s")
        c.send("s", 1, 1, ACK, 4 * seg)
        c.at(10e-6)
        c.send("s", 1 + 4 * seg, 1, ACK, 20 * seg)
        c.at(0.010)
        blocks = [(sisn + 1 + 5 * seg, sisn + 1 + 24 * seg)] if sacked else []
        c.send("c", 1, 1 + 4 * seg, ACK, win=512, options=sack_opt(blocks) if blocks else b"")
        c.at(0.2)
        first = c.send("s", 1 + 4 * seg, 1, ACK, 20 * seg)
        c.at(0.010)
        c.send("c", 1, 1 + 24 * seg, ACK, win=512)
        c.close(1 + 24 * seg)
        return c, first

    c, first = tso_burst(sacked=True)
    fixture("tcp_tso_burst_retransmission.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 1, "retransmitted_bytes": 20 * seg},
    }, findings=["burst-retransmission", "oversized-frames", "retransmissions"],
        frames={"burst-retransmission": [first]},
        severity={"burst-retransmission": "warning"},
        details={"burst-retransmission": {"bursts": 1, "longest_segments": 20,
                                          "bytes_resent_in_bursts": 20 * seg,
                                          "bytes_already_delivered": 19 * seg,
                                          "segment_size": 1460},
                 "oversized-frames": {"offload": "send"}}))

    # Close case: the whole 20-segment super-packet was lost (nothing SACKed): resending it is
    # recovery, not a burst resent for one lost segment.
    c, _ = tso_burst(sacked=False)
    fixture("tcp_tso_burst_lost_whole.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 1, "retransmitted_bytes": 20 * seg},
    }, findings=["oversized-frames", "retransmissions"]))

    # Close case: the same loss on a sender with TSO off (its capture shows wire-size segments):
    # 20 segments resent back to back are loss recovery after a burst of drops, not a TSO burst.
    c = Conv()
    c.handshake(local="s")
    c.segments(0, 24, gap=10e-6)
    c.at(0.010)
    c.send("c", 1, 1 + 4 * seg, ACK, win=512)
    c.at(0.2)
    c.segments(4, 24, gap=10e-6)
    c.at(0.010)
    c.send("c", 1, 1 + 24 * seg, ACK, win=512)
    c.close(1 + 24 * seg)
    fixture("tcp_resent_run_tso_off_sender.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 20, "retransmitted_bytes": 20 * seg},
    }, findings=["retransmissions"], severity={"retransmissions": "warning"}))

    # Close case: the receiver's capture (GRO on). The sender's spurious RTO recovery over a
    # short path arrives merged: one 20-segment frame of resent data is GRO's doing, not a TSO
    # burst the sender resent. Retransmissions, but no burst.
    c = Conv()
    c.handshake(local="c")
    for k in range(3):
        c.send("s", 1 + 8 * k * seg, 1, ACK, 8 * seg)
        c.at(30e-6)
    c.at(20e-6)
    c.send("c", 1, 1 + 24 * seg, ACK, win=512)
    c.at(0.2)
    merged = c.send("s", 1 + 4 * seg, 1, ACK, 20 * seg)
    c.at(20e-6)
    c.send("c", 1, 1 + 24 * seg, ACK, win=512)
    c.close(1 + 24 * seg)
    fixture("tcp_gro_merged_resend_receiver.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 1, "retransmitted_bytes": 20 * seg},
    }, findings=["oversized-frames", "retransmissions"], frames={"retransmissions": [merged]}))

    # Close case: the receiver's capture (GRO off: a true no-coalescing note) of a spurious
    # whole-window resend, as the kernel lab's peer-router-loss showed once: the receiver
    # acknowledged all 24 segments, the ACK never reached the sender, whose timer resends 20 of
    # them 2.5 µs apart, then new data. The run starts at data the receiver held: not a TSO
    # burst resent for one lost segment (tshark: spurious retransmissions).
    c = Conv()
    c.handshake(local="c")
    c.segments(0, 24, gap=10e-6)
    c.at(20e-6)
    c.send("c", 1, 1 + 24 * seg, ACK, win=512)
    c.at(0.2)
    resent = c.segments(4, 24, gap=2.5e-6)
    c.segments(24, 30, gap=2.5e-6)
    c.at(20e-6)
    c.send("c", 1, 1 + 30 * seg, ACK, win=512)
    c.close(1 + 30 * seg)
    fixture("tcp_spurious_window_resend_receiver.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 20, "retransmitted_bytes": 20 * seg},
    }, findings=["no-coalescing", "retransmissions"], frames={"retransmissions": resent}))

    # Close case: RTO recovery in slow start resends 1, 2 and 4 segments, a round trip apart.
    c = Conv()
    c.handshake(local="s")
    c.segments(0, 8, gap=10e-6)
    c.at(0.2)
    nxt = 0
    for k in (1, 2, 4):
        for _ in range(k):
            c.send("s", 1 + nxt * seg, 1, ACK, seg)
            nxt += 1
            c.at(10e-6)
        c.at(0.010)
        c.send("c", 1, 1 + nxt * seg, ACK, win=512)
    c.send("s", 1 + nxt * seg, 1, ACK, seg)
    c.at(0.010)
    c.send("c", 1, 1 + 8 * seg, ACK, win=512)
    c.close(1 + 8 * seg)
    fixture("tcp_rto_slow_start.pcap", c.pcap(), tcp_expect({
        "s2c": {"retransmissions": 8},
    }, findings=["retransmissions"]))

    quic_fixtures()
    quic_handshake_fixtures()
    quic_findings_fixtures()
    quic_icmp_fixtures()
    quic_qlog_fixtures()
    quic_qlog_silence_fixtures()
    quic_memory_qlog_fixtures()
    quic_path_fixtures()
    quic_memory_fixtures()
    quic_spin_fixtures()
    fairness_fixtures()


QUIC_DCID = bytes.fromhex("a1b2c3d4e5f60718")


def quic_long(kind, dcid=QUIC_DCID, scid=b"", size=1200, version=1, fill=0):
    """A QUIC long-header packet (RFC 9000 §17.2) of `size` bytes: type bits `kind` (0 Initial,
    2 Handshake), an empty token for an Initial, a Length that covers the rest. The payload is
    not encrypted with the Initial keys: it does not authenticate, as a corrupt one would not."""
    p = bytes([0xC3 | kind << 4]) + struct.pack("!I", version) + bytes([len(dcid)]) + dcid
    p += bytes([len(scid)]) + scid + (b"\x00" if kind == 0 else b"")
    rest = size - len(p) - 2
    return p + struct.pack("!H", 0x4000 | rest) + bytes([(fill + i) & 0xFF for i in range(rest)])


def quic_initial(dcid=QUIC_DCID, size=1200):
    """A QUIC v1 Initial (RFC 9000 §17.2.2), padded to `size` bytes."""
    return quic_long(0, dcid=dcid, size=size)


def quic_version_negotiation(dcid=b"", scid=QUIC_DCID, versions=(0x6b3343cf,)):
    """A Version Negotiation packet (RFC 9000 §17.2.1) listing `versions`."""
    return (bytes([0x80]) + b"\x00\x00\x00\x00" + bytes([len(dcid)]) + dcid
            + bytes([len(scid)]) + scid + b"".join(struct.pack("!I", v) for v in versions))


def quic_short(n, size=1200, dcid=QUIC_DCID, spin=0):
    """A QUIC short-header packet (RFC 9000 §17.3.1) of `size` bytes, spin bit (0x20) `spin`."""
    p = bytes([0x41 | spin << 5]) + dcid + struct.pack("!H", n & 0xFFFF)
    return p + bytes([(n * 7 + i) & 0xFF for i in range(size - len(p))])


class Udp(Script):
    """A scripted UDP conversation (client, server)."""

    def __init__(self, c=("10.30.0.1", 51000), s=("10.30.0.2", 443), t0=T0):
        super().__init__(t0)
        self.ep = {"c": c, "s": s}
        self.ids = {"c": 0x3000, "s": 0x4000}

    def send(self, side, payload, df=True, udp_len=None):
        other = "s" if side == "c" else "c"
        (a, ap), (b, bp) = self.ep[side], self.ep[other]
        ident = self.ids[side]
        self.ids[side] = (ident + 1) % 65536
        dgram = udp(ap, bp, payload)
        if udp_len is not None:
            dgram = dgram[:4] + struct.pack("!H", udp_len) + dgram[6:]
        self.frames.append((self.t, eth(ipv4(a, b, 17, dgram, ident=ident, df=df))))
        return len(self.frames)


def quic_fixtures():
    # UDP GSO on the server, captured there: after the handshake, each sendmsg carries 10 QUIC
    # packets of 1200 bytes in one 12,000-byte datagram.
    def exchange(gso, quic=True, **big):
        u = Udp()
        u.send("c", quic_initial())
        u.at(0.010)
        u.send("s", quic_initial(size=1200))
        u.at(0.010)
        supers = []
        n = 0
        for burst in range(6):
            if gso:
                body = (b"".join(quic_short(n + k) for k in range(10)) if quic
                        else bytes((n + i) % 251 for i in range(12000)))
                supers.append(u.send("s", body, **big))
                u.at(0.001)
            else:
                for k in range(10):
                    u.send("s", quic_short(n + k))
                    u.at(100e-6)
            n += 10
            u.at(0.002)
            u.send("c", quic_short(1000 + burst, size=60))
            u.at(0.001)
        return u, supers
    u, supers = exchange(True)
    fixture("quic_udp_gso_sender.pcap", u.pcap(), {
        "flows_count": 1,
        "flows": [{"protocol": "udp", "s2c": {"frames": 7, "max_ip_len": 20 + 8 + 12000}}],
        "findings": ["udp-gso-superframes"],
        "finding_frames": {"udp-gso-superframes": supers},
        "finding_severity": {"udp-gso-superframes": "info"},
        "finding_details": {"udp-gso-superframes": {
            "superframes": 6, "datagrams": 7, "gso_size": 1200,
            "gso_size_source": "quic-packet-boundaries", "max_segments": 10, "quic": True,
            "quic_version": 1, "max_datagram_bytes": 12000}}})
    # DF clear, as Linux leaves it on a GSO skb above the MTU for a socket with the default
    # IP_PMTUDISC_WANT (aioquic's; net/ipv4/ip_output.c __ip_make_skb): the QUIC packet at every
    # 1200-byte boundary still says GSO.
    u, supers = exchange(True, df=False)
    fixture("quic_udp_gso_df_clear.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["udp-gso-superframes"],
        "finding_frames": {"udp-gso-superframes": supers},
        "finding_details": {"udp-gso-superframes": {
            "origin": "gso", "superframes": 6, "gso_size": 1200, "not_counted_df_clear": 0}}})
    # Large datagrams with DF clear that are not QUIC: a GSO send from a socket at the default
    # IP_PMTUDISC_WANT looks exactly like what a capture tool's reassembly of IPv4 fragments
    # leaves (fragments never have DF), so the finding says both, at info.
    u, supers = exchange(True, df=False, quic=False)
    fixture("udp_large_df_clear_reassembled.pcap", u.pcap(), {
        "flows_count": 1, "flows": [{"protocol": "udp", "s2c": {"frames": 7}}],
        "findings": ["udp-gso-superframes"],
        "finding_frames": {"udp-gso-superframes": supers},
        "finding_details": {"udp-gso-superframes": {
            "origin": "gso-or-reassembled", "superframes": 6, "gso_size": None}}})
    # Close case: a UDP length field that disagrees with the IP length (a broken or fuzzed
    # header) is no GSO send.
    u, _ = exchange(True, udp_len=1208)
    fixture("udp_large_bad_length_field.pcap", u.pcap(), {
        "flows_count": 1, "flows": [{"protocol": "udp", "s2c": {"frames": 7}}],
        "findings": []})
    # Close case: the same traffic as the receiver sees it, 1200-byte datagrams at MTU size.
    u, _ = exchange(False)
    fixture("quic_mtu_sized.pcap", u.pcap(), {
        "flows_count": 1, "flows": [{"protocol": "udp", "s2c": {"frames": 61}}],
        "findings": []})

    # The ping-pong of the UDP GSO story: a QUIC connection with packets ~2 ms apart; the
    # server stops answering, and the client's probe timer backs off (0.3, 0.6, 1.2 s: RFC 9002
    # 6.2) until an answer comes; later a second run, each probe two datagrams 100 us apart.
    # With its handshake the flow has a QUIC view: quic-stall, not udp-stall. Without one (a
    # non-QUIC payload, the same timing), the same runs are udp-stall's.
    def ping_pong(quic):
        u = Udp()
        if quic:
            quic_handshake(u, 0.002)
        first = []
        pkt = quic_short if quic else (lambda n, size: bytes([0x17, n & 0xFF]) * (size // 2))
        for phase, probes in enumerate(((0.3, 0.6, 1.2), (0.25, 0.5, 1.0, 2.0), None)):
            for k in range(15):
                u.send("c" if k % 2 else "s", pkt(phase * 100 + k, size=200))
                u.at(0.002)
            if probes:
                first.append(len(u.frames) + 1)
                for gap in probes:
                    u.send("c", pkt(phase * 100 + 50, size=200))
                    if phase == 1:
                        u.at(100e-6)
                        u.send("c", pkt(phase * 100 + 51, size=200))
                    u.at(gap)
                u.send("s", pkt(phase * 100 + 60, size=200))
                u.at(0.002)
        return u, first
    u, first = ping_pong(True)
    fixture("quic_stall.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["quic-stall"],
        "finding_frames": {"quic-stall": [first[0], first[1], first[1] + 2, first[1] + 4,
                                          first[1] + 6]},
        "finding_severity": {"quic-stall": "warning"},
        "finding_details": {"quic-stall": {
            "shape": "backoff", "side": "client", "probes": 4, "gaps_s": [0.25, 0.5, 1.0],
            "answered": True, "stalls": 2, "packets": 4 + 45 + 4 + 9}}})
    u, first = ping_pong(False)
    fixture("udp_stall.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["udp-stall"],
        "finding_frames": {"udp-stall": first},
        "finding_severity": {"udp-stall": "warning"},
        "finding_details": {"udp-stall": {"stalls": 2, "packets": 45 + 4 + 9}}})

    # Close case: the same conversation going quiet for 2 s and 4 s with both sides idle, then
    # answered at once (a browser between page loads, DNS between lookups): silence, not demand.
    u = Udp()
    for phase, silence in enumerate((2.0, 4.0, None)):
        for k in range(15):
            u.send("c" if k % 2 else "s", quic_short(phase * 100 + k, size=200))
            u.at(0.002)
        if silence:
            u.at(silence)
    fixture("udp_idle_gaps.pcap", u.pcap(), {"flows_count": 1, "findings": []})

    # Close case: a heartbeat every second is the conversation's usual rhythm, not a stall.
    u = Udp(s=("10.30.0.2", 3478))
    for k in range(30):
        u.send("c" if k % 2 else "s", b"beat" * 10)
        u.at(1.0)
    fixture("udp_heartbeat.pcap", u.pcap(), {"flows_count": 1, "findings": []})


def quic_handshake(u, rtt, cid=b"\xc1\xc2\xc3\xc4", scid=b"\x5e\x5e"):
    """A QUIC handshake on `u` as the client sees it: its Initial, the server's Initial and
    Handshake coalesced one `rtt` later, the client's Handshake at once, its first 1-RTT packet."""
    u.send("c", quic_long(0, scid=cid))
    u.at(rtt)
    u.send("s", quic_long(0, dcid=cid, scid=scid, size=600)
           + quic_long(2, dcid=cid, scid=scid, size=600))
    u.at(0.0005)
    u.send("c", quic_long(2, scid=cid, size=100))
    u.send("c", quic_short(0, size=100, dcid=scid))
    u.at(0.002)


def quic_findings_fixtures():
    """quic-handshake-slow and quic-stall: when a QUIC connection waits, and when it only idles."""
    cid, scid = b"\xc1\xc2\xc3\xc4", b"\x5e\x5e"

    def handshake(rtt, flights, loss=0.0):
        """Client Initial; the server's Initial and Handshake one `rtt` later; the client's
        Handshake at once; then `flights` more server Handshake flights, each a round trip after
        the client's ACK (the amplification limit, RFC 9000 §8.1), the last one `loss` late (a
        lost flight resent after a probe timeout); then 1-RTT both ways."""
        u = Udp()
        sent = [u.send("c", quic_long(0, scid=cid))]
        u.at(rtt)
        u.send("s", quic_long(0, dcid=cid, scid=scid, size=600)
               + quic_long(2, dcid=cid, scid=scid, size=600))
        u.at(0.0005)
        u.send("c", quic_long(2, scid=cid, size=100))
        for k in range(flights):
            u.at(rtt + (loss if k == flights - 1 else 0))
            u.send("s", quic_long(2, dcid=cid, scid=scid, size=1200, fill=k))
            u.at(0.0005)
            u.send("c", quic_long(2, scid=cid, size=100, fill=k))
        u.at(0.001)
        for k in range(8):
            u.send("c" if k % 2 == 0 else "s", quic_short(k, size=300, dcid=scid))
            u.at(0.002)
        return u, sent

    # The server's last Handshake flight lost and resent after a 1 s probe timeout: 1.06 s for
    # a handshake on a 20 ms path.
    u, sent = handshake(0.020, 2, loss=1.0)
    fixture("quic_handshake_slow.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["quic-handshake-slow"],
        "finding_frames": {"quic-handshake-slow": sent},
        "finding_severity": {"quic-handshake-slow": "warning"},
        "finding_details": {"quic-handshake-slow": {
            "rtt_source": "first-answer", "rtt_s": 0.0205, "expected_round_trips": 1,
            "retry": False, "version_negotiation": False, "client_initials": 1,
            "initials_before_answer": 1, "server_first_s": 0.02}}})
    # Close case: a healthy handshake on a 300 ms path whose certificate chain takes three
    # flights (amplification limit, then the initial window): 4 round trips, 1.2 s.
    u, _ = handshake(0.300, 3)
    fixture("quic_handshake_long_path.pcap", u.pcap(), {"flows_count": 1, "findings": []})
    # Close case: the same slow handshake as before, captured on the server's host: the wait for
    # the client's Handshake is the round trip there; 4 round trips of 250 ms stay healthy.
    u = Udp()
    u.send("c", quic_long(0, scid=cid))
    u.at(0.0001)
    u.send("s", quic_long(0, dcid=cid, scid=scid, size=600)
           + quic_long(2, dcid=cid, scid=scid, size=600))
    for k in range(3):
        u.at(0.250)
        u.send("c", quic_long(2, scid=cid, size=100, fill=k))
        u.at(0.0001)
        u.send("s", quic_long(2, dcid=cid, scid=scid, size=1200, fill=k))
    u.at(0.250)
    for k in range(8):
        u.send("c" if k % 2 == 0 else "s", quic_short(k, size=300, dcid=scid))
        u.at(0.002)
    fixture("quic_handshake_server_side.pcap", u.pcap(), {"flows_count": 1, "findings": []})

    # The client's ACKs stop for 1.5 s while the server keeps sending every 50 ms (a direction
    # lost), then come back.
    u = Udp()
    quic_handshake(u, 0.010)
    for k in range(20):
        u.send("s" if k % 2 == 0 else "c", quic_short(k, size=300, dcid=scid if k % 2 else cid))
        u.at(0.002)
    first = len(u.frames) + 1
    for k in range(30):
        u.send("s", quic_short(100 + k, size=1200, dcid=cid))
        u.at(0.050)
    u.send("c", quic_short(200, size=60, dcid=scid))
    u.at(0.002)
    for k in range(10):
        u.send("s" if k % 2 == 0 else "c", quic_short(300 + k, size=300, dcid=scid if k % 2 else cid))
        u.at(0.002)
    fixture("quic_stall_one_way.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["quic-stall"],
        "finding_frames": {"quic-stall": list(range(first, first + 8))},
        "finding_severity": {"quic-stall": "warning"},
        "finding_details": {"quic-stall": {
            "shape": "one-way", "side": "server", "probes": 30, "answered": True, "stalls": 1}}})

    # A short back-off (0.21 s, then 0.35 s) on a connection whose packets are 20 ms apart:
    # below a second and below 20 times the usual gap, a note.
    u = Udp()
    quic_handshake(u, 0.010)
    for k in range(31):
        u.send("s" if k % 2 == 0 else "c", quic_short(k, size=300, dcid=scid if k % 2 else cid))
        u.at(0.020)
    first = len(u.frames) + 1
    for gap in (0.21, 0.35):
        u.send("c", quic_short(100, size=300, dcid=scid))
        u.at(gap)
    u.send("c", quic_short(101, size=300, dcid=scid))
    u.at(0.030)
    u.send("s", quic_short(102, size=300, dcid=cid))
    fixture("quic_stall_short.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["quic-stall"],
        "finding_frames": {"quic-stall": [first, first + 1, first + 2]},
        "finding_severity": {"quic-stall": "info"},
        "finding_details": {"quic-stall": {"shape": "backoff", "probes": 3}}})

    # Close case: an idle connection. Both sides go quiet for 3 s (an application pause), then
    # the client PINGs every 5 s and the server acknowledges at once (a keep-alive, RFC 9000
    # 10.1.2), then the page loads again.
    u = Udp()
    quic_handshake(u, 0.010)
    for phase in range(2):
        for k in range(20):
            u.send("s" if k % 2 == 0 else "c", quic_short(k, size=300, dcid=scid if k % 2 else cid))
            u.at(0.002)
        u.at(3.0)
    for k in range(6):
        u.send("c", quic_short(500 + k, size=40, dcid=scid))
        u.at(0.010)
        u.send("s", quic_short(600 + k, size=40, dcid=cid))
        u.at(5.0)
    for k in range(20):
        u.send("s" if k % 2 == 0 else "c", quic_short(k, size=300, dcid=scid if k % 2 else cid))
        u.at(0.002)
    fixture("quic_idle_keepalive.pcap", u.pcap(), {"flows_count": 1, "findings": []})


class QlogRecorder:
    """One endpoint's qlog of a scripted QUIC connection (draft-ietf-quic-qlog QUIC events, the
    names aioquic and quic-go write), fed as the script sends; `json()` is aioquic's JSON
    document (absolute Unix ms), `sqlog()` quic-go's JSON-SEQ (RS-framed, relative times)."""

    def __init__(self, vantage, odcid=QUIC_DCID):
        self.vantage, self.odcid, self.events = vantage, odcid, []

    def log(self, u, name, ptype, dcid=b""):
        header = {"packet_type": ptype}
        if dcid:
            header["dcid"] = dcid.hex()
        self.events.append((u.t * 1000.0, name, {"header": header}))

    def event(self, u, name, data):
        self.events.append((u.t * 1000.0, name, data))

    def metrics(self, u, cwnd, in_flight):
        self.events.append((u.t * 1000.0, "recovery:metrics_updated",
                            {"cwnd": cwnd, "bytes_in_flight": in_flight, "min_rtt": 4.0,
                             "smoothed_rtt": 5.0, "latest_rtt": 5.0}))

    def json(self):
        events = [{"time": t, "name": n, "data": data} for t, n, data in self.events]
        doc = {"qlog_format": "JSON", "qlog_version": "0.3", "traces": [{
            "common_fields": {"ODCID": self.odcid.hex()}, "events": events,
            "vantage_point": {"name": "aioquic", "type": self.vantage}}]}
        return (json.dumps(doc) + "\n").encode()

    def sqlog(self):
        ref = self.events[0][0]
        head = {"qlog_format": "JSON-SEQ", "qlog_version": "draft-02", "title": "quic-go qlog",
                "trace": {"vantage_point": {"type": self.vantage}, "common_fields": {
                    "ODCID": self.odcid.hex(), "group_id": self.odcid.hex(),
                    "reference_time": ref, "time_format": "relative"}}}
        out = ["\x1e" + json.dumps(head)]
        for t, n, data in self.events:
            out.append("\x1e" + json.dumps({"time": round(t - ref, 3), "name": n, "data": data}))
        return ("\n".join(out) + "\n").encode()


def quic_qlog_blackout(qlog, u, cid_c, probes):
    """The server's kernel drops everything it sends for a while (nothing on the wire either
    way): the qlog logs 8 packets sent, then with `probes` its probe timer expiring at doubling
    intervals (quic-go's loss_timer_updated) and a probe sent each time, all unseen; then the
    in-flight packets declared lost as the connection resumes. Without `probes` the server just
    pauses (an application with nothing to send) and its qlog logs nothing."""
    if not probes:
        u.at(1.4)
        return
    u.at(0.004)
    for _ in range(8):
        u.at(0.001)
        qlog.log(u, "transport:packet_sent", "1RTT", cid_c)
    for gap in (0.2, 0.4, 0.8):
        u.at(gap)
        qlog.event(u, "recovery:loss_timer_updated",
                   {"timer_type": "pto", "event_type": "expired", "packet_number_space": 2})
        qlog.log(u, "transport:packet_sent", "1RTT", cid_c)
    u.at(0.010)
    for pn in range(11):
        qlog.event(u, "recovery:packet_lost", {"header": {"packet_type": "1RTT",
                                                          "packet_number": 900 + pn}})


def quic_qlog_exchange(qlog, drop_every=0, data=120, logged_after=0, blackout=None):
    """A QUIC download captured on the server: handshake (the server's Initial and Handshake
    coalesced), then `data` 1-RTT packets from the server, 1 ms apart, with a client ACK every 8.
    `qlog` records the endpoint it is for (its vantage). With `drop_every`, the server's kernel
    drops all but every `drop_every`-th data packet after the qlog logged it as sent (the capture
    never sees them). `logged_after`: data packets the server logs after the capture stopped."""
    u = Udp()
    server = qlog.vantage == "server"
    cid_c, cid_s = b"\xc1\xc2\xc3\xc4", b"\x5e\x5e\x5e\x5e"

    def send(side, payload, ptypes, dcid, wire=True):
        mine = (side == "s") == server
        for ptype in ptypes:
            qlog.log(u, "transport:packet_sent" if mine else "transport:packet_received",
                     ptype, dcid if mine else b"")
        return u.send(side, payload) if wire else None

    send("c", quic_long(0, scid=cid_c), ["initial"], QUIC_DCID)
    u.at(0.002)
    send("s", quic_long(0, dcid=cid_c, scid=cid_s, size=600)
         + quic_long(2, dcid=cid_c, scid=cid_s, size=600), ["initial", "handshake"], cid_c)
    u.at(0.002)
    send("c", quic_long(2, scid=cid_c, size=100), ["handshake"], cid_s)
    qlog.metrics(u, 14720, 0)
    for k in range(data):
        if blackout is not None and k == 64:
            quic_qlog_blackout(qlog, u, cid_c, blackout)
        u.at(0.001)
        on_wire = not drop_every or k % drop_every == 0
        if server or on_wire:
            send("s", quic_short(k, dcid=cid_c), ["1RTT"], cid_c, wire=on_wire)
        if k % 8 == 7:
            u.at(0.0002)
            send("c", quic_short(1000 + k, size=50, dcid=cid_s), ["1RTT"], cid_s)
            qlog.metrics(u, 14720 + k * 100, 1200 * 4)
    u.at(0.002)
    send("c", quic_short(5000, size=50, dcid=cid_s), ["1RTT"], cid_s)
    for k in range(logged_after):
        u.at(0.001)
        qlog.log(u, "transport:packet_sent", "1RTT", cid_c)
    return u


def quic_qlog_fixtures():
    """quic-qlog-mismatch: the server's qlog against a capture taken on the server."""
    # The quic-go story: the server's qlog logs 122 packets sent; its own kernel dropped all but
    # every 4th data packet before the capture's tap (32 on the wire): 74% never left the host.
    q = QlogRecorder("server")
    u = quic_qlog_exchange(q, drop_every=4)
    FILES["quic_qlog_sender_drop.server.qlog"] = q.json()
    s_frames = [n for n, (_, f) in enumerate(u.frames, 1) if f[26:30] == bytes([10, 30, 0, 2])]
    fixture("quic_qlog_sender_drop.pcap", u.pcap(), {
        "args": ["--qlog", "testdata/fixtures/quic_qlog_sender_drop.server.qlog"],
        "flows_count": 1, "findings": ["quic-qlog-mismatch"],
        "finding_severity": {"quic-qlog-mismatch": "error"},
        "finding_frames": {"quic-qlog-mismatch": [s_frames[0], s_frames[-1]]},
        "finding_details": {"quic-qlog-mismatch": {
            "way": "sent", "qlog_sent": 122, "capture_sent": 32, "missing": 90,
            "capture_point": "endpoint", "vantage": "server", "covered_sent": True}},
        "flows": [{"protocol": "udp", "quic": {"qlog": [{
            "qlog_sent": 122, "capture_sent": 32, "capture_from_peer": 18, "qlog_received": 18,
            "capture_point": "endpoint", "max_cwnd": 26620, "min_rtt_ms": 4.0,
            "max_latest_rtt_ms": 5.0}]}}]})

    # Close case: the client's qlog (quic-go's JSON-SEQ, relative times) agrees with the capture.
    q = QlogRecorder("client")
    u = quic_qlog_exchange(q)
    FILES["quic_qlog_agree.client.sqlog"] = q.sqlog()
    fixture("quic_qlog_agree.pcap", u.pcap(), {
        "args": ["--qlog", "testdata/fixtures/quic_qlog_agree.client.sqlog"],
        "flows_count": 1, "findings": [],
        "flows": [{"protocol": "udp", "quic": {"qlog": [{
            "vantage": "client", "qlog_sent": 18, "capture_sent": 18, "capture_from_peer": 122,
            "qlog_received": 122, "covered_sent": True, "covered_received": True}]}}]})

    # Close case: the capture stopped 60 packets before the server did. Its qlog logs more sent
    # than the capture holds, but over a span the capture does not cover: no finding.
    q = QlogRecorder("server")
    u = quic_qlog_exchange(q, logged_after=60)
    FILES["quic_qlog_capture_ended.server.qlog"] = q.json()
    fixture("quic_qlog_capture_ended.pcap", u.pcap(), {
        "args": ["--qlog", "testdata/fixtures/quic_qlog_capture_ended.server.qlog"],
        "flows_count": 1, "findings": [],
        "flows": [{"protocol": "udp", "quic": {"qlog": [{
            "qlog_sent": 182, "capture_sent": 122, "covered_sent": False}]}}]})


def quic_qlog_silence_fixtures():
    """quic-stall from a silence of both sides that the server's qlog explains."""
    # The quic-go story's silence on the sender: mid-transfer the wire goes quiet both ways for
    # 1.4 s, just after a client ACK, while the server's qlog logs 11 packets sent (8 data, 3
    # probes), its probe timer expiring 3 times: a stall, not a pause.
    q = QlogRecorder("server")
    u = quic_qlog_exchange(q, blackout=True)
    FILES["quic_qlog_silence.server.qlog"] = q.json()
    silent = [n for n, (t, _), (t2, _) in zip(range(1, len(u.frames)), u.frames, u.frames[1:])
              if t2 - t > 1.0]
    fixture("quic_qlog_silence.pcap", u.pcap(), {
        "args": ["--qlog", "testdata/fixtures/quic_qlog_silence.server.qlog"],
        "flows_count": 1, "findings": ["quic-qlog-mismatch", "quic-stall"],
        "finding_severity": {"quic-stall": "warning"},
        "finding_frames": {"quic-stall": [silent[0], silent[0] + 1]},
        "finding_details": {"quic-stall": {
            "shape": "silent", "side": None, "stalls": 1,
            "qlog": {"endpoint": "server", "sent": 11, "lost": 0, "probe_timeouts": 3}},
            "quic-qlog-mismatch": {"way": "sent", "missing": 11}},
        "flows": [{"protocol": "udp", "quic": {"qlog": [{"qlog_lost": 11,
                                                          "qlog_probe_timeouts": 3}]}}]})

    # Close case: the same capture without a qlog: a silence of both sides is a pause.
    fixture("quic_qlog_silence_no_qlog.pcap", u.pcap(), {"flows_count": 1, "findings": []})

    # Close case: the server's qlog logs nothing in the silence: the application paused.
    q = QlogRecorder("server")
    u = quic_qlog_exchange(q, blackout=False)
    FILES["quic_qlog_pause.server.qlog"] = q.json()
    fixture("quic_qlog_pause.pcap", u.pcap(), {
        "args": ["--qlog", "testdata/fixtures/quic_qlog_pause.server.qlog"],
        "flows_count": 1, "findings": []})


def quic_memory_qlog_fixtures():
    """quic-memory held to the bytes in flight the server's qlog logged."""
    convs, logs = [], []
    for k in range(3):
        # Connection k: its own original DCID (so that one trace names it), a handshake, then
        # 5 request/response rounds 0.2 s apart; the server's qlog logs 30 kB × (k+1) in flight
        # 10 ms in, and nothing in flight once the last response is acknowledged.
        t0 = T0 + k * 0.020
        u = Udp(c=("10.30.0.1", 53000 + k), t0=t0)
        odcid, cid = bytes([0xD0, k, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7]), bytes([0xC0, k, 0xC2])
        q = QlogRecorder("server", odcid=odcid)
        u.send("c", quic_long(0, dcid=odcid, scid=cid))
        u.at(0.010)
        q.metrics(u, 60000, 30000 * (k + 1))
        u.send("s", quic_long(0, dcid=cid, scid=b"\x5e\x5e", size=600))
        for r in range(5):
            u.at(0.200)
            u.send("c", quic_short(r + 1, size=120, dcid=b"\x5e\x5e"))
            u.at(0.010)
            u.send("s", quic_short(r + 1, size=600, dcid=cid))
        q.metrics(u, 60000, 0)
        convs.append(u)
        name = f"quic_memory_qlog.server{k}.qlog"
        FILES[name] = q.json()
        logs += ["--qlog", "testdata/fixtures/" + name]
    data = merge_convs(*convs)
    # The peak: the third connection's first packet (40 ms in), when the first two have logged
    # 30 kB and 60 kB in flight and the third nothing yet.
    logged = {"connections": 3, "at_peak_bytes": 90000, "max_bytes": 90000}
    fixture("quic_memory_qlog.pcap", data, {
        "args": logs + ["--memory-budget", "64K"], "flows_count": 3,
        "findings": ["quic-memory"], "finding_severity": {"quic-memory": "warning"},
        "finding_details": {"quic-memory": {"peak_concurrent": 3, "conn_buffer_bytes": None,
                                            "peak_memory_bytes": 90000,
                                            "qlog_in_flight": logged}}})
    # Close cases: within the budget; and without the qlog, no bytes to hold to the budget.
    fixture("quic_memory_qlog_within_budget.pcap", data, {
        "args": logs + ["--memory-budget", "1M"], "flows_count": 3,
        "findings": ["quic-memory"], "finding_severity": {"quic-memory": "info"},
        "finding_details": {"quic-memory": {"peak_memory_bytes": 90000,
                                            "qlog_in_flight": logged}}})
    fixture("quic_memory_qlog_no_qlog.pcap", data, {
        "args": ["--memory-budget", "64K"], "flows_count": 3,
        "findings": ["quic-memory"], "finding_severity": {"quic-memory": "info"},
        "finding_details": {"quic-memory": {"peak_memory_bytes": None,
                                            "qlog_in_flight": None}}})


def quic_handshake_completes(u):
    """The server's Initial and Handshake coalesced in one datagram, the client's Handshake, then
    1-RTT both ways: a handshake that completes (client SCID c1c2c3c4, server SCID 5e5e)."""
    u.send("s", quic_long(0, dcid=b"\xc1\xc2\xc3\xc4", scid=b"\x5e\x5e", size=600)
           + quic_long(2, dcid=b"\xc1\xc2\xc3\xc4", scid=b"\x5e\x5e", size=600))
    u.at(0.020)
    u.send("c", quic_long(2, scid=b"\xc1\xc2\xc3\xc4", size=100))
    for k in range(6):
        u.at(0.005)
        u.send("c" if k % 2 else "s", quic_short(k, size=300, dcid=b"\x5e\x5e"))


def quic_handshake_fixtures():
    """quic-handshake-failed: client Initials with the probe timer doubling (RFC 9002 §6.2)."""
    def dns(u):
        # A DNS lookup answered: the capture holds packets sent to the client.
        d = Udp(c=("10.30.0.1", 53000), s=("10.30.0.53", 53), t0=u.t)
        d.send("c", b"\x12\x34\x01\x00" + b"\x00" * 20)
        d.at(0.005)
        d.send("s", b"\x12\x34\x81\x80" + b"\x00" * 40)
        return d.frames

    def initials(u, gaps, scid=b"\xc1\xc2\xc3\xc4"):
        frames = []
        for k, gap in enumerate(gaps):
            frames.append(u.send("c", quic_long(0, scid=scid, fill=k)))
            u.at(gap)
        return frames

    u = Udp()
    u.frames += dns(u)
    u.at(0.010)
    sent = initials(u, (1.0, 2.0, 4.0, 0.5))
    fixture("quic_initials_unanswered.pcap", u.pcap(), {
        "flows_count": 2, "findings": ["quic-handshake-failed"],
        "finding_frames": {"quic-handshake-failed": sent},
        "finding_severity": {"quic-handshake-failed": "warning"},
        "finding_details": {"quic-handshake-failed": {
            "failure": "unanswered", "version": "1", "client_initials": 4,
            "initials_span_s": 7.0, "server_datagrams": 0}}})

    # Close case: the same Initials in a one-way capture (nothing sent to the client at all).
    u = Udp()
    initials(u, (1.0, 2.0, 4.0, 0.5))
    fixture("quic_initials_one_way.pcap", u.pcap(), {"flows_count": 1, "findings": []})

    # Close case: one Initial at the end of a capture, unanswered because the capture stopped.
    u = Udp()
    u.frames += dns(u)
    u.at(0.010)
    initials(u, (0.001,))
    fixture("quic_single_initial.pcap", u.pcap(), {"flows_count": 2, "findings": []})

    # Close case: a handshake that completes after one resend: the server's Initial and
    # Handshake coalesced in one datagram, then 1-RTT both ways.
    u = Udp()
    initials(u, (1.0, 0.020))
    quic_handshake_completes(u)
    fixture("quic_handshake_ok.pcap", u.pcap(), {
        "flows_count": 1, "findings": [],
        "flows": [{"protocol": "udp", "quic": {
            "version": "1", "original_dcid": QUIC_DCID.hex(), "client_cid": "c1c2c3c4",
            "server_cid": "5e5e", "initials_decrypted": 0, "initials_undecryptable": 2,
            "sni": None, "handshake_ms": 1050.0,
            "c2s": {"datagrams": 6, "initial": 2, "handshake": 1, "1rtt": 3, "coalesced": 0},
            "s2c": {"datagrams": 4, "initial": 1, "handshake": 1, "1rtt": 3, "coalesced": 1}}}]})

    # Version Negotiation: the server speaks only version 2; the client gives up after two tries.
    u = Udp()
    u.frames += dns(u)
    u.at(0.010)
    sent = initials(u, (0.010,))
    u.send("s", quic_version_negotiation(dcid=b"\xc1\xc2\xc3\xc4"))
    u.at(1.0)
    sent += initials(u, (0.010,))
    u.send("s", quic_version_negotiation(dcid=b"\xc1\xc2\xc3\xc4"))
    fixture("quic_version_negotiation_only.pcap", u.pcap(), {
        "flows_count": 2, "findings": ["quic-handshake-failed"],
        "finding_frames": {"quic-handshake-failed": sent},
        "finding_details": {"quic-handshake-failed": {
            "failure": "version-negotiation", "client_initials": 2, "server_datagrams": 2}}})

    # A version negotiation probe (a reserved version, RFC 9000 §15) that no server answered:
    # a note, not a warning. Answered with Version Negotiation, it did its job: silence.
    for name, answered in (("quic_version_probe_unanswered.pcap", False),
                           ("quic_version_probe_answered.pcap", True)):
        u = Udp()
        u.frames += dns(u)
        u.at(0.010)
        sent = [u.send("c", quic_long(0, scid=b"\xc1", version=0x1a2a3a4a))]
        u.at(0.030)
        if answered:
            u.send("s", quic_version_negotiation(dcid=b"\xc1", versions=(1,)))
        u.at(0.300)
        sent.append(u.send("c", quic_long(0, scid=b"\xc1", version=0x1a2a3a4a, fill=1)))
        expect = {"flows_count": 2, "findings": []}
        if not answered:
            expect = {"flows_count": 2, "findings": ["quic-handshake-failed"],
                      "finding_frames": {"quic-handshake-failed": sent},
                      "finding_severity": {"quic-handshake-failed": "info"},
                      "finding_details": {"quic-handshake-failed": {
                          "failure": "unanswered", "version": "0x1a2a3a4a"}}}
        fixture(name, u.pcap(), expect)


def icmp_error(icmp_type, code, quoted, rest=0):
    """An ICMP error (RFC 792): type, code, checksum, the rest word (next-hop MTU), the quote."""
    body = struct.pack("!BBHI", icmp_type, code, 0, rest) + quoted
    return body[:2] + struct.pack("!H", csum(body)) + body[4:]


def quic_path_fixtures():
    """A QUIC connection is its connection IDs (RFC 9000 §5.1, §9): a client whose port changes
    mid-connection (a NAT rebinding it, or a migration keeping its connection ID) is one
    connection with two paths."""
    def connection(cid_c, cid_s):
        u = Udp()
        u.send("c", quic_long(0, dcid=QUIC_DCID, scid=cid_c))
        u.at(0.020)
        u.send("s", quic_long(0, dcid=cid_c, scid=cid_s))
        u.at(0.001)
        u.send("s", quic_long(2, dcid=cid_c, scid=cid_s, size=800))
        u.at(0.020)
        u.send("c", quic_long(2, dcid=cid_s, scid=cid_c, size=300))
        for k in range(4):
            u.at(0.010)
            u.send("c", quic_short(k, size=300, dcid=cid_s))
            u.at(0.020)
            u.send("s", quic_short(k, size=1200, dcid=cid_c))
        # The client's port changes: the same connection IDs from 10.30.0.1:52999.
        m = Udp(c=("10.30.0.1", 52999), t0=u.t + 0.5)
        for k in range(4, 10):
            m.send("c", quic_short(k, size=300, dcid=cid_s))
            m.at(0.020)
            m.send("s", quic_short(k, size=1200, dcid=cid_c))
            m.at(0.010)
        u.frames += m.frames
        return u

    cid_c, cid_s = bytes.fromhex("c1c2c3c4c5c6c7c8"), bytes.fromhex("5a5b5c5d5e5f6061")
    fixture("quic_rebinding_one_connection.pcap", connection(cid_c, cid_s).pcap(), {
        "flows_count": 2, "findings": [],
        "flows": [{"quic": {"server_cid": cid_s.hex(), "zero_length_cid": False,
                            "c2s": {"datagrams": 12, "1rtt": 10},
                            "s2c": {"datagrams": 12, "1rtt": 10},
                            "paths": [{"flow": 1, "client": "10.30.0.1:51000", "datagrams": 12},
                                      {"flow": 2, "client": "10.30.0.1:52999",
                                       "server": "10.30.0.2:443", "datagrams": 12}]},
                   "quic_connection": None},
                  {"quic_connection": 1}]})
    # Close case: zero-length connection IDs route nothing (RFC 9000 §5.1.1): the new port is
    # another flow, not joined, and the report says why.
    fixture("quic_rebinding_zero_length_cid.pcap", connection(b"", b"").pcap(), {
        "flows_count": 2, "findings": [],
        "flows": [{"quic": {"zero_length_cid": True, "paths": [{"flow": 1}]},
                   "quic_connection": None},
                  {"protocol": "udp", "quic_connection": None}]})


def quic_memory_fixtures():
    """quic-memory: QUIC connections open at once (the HAProxy story: many long-lived
    trickling connections, each holding buffers)."""
    def trickle(k, t0, rounds=3, gap=1.0):
        """Connection `k` from client port 52000+k: a handshake, then `rounds` request/response
        pairs of short headers `gap` apart (a few datagrams over a long lifetime)."""
        u = Udp(c=("10.30.0.1", 52000 + k), t0=t0)
        cid = bytes([0xC0, k, 0xC2, 0xC3])
        quic_handshake(u, 0.020, cid=cid)
        for r in range(rounds):
            u.at(gap)
            u.send("c", quic_short(r + 1, size=120, dcid=b"\x5e\x5e"))
            u.at(0.020)
            u.send("s", quic_short(r + 1, size=600, dcid=cid))
        return u
    # 50 connections starting 20 ms apart, each living about 3 s: all 50 open at once from the
    # last one's first packet (1.0 s in) until the first one's last (3.1 s in).
    convs = [trickle(k, T0 + k * 0.020) for k in range(50)]
    frames = sorted((f for c in convs for f in c.frames), key=lambda f: f[0])
    peak_frame = 1 + frames.index(convs[-1].frames[0])
    data = merge_convs(*convs)
    details = {"connections": 50, "peak_concurrent": 50, "at_frame": peak_frame,
               "open_at_peak": list(range(1, 21))}
    fixture("quic_concurrent_memory.pcap", data, {
        "args": ["--conn-buffer", "64K", "--memory-budget", "1M"], "flows_count": 50,
        "findings": ["quic-memory"], "finding_frames": {"quic-memory": [peak_frame]},
        "finding_severity": {"quic-memory": "warning"},
        "finding_details": {"quic-memory": dict(details, conn_buffer_bytes=65536,
                                                memory_budget_bytes=1 << 20,
                                                peak_memory_bytes=50 * 65536)}})
    # The same capture within a budget, and without the options: concurrency at info.
    fixture("quic_concurrent_memory_within_budget.pcap", data, {
        "args": ["--conn-buffer", "64K", "--memory-budget", "4M"], "flows_count": 50,
        "findings": ["quic-memory"], "finding_severity": {"quic-memory": "info"},
        "finding_details": {"quic-memory": dict(details, peak_memory_bytes=50 * 65536)}})
    fixture("quic_concurrent_no_budget.pcap", data, {
        "flows_count": 50, "findings": ["quic-memory"],
        "finding_severity": {"quic-memory": "info"},
        "finding_details": {"quic-memory": dict(details, conn_buffer_bytes=None,
                                                memory_budget_bytes=None,
                                                peak_memory_bytes=None)}})
    # Close case: 5 connections one after another (each about 2.1 s, 1 s apart): never two at
    # once, so nothing to say, even with a tiny budget.
    convs = [trickle(k, T0 + k * 3.1, rounds=2) for k in range(5)]
    fixture("quic_sequential_connections.pcap", merge_convs(*convs), {
        "args": ["--conn-buffer", "64K", "--memory-budget", "1K"], "flows_count": 5,
        "findings": []})


def quic_spin_fixtures():
    """The latency spin bit (RFC 9000 §17.4): an RTT per direction from 1-RTT packets."""
    def spin_exchange(spin, ticks, tick=0.005, delay=4):
        """Both sides send a short header every `tick` s for `ticks` ticks, captured at the
        client; the path's one-way delay is `delay` ticks. `spin(side, n, last_received)` gives
        the bit a side sends at tick n."""
        u = Udp()
        cid, scid = b"\xc1\xc2\xc3\xc4", b"\x5e\x5e"
        quic_handshake(u, 2 * delay * tick, cid=cid, scid=scid)
        t0 = u.t
        sent = {"c": [], "s": []}
        got = {"c": None, "s": None}
        for n in range(ticks):
            # What arrives at tick n was sent `delay` ticks before (received before sending).
            if n >= delay:
                got["c"] = sent["s"][n - delay]
                got["s"] = sent["c"][n - delay]
            for side in ("c", "s"):
                sent[side].append(spin(side, n, got[side]))
        for n in range(ticks + delay):
            u.t = t0 + n * tick
            if n < ticks:
                u.send("c", quic_short(n, size=100, dcid=scid, spin=sent["c"][n]))
            if n >= delay:
                u.send("s", quic_short(n, size=300, dcid=cid, spin=sent["s"][n - delay]))
        return u

    def spinning(side, n, last):
        # The client inverts the last value it received, the server reflects it (0 at first).
        if last is None:
            return 0
        return 1 - last if side == "c" else last
    # Ticks of 5 ms, 20 ms each way: the bit flips every 40 ms in each direction.
    u = spin_exchange(spinning, 100)
    rtt = {"state": "spinning", "median_ms": 40.0, "min_ms": 40.0}
    fixture("quic_spin_40ms.pcap", u.pcap(), {
        "flows_count": 1, "findings": [],
        "flows": [{"quic": {"spin": {"c2s": dict(rtt, edges=12),
                                     "s2c": dict(rtt, edges=12)}}}]})
    # Close case: an endpoint that does not spin sends 0 throughout (1.5 s of it).
    u = spin_exchange(lambda side, n, last: 0, 300)
    off = {"state": "constant", "edges": 0, "median_ms": None}
    fixture("quic_spin_constant.pcap", u.pcap(), {
        "flows_count": 1, "findings": [],
        "flows": [{"quic": {"spin": {"c2s": off, "s2c": off}}}]})
    # Close case: spinning disabled with arbitrary values (RFC 9000 §17.4): random bits flip
    # about every other packet, at intervals that are no round trip.
    bits = random_bits(0x5eed, 400)
    u = spin_exchange(lambda side, n, last: bits[2 * n + (side == "s")], 200)
    rnd = {"state": "random", "median_ms": None, "min_ms": None}
    fixture("quic_spin_random.pcap", u.pcap(), {
        "flows_count": 1, "findings": [],
        "flows": [{"quic": {"spin": {"c2s": rnd, "s2c": rnd}}}]})


def random_bits(seed, n):
    """`n` pseudo-random bits from a 32-bit xorshift (fixtures must not depend on Python's
    random module across versions)."""
    x, out = seed, []
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out.append(x & 1)
    return out


def quic_icmp_fixtures():
    """ICMP errors quoting a flow's datagrams (RFC 792, RFC 1812 §4.3.2.3: Linux quotes up to
    576 bytes in all) as evidence for quic-handshake-failed."""
    # The probe timer doubling from 200 ms: 7 Initials over 12.6 s.
    gaps = (0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 0.0)

    def icmp(u, frame, icmp_type=3, code=3, cut=None, rest=0, src="10.30.0.2"):
        """The server's ICMP error about frame `frame` (1-based), 0.4 ms after it."""
        quoted = u.frames[frame - 1][1][14:][:548]
        if cut is not None:
            quoted = quoted[:cut]
        u.frames.append((u.t + 0.0004, eth(ipv4(src, "10.30.0.1", 1,
                                                icmp_error(icmp_type, code, quoted, rest),
                                                ident=0x7000 + len(u.frames), df=False))))
        return len(u.frames)

    def train(answer):
        u = Udp()
        sent, errors = [], []
        for k, gap in enumerate(gaps):
            sent.append(u.send("c", quic_long(0, scid=b"\xc1\xc2\xc3\xc4", fill=k)))
            e = answer(u, k, sent[-1])
            if e:
                errors.append(e)
            u.at(gap)
        return u, sent, errors

    # Nothing listens on UDP 443: every Initial draws a port unreachable from the server.
    u, sent, errors = train(lambda u, k, n: icmp(u, n))
    fixture("quic_initials_icmp_port_unreachable.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["quic-handshake-failed"],
        "finding_frames": {"quic-handshake-failed": sorted(sent + errors)},
        "finding_severity": {"quic-handshake-failed": "warning"},
        "finding_details": {"quic-handshake-failed": {
            "failure": "icmp-error", "version": "1", "client_initials": 7,
            "initials_span_s": 12.6, "server_datagrams": 0,
            "icmp": {"kind": "port-unreachable", "count": 7, "total": 7, "from": "10.30.0.2"}}},
        "capture": {"decoded": {"udp": 7, "icmp": 7}},
        "flows": [{"protocol": "udp", "client": "10.30.0.1:51000", "server": "10.30.0.2:443",
                   "c2s": {"frames": 7, "icmp_errors": {
                       "total": 7, "kinds": {"port-unreachable": 7}, "frames": errors,
                       "from": "10.30.0.2", "from_others": False, "min_mtu": None}},
                   "s2c": {"frames": 0}}]})

    # Close case: the errors quote another flow (the client's datagrams to UDP 8443, which this
    # capture does not hold), and the last quotes this flow but is addressed to another host
    # than the quoted packet's sender (an ICMP error goes to the sender, RFC 1122 §3.2.2):
    # nothing is attached, and the capture shows no answer to the client: silent, as a one-way
    # capture.
    def elsewhere(u, k, n):
        if k == len(gaps) - 1:
            u.frames.append((u.t + 0.0004, eth(ipv4("10.30.0.2", "10.30.0.77", 1,
                                                    icmp_error(3, 3, u.frames[n - 1][1][14:]),
                                                    df=False))))
            return len(u.frames)
        q = ipv4("10.30.0.1", "10.30.0.2", 17, udp(51000, 8443, b"\0" * 40))
        u.frames.append((u.t + 0.0004, eth(ipv4("10.30.0.2", "10.30.0.1", 1, icmp_error(3, 3, q),
                                                ident=0x7000 + k, df=False))))
        return len(u.frames)
    u, sent, errors = train(elsewhere)
    fixture("quic_initials_icmp_other_flow.pcap", u.pcap(), {
        "flows_count": 1, "findings": [], "capture": {"decoded": {"udp": 7, "icmp": 7}},
        "flows": [{"protocol": "udp", "c2s": {"frames": 7}, "s2c": {"frames": 0}}]})

    # Quotes cut short: two whole, then the IP header and 2 bytes (no ports), 10 bytes of it,
    # an ICMP header cut to 6 bytes. What parsed is kept; only the two whole quotes attach.
    cuts = {0: None, 1: None, 2: 22, 3: 10}

    def cut_short(u, k, n):
        if k in cuts:
            return icmp(u, n, cut=cuts[k])
        if k == 4:
            u.frames.append((u.t + 0.0004, eth(ipv4("10.30.0.2", "10.30.0.1", 1,
                                                    b"\x03\x03\x00\x00\x00\x00", df=False))))
            return len(u.frames)
        return None
    u, sent, errors = train(cut_short)
    fixture("quic_initials_icmp_truncated.pcap", u.pcap(), {
        "flows_count": 1, "findings": ["quic-handshake-failed"],
        "finding_frames": {"quic-handshake-failed": sorted(sent + errors[:2])},
        "finding_details": {"quic-handshake-failed": {
            "failure": "icmp-error", "client_initials": 7,
            "icmp": {"kind": "port-unreachable", "count": 2, "total": 2}}},
        "capture": {"decoded": {"udp": 7, "icmp": 5}},
        "flows": [{"protocol": "udp", "c2s": {"frames": 7, "icmp_errors": {
            "total": 2, "frames": errors[:2]}}, "s2c": {"frames": 0}}]})

    # Close case: a completed handshake with one stray fragmentation needed (next-hop MTU 1400)
    # about the client's first Initial: attached as evidence, no failure. Mostly encrypted
    # QUIC, so the verdict says what was not checked.
    u = Udp()
    first = u.send("c", quic_long(0, scid=b"\xc1\xc2\xc3\xc4"))
    stray = icmp(u, first, code=4, rest=1400, src="10.30.0.254")
    u.at(0.020)
    quic_handshake_completes(u)
    fixture("quic_handshake_ok_stray_icmp.pcap", u.pcap(), {
        "flows_count": 1, "findings": [],
        "flows": [{"protocol": "udp", "c2s": {"frames": 5, "icmp_errors": {
            "total": 1, "kinds": {"packet-too-big": 1}, "frames": [stray],
            "from": "10.30.0.254", "from_others": False, "min_mtu": 1400}},
            "s2c": {"frames": 4}}],
        "verdict": {"status": "ok", "summary":
                    "No problem found in what could be checked: no offload, tunnel or TCP issue "
                    "(of QUIC, the handshakes only); but 9 of 10 analysed frames (90%) are "
                    "encrypted QUIC, whose loss and RTT the capture cannot show."}})


def fairness_fixtures():
    server = ("10.40.0.2", 8080)
    seg = 1448

    def busy(port, count, t0, spread):
        c = Conv(c=("10.40.0.1", port), s=server, t0=t0)
        c.handshake()
        for i in range(count):
            c.send("s", 1 + i * seg, 1, ACK, seg)
            c.at(spread / count)
            c.send("c", 1, 1 + (i + 1) * seg, ACK, win=512)
        return c

    # The io_uring story: three connections to the server run for 3 s; the fourth sends a request
    # and then only zero-window and keep-alive exchanges, as the server stopped reading it.
    convs = [busy(41000 + k, 16, T0 + k * 0.001, 3.0) for k in range(3)]
    d = Conv(c=("10.40.0.1", 41003), s=server, t0=T0 + 0.004)
    d.handshake()
    d.send("c", 1, 1, ACK | PSH, 300)
    d.at(0.001)
    evidence = [d.send("s", 1, 301, ACK, win=0)]
    for k in range(5):
        d.at(0.5)
        evidence.append(d.send("c", 300, 1, ACK))
        d.at(0.001)
        evidence.append(d.send("s", 1, 301, ACK, win=0))
    # Frame numbers once merged with the other three conversations.
    frames = sorted([(t, ci, i) for ci, c in enumerate(convs + [d]) for i, (t, _) in enumerate(c.frames)])
    number = {(ci, i): n + 1 for n, (_, ci, i) in enumerate(frames)}
    evidence = [number[(3, e - 1)] for e in evidence]
    fixture("tcp_starved_connection.pcap", merge_convs(*convs, d), {
        "flows_count": 4,
        "findings": ["keep-alive", "starved-flow", "zero-window"],
        "finding_frames": {"starved-flow": evidence},
        "finding_severity": {"starved-flow": "warning"},
        "finding_details": {"starved-flow": {"bytes": 300, "zero_windows": 6, "keep_alives": 5,
                                             "fair_share": 0.25}}})

    # Close case: iperf3's control connection beside its data connection. The control channel
    # trades a cookie, parameters and results both ways and is otherwise idle: not starved.
    data = busy(5201, 60, T0 + 0.002, 3.0)
    ctl = Conv(c=("10.40.0.1", 5200), s=server, t0=T0)
    ctl.handshake()
    ctl.send("c", 1, 1, ACK | PSH, 37)
    ctl.at(0.001)
    ctl.send("s", 1, 38, ACK | PSH, 1)
    ctl.at(3.2)
    ctl.send("c", 38, 2, ACK | PSH, 200)
    ctl.at(0.001)
    ctl.send("s", 2, 238, ACK | PSH, 180)
    fixture("tcp_iperf3_control_beside_data.pcap", merge_convs(data, ctl), {
        "flows_count": 2, "findings": []})

    # Close case: a pool of idle connections (handshake, then only keep-alives) beside a busy
    # one: nothing was asked of the idle ones, so none is starved.
    convs = [busy(43000, 60, T0, 3.0)]
    for k in range(3):
        p = Conv(c=("10.40.0.1", 43001 + k), s=server, t0=T0 + 0.001 * (k + 1))
        p.handshake()
        for _ in range(2):
            p.at(1.0)
            p.send("c", 0, 1, ACK)
            p.at(0.001)
            p.send("s", 1, 1, ACK)
        convs.append(p)
    fixture("tcp_idle_pool_beside_busy.pcap", merge_convs(*convs), {
        "flows_count": 4, "findings": ["keep-alive"]})

    # Close case: four connections with unequal but real shares (16, 12, 8 and 4 segments).
    convs = [busy(42000 + k, n, T0 + k * 0.001, 3.0) for k, n in enumerate((16, 12, 8, 4))]
    fixture("tcp_uneven_shares.pcap", merge_convs(*convs), {"flows_count": 4, "findings": []})

    # Three connections, each with 30 segments (43,440 bytes) unacknowledged at the same moment:
    # 130,320 bytes in flight; over a 64 KiB budget, within a 256 KiB one.
    def inflight(port, t0, count=30, reset=False):
        """`count` segments in flight at once, then ACKed and closed (or reset by the client)."""
        c = Conv(c=("10.50.0.1", port), s=("10.50.0.2", 443), t0=t0)
        c.handshake()
        for i in range(count):
            c.send("s", 1 + i * seg, 1, ACK, seg)
            c.at(30e-6)
        c.at(0.010)
        if reset:
            c.send("c", 1, 1, RST | ACK)
            return c
        c.send("c", 1, 1 + count * seg, ACK, win=512)
        c.close(1 + count * seg)
        return c
    convs = [inflight(43000 + k, T0 + k * 10e-6) for k in range(3)]
    data = merge_convs(*convs)
    # The peak: the last of the 90 data segments (3 handshakes of 3 frames come first).
    fixture("tcp_concurrent_inflight.pcap", data, {
        "args": ["--inflight-budget", "64K"], "flows_count": 3,
        "findings": ["high-inflight"], "finding_frames": {"high-inflight": [99]},
        "finding_details": {"high-inflight": {"peak_concurrent_bytes": 3 * 30 * seg,
                                              "connections_in_flight": 3,
                                              "budget_bytes": 65536}}})
    fixture("tcp_concurrent_inflight_within_budget.pcap", data, {
        "args": ["--inflight-budget", "256K"], "flows_count": 3, "findings": []})

    # Close case: 40 connections one after another, each with 14 segments (20 kB) never
    # acknowledged and then reset by the client. A reset frees the buffers: at no instant were
    # more than 20 kB in flight, though the stale figures summed to 811 kB.
    convs = [inflight(44000 + k, T0 + k * 0.1, count=14, reset=True) for k in range(40)]
    fixture("tcp_reset_connections_inflight.pcap", merge_convs(*convs), {
        "args": ["--inflight-budget", "256K"], "flows_count": 40,
        "findings": []})


def merged_bulk(c, frames, seg, start=1):
    """What a receiver's capture shows when GRO merges: frames of 8 segments at about
    220 Mbit/s, each ACKed at once. Returns the next sequence number."""
    pos = start
    for _ in range(frames):
        c.send("s", pos, 1, ACK, seg * 8)
        pos += seg * 8
        c.at(20e-6)
        c.send("c", 1, pos, ACK, win=512)
        c.at(386e-6)
    return pos


def demo_fixtures():
    # The README's picture: the VXLAN story in one capture, taken on the receiving VTEP. The old
    # device sends outer IPv4 with DF=1 and incrementing IDs, and GRO merges 8 segments a frame;
    # mid-transfer the new device sends DF=0 and IDs 101, 105, 107, …, and every frame is one
    # segment (about 220 Mbit/s before, 140 after, as in the story).
    state = {"new": False}
    old_ids, new_ids = id_sequence(3000, [1])("s"), id_sequence(101, [4, 2, 3, 5, 2])("s")
    client_ids = id_sequence(500, [1])("c")

    def wrap(side, ip, n):
        a, b = ("172.16.0.1", "172.16.0.2") if side == "c" else ("172.16.0.2", "172.16.0.1")
        if side == "c":
            ident, df = next(client_ids), True
        elif state["new"]:
            ident, df = next(new_ids), False
        else:
            ident, df = next(old_ids), True
        outer = udp(51000 if side == "c" else 52000, 4789, vxlan(5001, eth(ip)), 0)
        return eth(ipv4(a, b, 17, outer, ident=ident, df=df))

    c = Conv(c=("10.1.0.1", 33000), s=("10.1.0.2", 443), wrap=wrap)
    c.handshake(local="c", options=VX_OPTS)
    seg = 1398
    pos = merged_bulk(c, 40, seg)
    state["new"] = True
    end = receiver_bulk(c, 320, seg=seg, gap=70e-6, start=pos)
    c.close(end)
    # Also the regression fixture for a capture spanning the change: the merged frames before it
    # must not hide the ID defect after it (they once raised the full-size bar above 1 MSS).
    data = [i + 1 for i, (_, f) in enumerate(c.frames) if len(f) > 1000]
    fixture("demo_vxlan_gro_regression.pcap", c.pcap(), tcp_expect({
        "tunnel": {"kind": "vxlan", "vni": 5001},
        "s2c": {"offload": {"oversized_frames": 40, "max_segments_per_frame": 8, "mtu": 1450,
                            "gro": {"judged_pairs": 319, "mergeable_pairs": 0,
                                    "blockers": {"outer-ip-id": 319}}}},
    }, findings=["gro-blocked-ip-id", "oversized-frames"],
        frames={"gro-blocked-ip-id": data[40:52], "oversized-frames": data[:20]},
        severity={"gro-blocked-ip-id": "error", "oversized-frames": "info"},
        details={"gro-blocked-ip-id": {"layer": "outer", "df": False, "pattern": "small-jump",
                                       "failing_pairs": 319},
                 "oversized-frames": {"offload": "receive", "oversized_frames": 40}}))


def demo_pair():
    """The same story as two captures, before and after the device change: the README's
    `compare` example and `check` demo. Same hosts, a new connection (another client port)."""
    made = {}
    for name, new, port in [("demo_vxlan_before.pcap", False, 33000),
                            ("demo_vxlan_after.pcap", True, 33010)]:
        ids = id_sequence(101, [4, 2, 3, 5, 2])("s") if new else id_sequence(3000, [1])("s")
        client_ids = id_sequence(500, [1])("c")

        def wrap(side, ip, n, ids=ids, client_ids=client_ids, new=new):
            a, b = ("172.16.0.1", "172.16.0.2") if side == "c" else ("172.16.0.2", "172.16.0.1")
            ident, df = (next(client_ids), True) if side == "c" else (next(ids), not new)
            outer = udp(51000 if side == "c" else 52000, 4789, vxlan(5001, eth(ip)), 0)
            return eth(ipv4(a, b, 17, outer, ident=ident, df=df))

        c = Conv(c=("10.1.0.1", port), s=("10.1.0.2", 443), wrap=wrap)
        c.handshake(local="c", options=VX_OPTS)
        if new:
            pos = receiver_bulk(c, 640, seg=1398, gap=70e-6)
        else:
            pos = merged_bulk(c, 80, 1398)
        c.close(pos)
        made[name] = c
    fixture("demo_vxlan_before.pcap", made["demo_vxlan_before.pcap"].pcap(), tcp_expect({
        "tunnel": {"kind": "vxlan", "vni": 5001},
        "s2c": {"offload": {"oversized_frames": 80, "max_segments_per_frame": 8,
                            "segments_per_frame": 8.0}},
    }, findings=["oversized-frames"], severity={"oversized-frames": "info"}))
    fixture("demo_vxlan_after.pcap", made["demo_vxlan_after.pcap"].pcap(), tcp_expect({
        "tunnel": {"kind": "vxlan", "vni": 5001},
        "s2c": {"offload": {"oversized_frames": 0, "segments_per_frame": 1.0,
                            "gro": {"judged_pairs": 639, "mergeable_pairs": 0}}},
    }, findings=["gro-blocked-ip-id", "no-coalescing"],
        severity={"gro-blocked-ip-id": "error", "no-coalescing": "warning"}))

def memory_fixtures():
    """flows-evicted: 40 short connections one after another (2 data segments each, 100 ms per
    frame). Under a 64 KiB --max-memory (a connection with data is estimated at about 10 kB) the
    least recently active are evicted and the report says so; at the default budget, nothing."""
    recs = []
    for i in range(40):
        pk, _ = tcp_conversation("10.7.0.1", "10.7.0.2", cport=41000 + i, data_segments=2)
        recs += [(eth(p), None) for p in pk]
    data = pcap(recs)
    fixture("flows_evicted.pcap", data, {
        "args": ["--max-memory", "64K"], "findings": ["flows-evicted"],
        "finding_severity": {"flows-evicted": "info"},
        "finding_details": {"flows-evicted": {"returned": 0, "max_memory": 65536}}})
    fixture("flows_evicted_within_budget.pcap", data, {"flows_count": 40, "findings": []})


def main():
    tcp_eth_pcap_variants()
    link_type_fixtures()
    tunnel_fixtures()
    vlan_ipv6_fragment_fixtures()
    length_fixtures()
    pcapng_fixtures()
    broken_fixtures()
    tcp_analysis_fixtures()
    capture_duplicate_fixtures()
    offload_fixtures()
    demo_fixtures()
    demo_pair()
    memory_fixtures()
    peer_fixtures.make(sys.modules[__name__])
    kept_fixtures()
    check = "--check" in sys.argv
    bad = []
    if not check:
        os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(FILES.items()):
        path = os.path.join(OUT, name)
        if check:
            try:
                with open(path, "rb") as f:
                    if f.read() != data:
                        bad.append(name)
            except FileNotFoundError:
                bad.append(name)
        else:
            with open(path, "wb") as f:
                f.write(data)
    if check:
        known = set(FILES)
        extra = [n for n in os.listdir(OUT) if n not in known and n not in KEPT]
        missing = [n for n in KEPT if not os.path.exists(os.path.join(OUT, n))]
        bad.extend(missing)
        if bad or extra:
            print("fixtures out of date: %s; not generated: %s (run python3 testdata/gen_fixtures.py)"
                  % (", ".join(bad) or "-", ", ".join(extra) or "-"))
            sys.exit(1)
        print("%d fixture files up to date" % len(FILES))
    else:
        print("wrote %d files to %s" % (len(FILES), OUT))


if __name__ == "__main__":
    main()
