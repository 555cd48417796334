//! The pcap and pcapng readers (plain or gzip) alone: every record until the end, the cut or the
//! damage, with its offset.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use offload_doctor::capture::CaptureReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::from_reader(Box::new(Cursor::new(data.to_vec()))) else {
        return;
    };
    while let Ok(Some(frame)) = reader.next_frame() {
        assert!(frame.data.len() as u64 <= u64::from(frame.wire_len));
    }
});
