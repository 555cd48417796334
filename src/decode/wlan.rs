//! A checked view of an IEEE 802.11 MAC header and of the LLC/SNAP header of a data frame's
//! body (IEEE Std 802.11-2020 §9.2.3 and §9.3.2.1; RFC 1042 SNAP), as WLAN controllers receive
//! their access points' frames in GRE (Aruba's protocol types 0x8200 to 0x8370, which
//! Wireshark's `gre.proto` table hands to its `wlan` dissector, packet-ieee80211.c).
//!
//! ```text
//!  FC(2) Duration(2) Address1(6) Address2(6) Address3(6) SeqCtl(2) [Address4(6)] [QoS(2)] [HTC(4)]
//!  FC byte 0: version (bits 0-1), type (bits 2-3), subtype (bits 4-7)
//!  FC byte 1: ToDS 0x01, FromDS 0x02, MoreFrag, Retry, PwrMgt, MoreData, Protected 0x40, Order 0x80
//! ```
//!
//! Address 4 is there when both ToDS and FromDS are set (a WDS/mesh frame); QoS Control in QoS
//! subtypes (subtype bit 0x8); HT Control in QoS data frames whose Order bit is set (§9.2.4.1.10:
//! "+HTC"). Subtype bit 0x4 marks the subtypes without a body (Null, QoS Null, CF-Ack, ...).
//! Frames are taken without an FCS, as Wireshark's `wlan` handle takes them (not `wlan_withfcs`).

use super::Truncated;

mod field {
    use std::ops::Range;
    pub const FRAME_CONTROL: usize = 0;
    pub const FLAGS: usize = 1;
    pub const DURATION: Range<usize> = 2..4;
    pub const ADDR1: Range<usize> = 4..10;
    pub const ADDR2: Range<usize> = 10..16;
    pub const ADDR3: Range<usize> = 16..22;
    pub const SEQ_CTRL: Range<usize> = 22..24;
    pub const ADDR4: Range<usize> = 24..30;
}

/// The MAC header of a data frame without the optional fields, bytes.
pub const HEADER_LEN: usize = field::SEQ_CTRL.end;
const ADDR4_LEN: usize = 6;
const QOS_LEN: usize = 2;
const HT_CONTROL_LEN: usize = 4;

/// Frame types (§9.2.4.1.3, Table 9-1).
pub const TYPE_DATA: u8 = 2;
pub const FLAG_TO_DS: u8 = 0x01;
pub const FLAG_FROM_DS: u8 = 0x02;
pub const FLAG_PROTECTED: u8 = 0x40;
pub const FLAG_ORDER: u8 = 0x80;
/// Data subtype bits: a QoS subtype; a subtype without a frame body.
const SUBTYPE_QOS: u8 = 0x08;
const SUBTYPE_NO_DATA: u8 = 0x04;
/// QoS Control bit 7: the body is an A-MSDU (§9.2.4.5.9).
const QOS_A_MSDU: u8 = 0x80;

/// LLC header of a SNAP frame (DSAP 0xAA, SSAP 0xAA, UI) and the two organisation codes whose
/// protocol ID is an EtherType: RFC 1042's 00-00-00 and IEEE 802.1H's bridge tunnel 00-00-F8.
const LLC_SNAP: [u8; 3] = [0xaa, 0xaa, 0x03];
const OUI_RFC1042: [u8; 3] = [0, 0, 0];
const OUI_BRIDGE_TUNNEL: [u8; 3] = [0, 0, 0xf8];
const SNAP_LEN: usize = 8;

/// An 802.11 frame whose frame control is present and, for a data frame, every header field
/// its frame control announces.
#[derive(Debug, Clone, Copy)]
pub struct Wlan<'a> {
    buffer: &'a [u8],
    header_len: usize,
}

