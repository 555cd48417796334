//! `udp-gso-superframes`: UDP datagrams larger than the MTU, unfragmented: UDP GSO
//! (`UDP_SEGMENT`) on the sender, seen by a capture on the sender before the kernel or NIC cut them
//! into `gso_size` datagrams. Infers the segment size and recognises QUIC (RFC 8999 invariants,
//! RFC 9000 §17), where a new QUIC packet starts every `gso_size` bytes.
//!
//! The UDP GSO story: quic-go on an old kernel lost more than 90% of such datagrams.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::kit::{sender, share, SideDetails};
use super::{details, Detector, Evidence, Finding, FrameCtx, Identity, Severity, Summary};
use crate::decode::{IpFacts, UdpFacts};
use crate::flow::{Flow, Side};
use crate::gro::DEFAULT_MTU;

/// Bytes of the QUIC short-header destination connection ID compared to find packet starts inside
/// a super-datagram (quic-go and most stacks use at least 4; RFC 9000 §5.1 allows 0-20).
const DCID_PREFIX: usize = 4;
/// The smallest `gso_size` looked for: a QUIC packet is at least 21 bytes (RFC 9000 §10.3 needs
/// 21 for a stateless reset), real senders use the path MTU's payload.
const MIN_GSO: usize = 64;

#[derive(Debug, Default)]
struct Dir {
    datagrams: u64,
    supers: Evidence,
    max_super: u32,
    /// Largest datagram payload at or below the MTU.
    max_single: u32,
    /// `gso_size` read from QUIC packet boundaries, and how often it was found.
    gso_from_quic: Option<u32>,
    /// The version of the first QUIC long header seen.
    quic_version: Option<u32>,
    /// Datagrams above the MTU whose lengths disagree (UDP length field, IP length, frame):
    /// broken or fuzzed, not judged.
    length_mismatch: u64,
    /// IPv4 datagrams above the MTU with DF clear and no QUIC packet at every segment boundary:
    /// a GSO send from a socket that leaves DF clear, or datagrams a tool or middlebox reassembled
    /// from fragments before the capture (fragments never carry DF). The capture cannot tell.
    df_clear: Evidence,
    max_df_clear: u32,
}

/// Whether a datagram above the MTU is proven a UDP GSO super-datagram as a sender's tap sees
/// it: the UDP length field covers the IP payload exactly (udp_send_skb sets it for the whole
/// GSO skb), the frame carries the IP packet (at most a 4-byte FCS after it), and an IPv4 header
/// has DF set. IPv4 fragments never carry DF, so a DF-set datagram was not reassembled; DF clear
/// proves nothing either way (sockets at the default IP_PMTUDISC_WANT send DF-clear GSO skbs,
/// see `quic_segments`), and such datagrams are reported as unproven.
fn plausible_gso(ip: &IpFacts, u: &UdpFacts) -> Result<(), NotGso> {
    let lengths_agree = u32::from(u.length_field) == ip.len.saturating_sub(ip.header_len)
        && !ip.len_from_wire
        && ip.on_wire >= ip.len
        && ip.on_wire - ip.len <= 4;
    if !lengths_agree {
        return Err(NotGso::LengthMismatch);
    }
    if ip.version == 4 && !ip.df {
        return Err(NotGso::DfClear);
    }
    Ok(())
}

/// A DF-clear datagram is still a GSO send when QUIC short headers with one connection ID start
/// at every segment boundary: reassembled fragments of one large datagram never look like that.
/// Linux sets DF on a GSO skb larger than the MTU only for IP_PMTUDISC_DO/PROBE sockets
/// (net/ipv4/ip_output.c `__ip_make_skb`: the default IP_PMTUDISC_WANT sets it only for skbs
/// within the MTU), so stacks that leave the default (aioquic) send DF-clear super-datagrams.
/// `hint`: the segment size found before in this direction, tried first.
fn quic_segments(why: NotGso, payload: &[u8], hint: Option<u32>) -> Result<(), NotGso> {
    let prefix = payload.get(1..1 + DCID_PREFIX).unwrap_or_default();
    let hint = hint.map(|h| h as usize);
    match why {
        NotGso::DfClear if crate::quic::gso::segments(payload, prefix, hint).is_some() => Ok(()),
        _ => Err(why),
    }
}

