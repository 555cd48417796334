//! `ip-fragmentation`: IP fragments in the capture.
//!
//! Fragments are never merged by GRO (net/ipv4/af_inet.c `inet_gro_receive` flushes on
//! `IP_MF | IP_OFFSET`), defeat RSS hashing on the transport ports, and in a tunnel usually mean the
//! overlay MTU is larger than the underlay allows.

use serde::Serialize;

use super::{details, Detector, Evidence, Finding, FrameCtx, Identity, Severity, Summary};
use crate::decode::IpLayer;

#[derive(Default)]
pub struct Fragmentation {
    frames: Evidence,
    outer: u64,
    inner: u64,
    v4: u64,
    v6: u64,
}

/// `details` of an `ip-fragmentation` finding.
#[derive(Serialize)]
struct Details {
    fragment_frames: u64,
    /// IPv4 and IPv6 fragment headers seen.
    ipv4: u64,
    ipv6: u64,
    /// Fragmented tunnel (outer) and tunnelled (inner) headers.
    outer: u64,
    inner: u64,
}

impl Identity for Fragmentation {
    const ID: &'static str = "ip-fragmentation";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for Fragmentation {
    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let mut seen = false;
        for (layer, ip) in ctx.pkt.ip_headers() {
            if ip.is_fragment() {
                seen = true;
                match layer {
                    IpLayer::Outer => self.outer += 1,
                    IpLayer::Inner => self.inner += 1,
                    IpLayer::Only => {}
                }
                if ip.version == 4 {
                    self.v4 += 1;
                } else {
                    self.v6 += 1;
                }
            }
        }
        if seen {
            self.frames.push(ctx.frame.number);
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        if self.frames.total == 0 {
            return Vec::new();
        }
        let tunnel = if self.outer > 0 {
            " Outer (tunnel) headers are fragmented: the overlay MTU is larger than the underlay \
             path allows."
        } else {
            ""
        };
        vec![Finding {
            id: Self::ID,
            severity: Self::SEVERITY,
            flow: None,
            frames: self.frames.frames(),
            frames_total: self.frames.total,
            message: format!(
                "{} of {} frames are IP fragments.{tunnel}",
                self.frames.total, s.frames
            ),
            hint: "Fragments are never coalesced by GRO/LRO and cost a reassembly; lower the \
                   sender's MTU (or the tunnel device's MTU by the encapsulation overhead: 50 bytes \
                   for VXLAN over IPv4) or enable PMTU discovery."
                .into(),
            wireshark_filter: Some("ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fragment".into()),
            details: details(&Details {
                fragment_frames: self.frames.total,
                ipv4: self.v4,
                ipv6: self.v6,
                outer: self.outer,
                inner: self.inner,
            }),
        }]
    }
}
