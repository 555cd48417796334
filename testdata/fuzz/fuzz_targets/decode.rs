//! The decoder on one frame: the first two bytes choose the link type (from those we decode,
//! and any other), the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offload_doctor::capture::Frame;
use offload_doctor::decode::{decode, DecodeConfig};

/// Ethernet, raw IP (101, 12, 14, 228, 229), Linux SLL and SLL2, BSD null and loop.
const LINK_TYPES: [u32; 10] = [1, 101, 12, 14, 228, 229, 113, 276, 0, 108];

fuzz_target!(|data: &[u8]| {
    let Some((&[a, b], bytes)) = data.split_first_chunk::<2>() else {
        return;
    };
    let link_type = match LINK_TYPES.get(usize::from(a) % 11) {
        Some(&lt) => lt,
        None => u32::from(b),
    };
    let frame = Frame {
        number: 1,
        ts_ns: 0,
        ts_known: true,
        ts_bad_fraction: false,
        link_type,
        interface: Some(0),
        wire_len: bytes.len() as u32 + u32::from(b),
        data: bytes,
        offset: 0,
        secrets: None,
    };
    let _ = decode(&frame, &DecodeConfig::default());
});
