"""Fixture pairs for `analyze A --peer B` (path-loss): the same traffic captured at two points
of its path. gen_fixtures.py calls make(g) with itself as `g` (its packet builders and its
fixture registry), so these files are generated and checked with the others.

Capture A is taken on the server (the sender of the bulk data), capture B on the client, one
router between them (TTL 64 at A for the server's packets, 63 at B; the reverse for the
client's), 1 ms one way, and B's clock 2.5 s ahead of A's."""

DELAY = 0.001
OFFSET = 2.5
SEG = 1448
SERVER = ("10.40.0.2", 443)
CLIENT = ("10.40.0.1", 40100)


def script(segments, lost):
    """The conversation as events (t at A, side, seq, ack, flags, length, ident). The server
    sends `segments` data segments; those in `lost` never reach the client, which acks what it
    has in order (duplicate ACKs past a hole); the server resends the lost ones at the end."""
    ev, t = [], 0.0
    ids = {"s": 0x2000, "c": 0x1000}

    def send(side, seq, ack, flags, length=0):
        ev.append((t, side, seq, ack, flags, length, ids[side]))
        ids[side] = (ids[side] + 1) % 65536

    send("c", 0, 0, 0x02)
    t += 2 * DELAY
    send("s", 0, 1, 0x12)
    t += 2 * DELAY
    send("c", 1, 1, 0x10)
    got, nxt = set(), 0
    for i in range(segments):
        t += 0.002
        send("s", 1 + i * SEG, 1, 0x10, SEG)
        if i not in lost:
            got.add(i)
        while nxt in got:
            nxt += 1
        if i % 2 == 1:
            # The client's ACK, sent 1 ms after the segment reached it: 2 ms later at A.
            ev.append((t + 2 * DELAY, "c", 1, 1 + nxt * SEG, 0x10, 0, None))
    t += 0.01
    for i in sorted(lost):
        send("s", 1 + i * SEG, 1, 0x10, SEG)
        got.add(i)
        t += 0.0002
    while nxt in got:
        nxt += 1
    t += 2 * DELAY
    ev.append((t, "c", 1, 1 + nxt * SEG, 0x10, 0, None))
    ev.sort(key=lambda e: e[0])
    # The client's IDs in the order it sent.
    out, cid = [], 0x1000
    for e in ev:
        if e[1] == "c":
            e = e[:6] + (cid,)
            cid += 1
        out.append(e)
    return out


def frames(g, events, at_b, lost_ids, client=CLIENT, coalesce=1, window=None):
    """The capture of `events` at A or (at_b) at B: B misses the server's packets whose IDs are
    in `lost_ids`, sees the server's packets 1 ms later and the client's 1 ms earlier, on a clock
    2.5 s ahead, with the router's TTL decrement on the far side's packets; `coalesce` > 1 merges
    that many consecutive server data segments into one frame at B (GRO on the client);
    `window` = (start, end) keeps only B's frames between those A times."""
    recs, pending = [], []
    for t, side, seq, ack, flags, length, ident in events:
        isn = {"c": 1000, "s": 5000}
        me, peer = (SERVER, client) if side == "s" else (client, SERVER)
        if at_b and side == "s" and ident in lost_ids:
            continue
        ttl = 64 if (side == "s") != at_b else 63
        when = t + ((DELAY if side == "s" else -DELAY) + OFFSET if at_b else 0)
        if window and not (window[0] <= t <= window[1]):
            continue
        other = "c" if side == "s" else "s"
        item = (when, me, peer, (isn[side] + seq) % 2**32, (isn[other] + ack) % 2**32 if flags & 0x10 else 0,
                flags, length, ident, ttl)
        if at_b and coalesce > 1 and side == "s" and length:
            pending.append(item)
            if len(pending) == coalesce:
                recs.append(merge(pending))
                pending = []
            continue
        if pending:
            recs.append(merge(pending))
            pending = []
        recs.append(item)
    if pending:
        recs.append(merge(pending))
    recs.sort(key=lambda r: r[0])
    out = []
    for when, me, peer, seq, ack, flags, length, ident, ttl in recs:
        seg = g.tcp(me[1], peer[1], seq, ack, flags, b"d" * length, win=512)
        out.append((g.eth(g.ipv4(me[0], peer[0], 6, seg, ident=ident, ttl=ttl)), None, g.T0 + when))
    return g.pcap_timed(out)