impl<'a> Wlan<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, Truncated> {
        let fc = *buffer.get(field::FRAME_CONTROL).ok_or(Truncated)?;
        let flags = *buffer.get(field::FLAGS).ok_or(Truncated)?;
        let header_len = if (fc >> 2) & 0x03 == TYPE_DATA && fc & 0x03 == 0 {
            data_header_len(fc >> 4, flags)
        } else {
            // Management, control and other versions: only the frame control is read.
            field::FLAGS + 1
        };
        if buffer.len() < header_len {
            return Err(Truncated);
        }
        Ok(Wlan { buffer, header_len })
    }

    pub fn version(&self) -> u8 {
        self.buffer[field::FRAME_CONTROL] & 0x03
    }

    pub fn frame_type(&self) -> u8 {
        (self.buffer[field::FRAME_CONTROL] >> 2) & 0x03
    }

    pub fn subtype(&self) -> u8 {
        self.buffer[field::FRAME_CONTROL] >> 4
    }

    pub fn flags(&self) -> u8 {
        self.buffer[field::FLAGS]
    }

    /// Whether the header fields after the frame control were checked (a version 0 data frame).
    fn is_data(&self) -> bool {
        self.version() == 0 && self.frame_type() == TYPE_DATA
    }

    fn bytes<const N: usize>(&self, r: std::ops::Range<usize>) -> Option<[u8; N]> {
        let b = self.buffer.get(r).filter(|_| self.is_data())?;
        b.try_into().ok()
    }

    pub fn duration(&self) -> Option<u16> {
        self.bytes(field::DURATION).map(u16::from_le_bytes)
    }

    pub fn addr1(&self) -> Option<[u8; 6]> {
        self.bytes(field::ADDR1)
    }

    pub fn addr2(&self) -> Option<[u8; 6]> {
        self.bytes(field::ADDR2)
    }

    pub fn addr3(&self) -> Option<[u8; 6]> {
        self.bytes(field::ADDR3)
    }

    pub fn seq_ctrl(&self) -> Option<u16> {
        self.bytes(field::SEQ_CTRL).map(u16::from_le_bytes)
    }

    /// Address 4, present when ToDS and FromDS are both set.
    pub fn addr4(&self) -> Option<[u8; 6]> {
        let both = FLAG_TO_DS | FLAG_FROM_DS;
        (self.flags() & both == both)
            .then(|| self.bytes(field::ADDR4))
            .flatten()
    }

    /// QoS Control (little-endian), in QoS data subtypes.
    pub fn qos_control(&self) -> Option<u16> {
        if !self.is_data() || self.subtype() & SUBTYPE_QOS == 0 {
            return None;
        }
        let at = HEADER_LEN + if self.addr4().is_some() { ADDR4_LEN } else { 0 };
        self.bytes(at..at + QOS_LEN).map(u16::from_le_bytes)
    }

    pub fn header_len(&self) -> usize {
        self.header_len
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }

    /// What the frame's body is.
    pub fn body(&self) -> Result<Body<'a>, Truncated> {
        if self.frame_type() != TYPE_DATA {
            return Ok(Body::NotData);
        }
        if self.version() != 0 {
            return Ok(Body::NotDecoded);
        }
        if self.subtype() & SUBTYPE_NO_DATA != 0 {
            return Ok(Body::NotData);
        }
        if self.flags() & FLAG_PROTECTED != 0 {
            return Ok(Body::Protected);
        }
        if self
            .qos_control()
            .is_some_and(|q| q.to_le_bytes()[0] & QOS_A_MSDU != 0)
        {
            return Ok(Body::NotDecoded);
        }
        snap(self.payload())
    }
}

/// The header length of a version 0 data frame of `subtype` with the frame control `flags`.
fn data_header_len(subtype: u8, flags: u8) -> usize {
    let both = FLAG_TO_DS | FLAG_FROM_DS;
    let mut len = HEADER_LEN;
    if flags & both == both {
        len += ADDR4_LEN;
    }
    if subtype & SUBTYPE_QOS != 0 {
        len += QOS_LEN;
        if flags & FLAG_ORDER != 0 {
            len += HT_CONTROL_LEN;
        }
    }
    len
}

/// What an 802.11 frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// A SNAP header with an EtherType, and the packet after it.
    EtherType(u16, &'a [u8]),
    /// A management or control frame, a data subtype without a body, or a body that is not
    /// SNAP: decoded, and nothing IP in it.
    NotData,
    /// The Protected bit is set: the body is encrypted.
    Protected,
    /// An A-MSDU, or a protocol version other than 0.
    NotDecoded,
}