/// Why a datagram above the MTU was not taken for a GSO super-datagram.
enum NotGso {
    LengthMismatch,
    DfClear,
}

pub struct UdpGsoSuperframes {
    mtu: Option<u32>,
    dirs: FxHashMap<(usize, Side), Dir>,
}

impl UdpGsoSuperframes {
    pub fn new(mtu: Option<u32>) -> Self {
        UdpGsoSuperframes {
            mtu,
            dirs: FxHashMap::default(),
        }
    }
}

/// A QUIC long header (RFC 8999 §5.1): form bit set, a version we know, connection ID lengths of
/// at most 20 within the datagram. Returns the version.
pub fn quic_long_header(p: &[u8]) -> Option<u32> {
    let b0 = *p.first()?;
    if b0 & 0x80 == 0 {
        return None;
    }
    let version = u32::from_be_bytes(p.get(1..5)?.try_into().ok()?);
    // 1: QUIC v1 (RFC 9000); 0x6b3343cf: v2 (RFC 9369); 0: version negotiation; 0xff0000xx:
    // IETF drafts.
    let known = matches!(version, 0 | 1 | 0x6b33_43cf) || version >> 8 == 0x00ff_0000;
    let dcid = usize::from(*p.get(5)?);
    let scid = usize::from(*p.get(6 + dcid)?);
    (known && dcid <= 20 && scid <= 20 && p.len() > 7 + dcid + scid).then_some(version)
}

/// The offset of the second QUIC short-header packet in a GSO super-datagram: the first `k` where
/// the fixed bit is set and the DCID prefix repeats.
pub fn quic_gso_size(p: &[u8]) -> Option<u32> {
    let first = p.first()?;
    if first & 0xC0 != 0x40 {
        return None;
    }
    let dcid = p.get(1..1 + DCID_PREFIX)?;
    (MIN_GSO..p.len().saturating_sub(DCID_PREFIX))
        .find(|&k| p[k] & 0xC0 == 0x40 && p.get(k + 1..k + 1 + DCID_PREFIX) == Some(dcid))
        .map(|k| k as u32)
}

/// Where the segment size of the super-datagrams came from.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
enum GsoSource {
    /// The offset at which the second QUIC short-header packet starts.
    QuicPacketBoundaries,
    /// The largest datagram of the direction at or below the MTU.
    LargestSingleDatagram,
    Unknown,
}

/// What made the datagrams above the MTU, as far as the capture can tell.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Origin {
    /// UDP GSO sends: DF set (fragments never carry it), or a QUIC packet at every boundary.
    Gso,
    /// DF clear and no packet boundaries to read: a GSO send, or a reassembled datagram.
    GsoOrReassembled,
}

/// `details` of a `udp-gso-superframes` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    origin: Origin,
    superframes: u64,
    datagrams: u64,
    share: f64,
    mtu: u32,
    max_datagram_bytes: u32,
    gso_size: Option<u32>,
    gso_size_source: GsoSource,
    max_segments: Option<u32>,
    quic: bool,
    quic_version: Option<u32>,
    /// Datagrams above the MTU not counted: lengths that disagree, and IPv4 with DF clear.
    not_counted_length_mismatch: u64,
    not_counted_df_clear: u64,
}

/// The QUIC version as the message names it (empty when the traffic is not QUIC).
fn quic_name(version: Option<u32>, quic: bool) -> String {
    match version {
        Some(1) => "QUIC v1".to_string(),
        Some(0x6b33_43cf) => "QUIC v2".to_string(),
        Some(v) if v != 0 => format!("QUIC version {v:#x}"),
        _ if quic => "QUIC".to_string(),
        _ => String::new(),
    }
}

impl Identity for UdpGsoSuperframes {
    const ID: &'static str = "udp-gso-superframes";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for UdpGsoSuperframes {
    fn evicted(&mut self, indexes: &[usize]) {
        for &i in indexes {
            for side in Side::BOTH {
                self.dirs.remove(&(i, side));
            }
        }
    }

