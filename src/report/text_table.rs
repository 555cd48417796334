//! The text report's tables (flows, QUIC connections), fitted to the terminal by leaving out the
//! least important columns first: a cell is never broken, so an address or a number stays whole.

use comfy_table::{CellAlignment, ContentArrangement, Table};
use unicode_width::UnicodeWidthStr;

use super::quic::{PacketReport, QuicReport};
use super::text::STYLE;
use super::text_findings::wrap;
use super::FlowReport;
use crate::units::{bytes, duration, rate, thousands};

/// A column: its header, alignment, and when it goes as the table narrows (`None`: never;
/// lower ranks go first).
pub(super) struct Column {
    pub header: &'static str,
    pub right: bool,
    pub drop_rank: Option<u8>,
}

const fn col(header: &'static str, right: bool, drop_rank: Option<u8>) -> Column {
    Column {
        header,
        right,
        drop_rank,
    }
}

/// The table with as many columns as fit in `width` (all of them without a width). Columns are
/// left out by rank; the ones that must stay are kept even when they overflow. Returns the
/// table and the headers of the columns left out.
pub(super) fn fitted(
    cols: &[Column],
    rows: &[Vec<String>],
    width: Option<u16>,
) -> (String, Vec<&'static str>) {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let mut dropped = Vec::new();
    loop {
        let text = render(cols, rows, &keep);
        let too_wide = width.is_some_and(|w| widest_line(&text) > usize::from(w));
        let next = keep
            .iter()
            .enumerate()
            .filter_map(|(pos, &i)| Some((cols[i].drop_rank?, pos)))
            .min();
        match next {
            Some((_, pos)) if too_wide => dropped.push(cols[keep.remove(pos)].header),
            _ => return (text, dropped),
        }
    }
}