def merge(items):
    """GRO: consecutive segments as one frame, with the first one's headers."""
    first = items[0]
    return first[:6] + (sum(i[6] for i in items),) + first[7:]


def udp_frames(g, at_b, lost):
    """A QUIC-like exchange: the server sends 100 datagrams of 1200 bytes, the client 20; those
    of the server in `lost` never reach the client."""
    # The client speaks first, as a QUIC client does.
    d = g.udp(51100, 443, g.quic_short(999, size=1200))
    out = [(g.eth(g.ipv4("10.40.1.1", "10.40.1.2", 17, d, ident=0, ttl=64 if at_b else 63)), None,
            g.T0 - 0.002 + (-DELAY + OFFSET if at_b else 0))]
    for i in range(100):
        t = i * 0.005
        if at_b and i in lost:
            continue
        when = t + (DELAY + OFFSET if at_b else 0)
        ttl = 63 if at_b else 64
        d = g.udp(443, 51100, g.quic_short(i, size=1200))
        out.append((g.eth(g.ipv4("10.40.1.2", "10.40.1.1", 17, d, ident=0, ttl=ttl)), None, g.T0 + when))
        if i % 5 == 4:
            t2 = t + 2 * DELAY
            when = t2 + (-DELAY + OFFSET if at_b else 0)
            ttl = 64 if at_b else 63
            d = g.udp(51100, 443, g.quic_short(1000 + i, size=60))
            out.append((g.eth(g.ipv4("10.40.1.1", "10.40.1.2", 17, d, ident=0, ttl=ttl)), None, g.T0 + when))
    out.sort(key=lambda r: r[2])
    return g.pcap_timed(out)