    fn watches(&self) -> super::Watch {
        super::Watch::Udp
    }

    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let (frame, pkt) = (ctx.frame, ctx.pkt);
        let (Some(u), Some(ip), Some(fr)) = (&pkt.udp, &pkt.ip, ctx.flow) else {
            return;
        };
        if pkt.tcp.is_some() {
            return;
        }
        let overhead = pkt
            .tunnel
            .map_or(0, |t| t.outer_ip.len.saturating_sub(ip.len));
        let mtu = self.mtu.unwrap_or(DEFAULT_MTU).saturating_sub(overhead);
        let payload = frame
            .data
            .get(u.payload_offset as usize..)
            .unwrap_or_default();
        let d = self.dirs.entry((fr.index, fr.side)).or_default();
        d.datagrams += 1;
        if d.quic_version.is_none() {
            d.quic_version = quic_long_header(payload);
        }
        if ip.len > mtu && !ip.is_fragment() {
            let hint = d.gso_from_quic;
            if let Err(why) = plausible_gso(ip, u).or_else(|w| quic_segments(w, payload, hint)) {
                match why {
                    NotGso::LengthMismatch => d.length_mismatch += 1,
                    NotGso::DfClear => {
                        d.df_clear.push(frame.number);
                        d.max_df_clear = d.max_df_clear.max(u.payload_len);
                    }
                }
                return;
            }
            d.supers.push(frame.number);
            d.max_super = d.max_super.max(u.payload_len);
            // The first few are enough; a non-QUIC flow would otherwise be scanned in full.
            if d.gso_from_quic.is_none() && d.supers.total <= 16 {
                d.gso_from_quic = quic_gso_size(payload);
            }
        } else {
            d.max_single = d.max_single.max(u.payload_len);
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut keys: Vec<_> = self
            .dirs
            .iter()
            .filter(|(_, d)| d.supers.total > 0 || d.df_clear.total > 0)
            .map(|(k, _)| *k)
            .collect();
        keys.sort_unstable();
        let mtu = self.mtu.unwrap_or(DEFAULT_MTU);
        let mut out = Vec::new();
        for (i, side) in keys {
            let (Some(d), Some(f)) = (self.dirs.get(&(i, side)), s.flows.by_index(i)) else {
                continue;
            };
            let other = self.dirs.get(&(i, side.other()));
            let version = d.quic_version.or(other.and_then(|o| o.quic_version));
            out.push(if d.supers.total > 0 {
                gso_finding(f, side, d, version, mtu)
            } else {
                unproven_finding(f, side, d, mtu)
            });
        }
        out
    }
}

/// The `udp-gso-superframes` finding of a direction with proven GSO sends (DF set, or a QUIC
/// packet at every segment boundary).
fn gso_finding(f: &Flow, side: Side, d: &Dir, version: Option<u32>, mtu: u32) -> Finding {
    let quic = version.is_some() || d.gso_from_quic.is_some();
    let (gso, gso_source) = match (d.gso_from_quic, d.max_single) {
        (Some(g), _) => (Some(g), GsoSource::QuicPacketBoundaries),
        (None, m) if m > 0 => (Some(m), GsoSource::LargestSingleDatagram),
        _ => (None, GsoSource::Unknown),
    };
    let segments = gso.map(|g| d.max_super.div_ceil(g.max(1)));
    let n = d.supers.total;
    let quic_name = quic_name(version, quic);
    let shape = match (gso, segments) {
        (Some(g), Some(k)) => format!(", up to {k} segments of {g} bytes"),
        _ => String::new(),
    };
    let what = if quic_name.is_empty() {
        String::new()
    } else {
        format!("; the traffic is {quic_name}")
    };
    Finding {
        id: UdpGsoSuperframes::ID,
        severity: UdpGsoSuperframes::SEVERITY,
        flow: Some(f.id),
        frames: d.supers.frames(),
        frames_total: d.supers.total,
        message: format!(
            "{n} of {} UDP datagrams from {} ({:.0}%) are larger than the {mtu}-byte MTU \
             (up to {} bytes of payload){shape}: UDP GSO on the sender, captured before \
             segmentation{what}.",
            d.datagrams,
            sender(f, side),
            100.0 * share(n, d.datagrams),
            d.max_super,
        ),
        hint: "Expected on a sender using UDP GSO (UDP_SEGMENT). If the receiver sees heavy loss \
               or stalls of seconds, GSO may be mishandled by an old kernel or driver: compare \
               with GSO off (quic-go: QUIC_GO_DISABLE_GSO=true; NIC: `ethtool -K IFACE \
               tx-udp-segmentation off`) and prefer kernel 5.x or newer (quic-go disables GSO \
               below 5)."
            .into(),
        wireshark_filter: large_filter(f, mtu),
        details: details(&Details {
            side: SideDetails::of(f, side),
            origin: Origin::Gso,
            superframes: n,
            datagrams: d.datagrams,
            share: share(n, d.datagrams),
            mtu,
            max_datagram_bytes: d.max_super,
            gso_size: gso,
            gso_size_source: gso_source,
            max_segments: segments,
            quic,
            quic_version: version,
            not_counted_length_mismatch: d.length_mismatch,
            not_counted_df_clear: d.df_clear.total,
        }),
    }
}