fn render(cols: &[Column], rows: &[Vec<String>], keep: &[usize]) -> String {
    let mut t = Table::new();
    t.load_style(STYLE);
    // Widths are chosen here by leaving columns out; comfy-table never wraps a cell.
    t.set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(keep.iter().map(|&i| cols[i].header));
    for r in rows {
        t.add_row(keep.iter().map(|&i| r.get(i).map_or("", String::as_str)));
    }
    for (pos, &i) in keep.iter().enumerate() {
        if let (true, Some(c)) = (cols[i].right, t.column_mut(pos)) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

/// Display width of the widest line (`→`, `µ` and `—` are one column each).
pub(super) fn widest_line(s: &str) -> usize {
    s.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

/// The table and, when columns were left out for the width, a line saying which.
pub(super) fn with_note(table: (String, Vec<&'static str>), width: Option<u16>) -> String {
    let (mut s, dropped) = table;
    s.push('\n');
    if !dropped.is_empty() {
        let note = format!(
            "(left out for the terminal's width: {}; a wider terminal or --format json shows \
             them)",
            dropped.join(", ")
        );
        s.push_str(&wrap(&note, "  ", 3, width));
    }
    s
}

/// Transfers up to this many bytes are sent in one initial window (10 segments of 1460 bytes,
/// RFC 6928): their rate measures the sender's burst, not the path, so none is shown.
pub const MIN_GOODPUT_BYTES: u64 = 14_600;

/// The flows table: most important columns kept on a narrow terminal (id, endpoints, max frame,
/// bytes, rtt, the tunnel of tunnelled flows), the per-direction detail left out first.
pub(super) fn flows_table(flows: &[&FlowReport], width: Option<u16>) -> String {
    let tunnelled = flows.iter().any(|f| f.tunnel.is_some());
    let cols = [
        col("id", true, None),
        col("proto", false, Some(5)),
        col("client", false, None),
        col("server", false, None),
        // Of no use when no flow is tunnelled: the first to go.
        col("tunnel", false, Some(if tunnelled { 8 } else { 0 })),
        col("frames", true, Some(1)),
        col("bytes", true, Some(11)),
        col("c→s data", true, Some(2)),
        col("s→c data", true, Some(3)),
        col("max frame", true, Some(12)),
        col("retx", true, Some(9)),
        col("net rtt", true, Some(10)),
        col("avg goodput", true, Some(7)),
        col("duration", true, Some(4)),
    ];
    let rows: Vec<Vec<String>> = flows.iter().map(|f| flow_row(f)).collect();
    let (table, dropped) = fitted(&cols, &rows, width);
    // What the two computed columns mean, for those shown.
    let mut legend = Vec::new();
    if flows.iter().any(|f| f.tcp.is_some()) {
        if !dropped.contains(&"net rtt") {
            legend.push(
                "net rtt: the round trip between the hosts (data → ACK median where the sender \
                 was captured, else the handshake's SYN → ACK, Wireshark's iRTT)"
                    .to_string(),
            );
        }
        if !dropped.contains(&"avg goodput") {
            legend.push(format!(
                "avg goodput: the bulk direction's new bytes over the flow's life (tcptrace's \
                 throughput), - up to {} (one initial window, RFC 6928)",
                bytes(MIN_GOODPUT_BYTES)
            ));
        }
    }
    let mut s = with_note((table, dropped), width);
    if !legend.is_empty() {
        s.push_str(&wrap(&legend.join(" · "), "  ", 2, width));
    }
    s
}

fn flow_row(f: &FlowReport) -> Vec<String> {
    let tunnel = f
        .tunnel
        .as_ref()
        .map(|t| format!("{} {}", t.path(), t.vni))
        .unwrap_or_else(|| "-".into());
    let (retx, rtt, goodput) = match (&f.c2s.tcp, &f.s2c.tcp) {
        (Some(c), Some(s)) => (
            thousands(c.counts.retransmissions + s.counts.retransmissions),
            network_rtt_ms(f).map_or("-".into(), |ms| duration(ms / 1e3)),
            goodput_bps(f).map_or("-".into(), rate),
        ),
        _ => ("-".into(), "-".into(), "-".into()),
    };
    vec![
        f.id.to_string(),
        f.protocol.as_str().to_string(),
        f.client.clone(),
        f.server.clone(),
        tunnel,
        thousands(f.frames),
        bytes(f.bytes),
        bytes(f.c2s.payload_bytes),
        bytes(f.s2c.payload_bytes),
        thousands(f.c2s.max_frame_len.max(f.s2c.max_frame_len) as u64),
        retx,
        rtt,
        goodput,
        duration(f.duration_s),
    ]
}

/// The direction that carried more data (the bulk direction), and whether the server sent it.
fn bulk(f: &FlowReport) -> Option<(&super::flow::TcpDirReport, bool)> {
    let (c, s) = (f.c2s.tcp.as_ref()?, f.s2c.tcp.as_ref()?);
    Some(if s.data_bytes > c.data_bytes {
        (s, true)
    } else {
        (c, false)
    })
}

/// The round trip between the two hosts, in ms. The bulk sender's data → ACK median is that
/// round trip only where the sender was captured; on the receiver's side it is the receiver's
/// own ACK delay (microseconds). Elsewhere the handshake's SYN → ACK (Wireshark's iRTT) is a
/// full round trip wherever the tap sits. Without a handshake or a capture point, the data's
/// median is all there is.
pub(super) fn network_rtt_ms(f: &FlowReport) -> Option<f64> {
    let (dir, server_sends) = bulk(f)?;
    let data = dir.rtt.as_ref().map(|r| r.median_ms);
    let tcp = f.tcp.as_ref()?;
    let sender = if server_sends { "server" } else { "client" };
    match tcp.capture_point {
        Some(p) if p == sender => data.or(tcp.initial_rtt_ms),
        Some(_) => tcp.initial_rtt_ms,
        None => tcp.initial_rtt_ms.or(data),
    }
}

/// New bytes of the bulk direction over the flow's life, first frame to last (tcptrace's
/// throughput): a rate over a few back-to-back segments would report the NIC's burst speed.
/// None up to [`MIN_GOODPUT_BYTES`] or for a flow without duration.
pub(super) fn goodput_bps(f: &FlowReport) -> Option<f64> {
    let (dir, _) = bulk(f)?;
    (dir.new_bytes > MIN_GOODPUT_BYTES && f.duration_s > 0.0)
        .then(|| dir.new_bytes as f64 * 8.0 / f.duration_s)
}

/// The QUIC connections table; the server name and id stay on a narrow terminal.
pub(super) fn quic_table(q: &[(&FlowReport, &QuicReport)], width: Option<u16>) -> String {
    let cols = [
        col("id", true, None),
        col("version", false, Some(6)),
        col("server name", false, None),
        col("alpn", false, Some(3)),
        col("c→s dgrams/pkts", true, Some(2)),
        col("s→c dgrams/pkts", true, Some(1)),
        col("1st rtt", true, Some(5)),
        col("handshake", true, Some(7)),
        col("paths", true, Some(0)),
    ];
    let ms = |v: Option<f64>| v.map_or("-".into(), |m| duration(m / 1e3));
    // Datagrams as well as typed packets: a flow of Version Negotiation or reserved-version
    // probes has datagrams and no typed packet.
    let pkts = |p: &PacketReport| {
        let typed = p.initial + p.zero_rtt + p.handshake + p.retry + p.one_rtt;
        format!("{}/{}", thousands(p.datagrams), thousands(typed))
    };
    let rows: Vec<Vec<String>> = q
        .iter()
        .map(|(f, q)| {
            vec![
                f.id.to_string(),
                q.version.clone(),
                q.sni.clone().unwrap_or_else(|| "-".into()),
                if q.alpn.is_empty() {
                    "-".into()
                } else {
                    q.alpn.join(",")
                },
                pkts(&q.c2s),
                pkts(&q.s2c),
                ms(q.initial_rtt_ms),
                ms(q.handshake_ms),
                q.paths.len().max(1).to_string(),
            ]
        })
        .collect();
    with_note(fitted(&cols, &rows, width), width)
}