def make(g):
    lost = {30, 31, 32, 90, 150, 170}
    ev = script(200, lost)
    lost_ids = {0x2000 + 1 + i for i in lost}  # the server's ID of the i-th data segment
    a = frames(g, ev, False, set())
    peer = "testdata/fixtures/%s"

    g.FILES["peer_path_loss.peer.pcap"] = frames(g, ev, True, lost_ids)
    g.fixture("peer_path_loss.pcap", a, {
        "args": ["--peer", peer % "peer_path_loss.peer.pcap"],
        "findings": ["path-loss", "retransmissions"],
        "finding_severity": {"path-loss": "warning", "retransmissions": "warning"},
        "finding_details": {"path-loss": {
            "lost": 6, "judged": 199, "runs": 4, "longest_run": 3, "upstream": "this",
            "upstream_by": "clock", "coalesced": 0, "offset_ms": 2500.0, "delay_median_ms": 1.0,
            "lost_frames_upstream": [49, 50, 52, 139, 229, 259],
            "frames_before_runs_downstream": [47, 134, 223, 252]}}})

    g.FILES["peer_nat.peer.pcap"] = frames(g, ev, True, lost_ids, client=("192.0.2.77", 61000))
    g.fixture("peer_nat.pcap", a, {
        "args": ["--peer", peer % "peer_nat.peer.pcap"],
        "findings": ["path-loss", "retransmissions"],
        "finding_severity": {"path-loss": "warning", "retransmissions": "warning"},
        "finding_details": {"path-loss": {
            "lost": 6, "upstream": "this", "lost_frames_upstream": [49, 50, 52, 139, 229, 259]}}})

    clean = script(200, set())
    g.FILES["peer_gro.peer.pcap"] = frames(g, clean, True, set(), coalesce=4)
    g.fixture("peer_gro.pcap", frames(g, clean, False, set()), {
        "args": ["--peer", peer % "peer_gro.peer.pcap"],
        "findings": ["path-loss"], "finding_severity": {"path-loss": "info"},
        "finding_details": {"path-loss": {"lost": 0, "coalesced": 199, "directions": 2}}})

    # B ran only in the middle of A's capture; the losses fall outside it.
    early = {2, 3, 4, 195, 196}
    ev2 = script(200, early)
    ids2 = {0x2000 + 1 + i for i in early}
    g.FILES["peer_window.peer.pcap"] = frames(g, ev2, True, ids2, window=(0.05, 0.35))
    g.fixture("peer_window.pcap", frames(g, ev2, False, set()), {
        "args": ["--peer", peer % "peer_window.peer.pcap"],
        "findings": ["path-loss", "retransmissions"],
        "finding_severity": {"path-loss": "info", "retransmissions": "warning"},
        "finding_details": {"path-loss": {"lost": 0}}})

    g.fixture("peer_unrelated.pcap", a, {
        "args": ["--peer", peer % "peer_udp.peer.pcap"],
        "findings": ["path-loss", "retransmissions"],
        "finding_severity": {"path-loss": "info", "retransmissions": "warning"},
        "finding_details": {"path-loss": {"directions": 0, "seen_at_both": 0}}})

    ulost = {10, 11, 40, 41, 42, 77}
    g.FILES["peer_udp.peer.pcap"] = udp_frames(g, True, ulost)
    g.fixture("peer_udp.pcap", udp_frames(g, False, set()), {
        "args": ["--peer", peer % "peer_udp.peer.pcap"],
        "findings": ["path-loss"], "finding_severity": {"path-loss": "error"},
        "finding_details": {"path-loss": {
            "lost": 6, "runs": 3, "upstream": "this", "loss_rate": 0.0625,
            "lost_frames_upstream": [14, 15, 50, 51, 52, 94]}}})

    quic_chain_fixtures(g, peer)


def quic_chain(g, sdrop, ploss, rdrop, data=120):
    """A QUIC download captured on the server (A) and on the client (B), with both endpoints'
    qlogs, each on its host's clock (B's OFFSET ahead): the server's data packets in `sdrop` are
    logged as sent and dropped by its own kernel before A's tap, those in `ploss` are lost
    between A and B, those in `rdrop` reach B's tap and are dropped by the client's kernel
    before its stack. Returns (A's pcap, B's pcap, server qlog, client qlog)."""
    qs, qc = g.QlogRecorder("server"), g.QlogRecorder("client")
    ua, ub = g.Udp(), g.Udp()
    cid_c, cid_s = b"\xc1\xc2\xc3\xc4", b"\x5e\x5e\x5e\x5e"
    clk = type("Clock", (), {})()
    now = [0.0]

    def log(q, t, name, ptype, dcid=b""):
        clk.t = g.T0 + t
        q.log(clk, name, ptype, dcid)

    def send(side, payload, ptypes, dcid, on_a=True, on_b=True, received=True):
        t = now[0]
        own, other = (qs, qc) if side == "s" else (qc, qs)
        # The sender's clock and the receiver's (B's is OFFSET ahead), and each tap's times.
        sent_at = t if side == "s" else t + OFFSET
        got_at = t + DELAY + (OFFSET if side == "s" else 0)
        for ptype in ptypes:
            log(own, sent_at, "transport:packet_sent", ptype, dcid)
            if on_a and on_b and received:
                log(other, got_at, "transport:packet_received", ptype)
        if on_a:
            ua.t = g.T0 + (t if side == "s" else t + DELAY)
            ua.send(side, payload)
        if on_a and on_b:
            ub.t = g.T0 + OFFSET + (t + DELAY if side == "s" else t)
            ub.send(side, payload)

    def at(dt):
        now[0] += dt

    send("c", g.quic_long(0, scid=cid_c), ["initial"], g.QUIC_DCID)
    at(0.004)
    send("s", g.quic_long(0, dcid=cid_c, scid=cid_s, size=600)
         + g.quic_long(2, dcid=cid_c, scid=cid_s, size=600), ["initial", "handshake"], cid_c)
    at(0.004)
    send("c", g.quic_long(2, scid=cid_c, size=100), ["handshake"], cid_s)
    for k in range(data):
        at(0.001)
        send("s", g.quic_short(k, dcid=cid_c), ["1RTT"], cid_c, on_a=k not in sdrop,
             on_b=k not in ploss, received=k not in rdrop)
        if k % 8 == 7:
            at(0.0002)
            send("c", g.quic_short(1000 + k, size=50, dcid=cid_s), ["1RTT"], cid_s)
    # A last exchange well after the data, so that none of it is at a capture's edge.
    for k in range(4):
        at(0.02)
        send("c", g.quic_short(5000 + k, size=50, dcid=cid_s), ["1RTT"], cid_s)
        at(0.002)
        send("s", g.quic_short(6000 + k, size=50, dcid=cid_c), ["1RTT"], cid_c)
    for u in (ua, ub):
        u.frames.sort(key=lambda f: f[0])
    for q in (qs, qc):
        q.events.sort(key=lambda e: e[0])
    return ua.pcap(), ub.pcap(), qs.json(), qc.json()