/// The LLC/SNAP header of a data frame's body.
fn snap(body: &[u8]) -> Result<Body<'_>, Truncated> {
    let Some(h) = body.get(..SNAP_LEN) else {
        // An LLC header has at least 3 bytes, and one that starts SNAP needs 8: a cut frame.
        return match body.get(..LLC_SNAP.len()) {
            Some(llc) if llc != LLC_SNAP => Ok(Body::NotData),
            _ => Err(Truncated),
        };
    };
    if h[..3] != LLC_SNAP || (h[3..6] != OUI_RFC1042 && h[3..6] != OUI_BRIDGE_TUNNEL) {
        return Ok(Body::NotData);
    }
    let et = u16::from_be_bytes([h[6], h[7]]);
    Ok(Body::EtherType(et, &body[SNAP_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const QOS_DATA: [u8; 36] = [
        0x88, 0x01,                         // QoS data (type 2, subtype 8); ToDS
        0x2c, 0x00,                         // duration 44
        0x02, 0, 0, 0, 0, 0x0a,             // address 1 (BSSID)
        0x02, 0, 0, 0, 0, 0x0b,             // address 2 (source)
        0x02, 0, 0, 0, 0, 0x0c,             // address 3 (destination)
        0x30, 0x00,                         // sequence control: sequence 3
        0x05, 0x00,                         // QoS control: TID 5
        0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, // LLC/SNAP, RFC 1042
        0x08, 0x00,                         // IPv4
        0x45, 0x00,                         // packet
    ];

    #[test]
    fn fields_of_a_qos_data_frame() {
        let w = Wlan::new_checked(&QOS_DATA).expect("26 bytes present");
        assert_eq!(
            (w.version(), w.frame_type(), w.subtype()),
            (0, TYPE_DATA, 8)
        );
        assert_eq!(
            (w.flags(), w.duration(), w.seq_ctrl()),
            (0x01, Some(44), Some(0x30))
        );
        assert_eq!(w.addr1(), Some([2, 0, 0, 0, 0, 0x0a]));
        assert_eq!(w.addr2(), Some([2, 0, 0, 0, 0, 0x0b]));
        assert_eq!(w.addr3(), Some([2, 0, 0, 0, 0, 0x0c]));
        assert_eq!((w.addr4(), w.qos_control()), (None, Some(5)));
        assert_eq!(w.header_len(), 26);
        assert_eq!(w.body(), Ok(Body::EtherType(0x0800, &[0x45, 0x00][..])));
    }

    #[test]
    fn four_addresses_and_ht_control() {
        let mut f = QOS_DATA.to_vec();
        f[1] = FLAG_TO_DS | FLAG_FROM_DS | FLAG_ORDER;
        f.splice(24..24, [0x02, 0, 0, 0, 0, 0x0d]); // address 4
        f.splice(32..32, [0, 0, 0, 0]); // HT control after QoS control
        let w = Wlan::new_checked(&f).expect("present");
        assert_eq!(w.addr4(), Some([2, 0, 0, 0, 0, 0x0d]));
        assert_eq!((w.qos_control(), w.header_len()), (Some(5), 36));
        assert_eq!(w.body(), Ok(Body::EtherType(0x0800, &[0x45, 0x00][..])));
        // The Order bit of a non-QoS data frame is strict ordering, not +HTC.
        let mut plain = QOS_DATA.to_vec();
        plain[0] = 0x08; // data, subtype 0
        plain[1] = FLAG_ORDER;
        plain.drain(24..26);
        let w = Wlan::new_checked(&plain).expect("present");
        assert_eq!((w.qos_control(), w.header_len()), (None, 24));
        assert_eq!(w.body(), Ok(Body::EtherType(0x0800, &[0x45, 0x00][..])));
    }

    #[test]
    fn bodies_that_stop() {
        // What the body is once byte `i` of the frame is `b` (the packet itself not compared).
        let with = |i: usize, b: u8| {
            let mut f = QOS_DATA;
            f[i] = b;
            Wlan::new_checked(&f)
                .and_then(|w| w.body())
                .map(|body| -> Body<'static> {
                    match body {
                        Body::EtherType(et, _) => Body::EtherType(et, &[]),
                        Body::NotData => Body::NotData,
                        Body::Protected => Body::Protected,
                        Body::NotDecoded => Body::NotDecoded,
                    }
                })
        };
        assert_eq!(with(1, FLAG_TO_DS | FLAG_PROTECTED), Ok(Body::Protected));
        assert_eq!(with(24, 0x85), Ok(Body::NotDecoded)); // A-MSDU present
        assert_eq!(with(0, 0xc8), Ok(Body::NotData)); // QoS Null
        assert_eq!(with(0, 0x80), Ok(Body::NotData)); // beacon (management)
        assert_eq!(with(0, 0x89), Ok(Body::NotDecoded)); // protocol version 1
        assert_eq!(with(26, 0x42), Ok(Body::NotData)); // LLC, not SNAP
        assert_eq!(with(31, 0x01), Ok(Body::NotData)); // SNAP, another OUI
                                                       // IEEE 802.1H bridge tunnel: still an EtherType.
        assert_eq!(with(31, 0xf8), Ok(Body::EtherType(0x0800, &[])));
        assert_eq!(with(26, 0xab), Ok(Body::NotData)); // another DSAP
    }

    #[test]
    fn truncation_sweep() {
        for n in 0..26 {
            assert!(Wlan::new_checked(&QOS_DATA[..n]).is_err(), "len {n}");
        }
        for n in 26..34 {
            let w = Wlan::new_checked(&QOS_DATA[..n]).expect("header present");
            assert_eq!(w.body(), Err(Truncated), "len {n}");
        }
        let w = Wlan::new_checked(&QOS_DATA[..34]).expect("present");
        assert_eq!(w.body(), Ok(Body::EtherType(0x0800, &[][..])));
        // A control frame needs only its frame control.
        assert!(Wlan::new_checked(&[0xd4, 0x00]).is_ok());
    }
}