/// The finding of a direction whose only datagrams above the MTU have DF clear and no QUIC
/// packet boundaries: stated as what the capture shows, a GSO send or a reassembled datagram.
fn unproven_finding(f: &Flow, side: Side, d: &Dir, mtu: u32) -> Finding {
    let n = d.df_clear.total;
    Finding {
        id: UdpGsoSuperframes::ID,
        severity: Severity::Info,
        flow: Some(f.id),
        frames: d.df_clear.frames(),
        frames_total: d.df_clear.total,
        message: format!(
            "{n} of {} UDP datagrams from {} are larger than the {mtu}-byte MTU (up to {} bytes \
             of payload) with DF clear: UDP GSO on the sender, or datagrams reassembled from IP \
             fragments before the capture; the capture cannot tell which.",
            d.datagrams,
            sender(f, side),
            d.max_df_clear,
        ),
        hint: "A capture on the sending host shows GSO sends whole; a capture tool or middlebox \
               that reassembles fragments shows the same. If this host sends with UDP_SEGMENT, \
               it is GSO; otherwise look for fragmentation on the path."
            .into(),
        wireshark_filter: large_filter(f, mtu),
        details: details(&Details {
            side: SideDetails::of(f, side),
            origin: Origin::GsoOrReassembled,
            superframes: n,
            datagrams: d.datagrams,
            share: share(n, d.datagrams),
            mtu,
            max_datagram_bytes: d.max_df_clear,
            gso_size: None,
            gso_size_source: GsoSource::Unknown,
            max_segments: None,
            quic: false,
            quic_version: None,
            not_counted_length_mismatch: d.length_mismatch,
            not_counted_df_clear: 0,
        }),
    }
}

/// The flow's datagrams above the MTU, as a display filter.
fn large_filter(f: &Flow, mtu: u32) -> Option<String> {
    Some(format!(
        "{} && udp.length > {}",
        f.wireshark_filter(),
        mtu.saturating_sub(20)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_headers() {
        // Initial, v1, DCID length 8, SCID length 0, then token length and more.
        let mut p = vec![
            0xC3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0x20,
        ];
        assert_eq!(quic_long_header(&p), Some(1));
        p[1..5].copy_from_slice(&0x6b33_43cfu32.to_be_bytes());
        assert_eq!(quic_long_header(&p), Some(0x6b33_43cf));
        p[1..5].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        assert_eq!(quic_long_header(&p), None, "unknown version");
        p[1..5].copy_from_slice(&1u32.to_be_bytes());
        p[5] = 21;
        assert_eq!(quic_long_header(&p), None, "DCID longer than 20");
        assert_eq!(quic_long_header(&[0x40, 1, 2]), None, "short header");
        for cut in 0..8 {
            assert_eq!(
                quic_long_header(&[0xC3, 0, 0, 0, 1, 8, 1][..cut.min(7)]),
                None
            );
        }
    }

    #[test]
    fn gso_size_from_short_headers() {
        let mut p = Vec::new();
        for _ in 0..3 {
            let mut pkt = vec![0x41, 0xAA, 0xBB, 0xCC, 0xDD];
            pkt.resize(1200, 0x17);
            p.extend(pkt);
        }
        p.truncate(3000);
        assert_eq!(quic_gso_size(&p), Some(1200));
        assert_eq!(
            quic_gso_size(&p[..1203]),
            None,
            "cut before the second DCID"
        );
        p[0] = 0x80;
        assert_eq!(quic_gso_size(&p), None, "not a short header");
        assert_eq!(quic_gso_size(&[]), None);
    }
}