def quic_chain_fixtures(g, peer):
    """sender-drop and receiver-drop: where each lost QUIC packet died, hop by hop."""
    sdrop = {k for k in range(120) if k % 10 == 5}
    ploss = {20, 21, 22, 60, 100}
    rdrop = {k for k in range(62, 75) if k not in sdrop}
    a, b, qs, qc = quic_chain(g, sdrop, ploss, rdrop)
    g.FILES["peer_quic_chain.peer.pcap"] = b
    g.FILES["peer_quic_chain.server.qlog"] = qs
    g.FILES["peer_quic_chain.client.qlog"] = qc
    args = ["--peer", peer % "peer_quic_chain.peer.pcap",
            "--qlog", peer % "peer_quic_chain.server.qlog",
            "--qlog", peer % "peer_quic_chain.client.qlog"]
    # 126 logged sent (Initial, Handshake, 120 data, 4 more), 114 on A's wire, 109 at B, 97
    # received: 12 dropped by the server's kernel, 5 on the path, 12 by the client's kernel. The qlog join's
    # own finding (quic-qlog-mismatch) gives way to the hop-by-hop account.
    g.fixture("peer_quic_chain.pcap", a, {
        "args": args,
        "findings": ["path-loss", "sender-drop", "receiver-drop"],
        "finding_severity": {"path-loss": "warning", "sender-drop": "warning",
                             "receiver-drop": "warning"},
        "finding_details": {
            "path-loss": {"lost": 5, "upstream": "this"},
            "sender-drop": {"qlog_sent": 126, "upstream_sent": 114, "missing": 12,
                            "sender": "server", "upstream": "this", "path_lost": 5},
            "receiver-drop": {"downstream_arrived": 109, "qlog_received": 97, "missing": 12,
                              "sender": "server", "upstream": "this"}}})

    # Close case: the same download with nothing dropped on either host: the path's loss only.
    a, b, qs, qc = quic_chain(g, set(), ploss, set())
    g.FILES["peer_quic_chain_hosts_clean.peer.pcap"] = b
    g.FILES["peer_quic_chain_hosts_clean.server.qlog"] = qs
    g.FILES["peer_quic_chain_hosts_clean.client.qlog"] = qc
    g.fixture("peer_quic_chain_hosts_clean.pcap", a, {
        "args": ["--peer", peer % "peer_quic_chain_hosts_clean.peer.pcap",
                 "--qlog", peer % "peer_quic_chain_hosts_clean.server.qlog",
                 "--qlog", peer % "peer_quic_chain_hosts_clean.client.qlog"],
        "findings": ["path-loss"], "finding_severity": {"path-loss": "warning"},
        "finding_details": {"path-loss": {"lost": 5}}})
