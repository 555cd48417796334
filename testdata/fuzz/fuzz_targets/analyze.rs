//! The whole analysis from bytes: reader, decoder, flow table, TCP engine, GRO model, every
//! detector and the report. Must never panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offload_doctor::analysis::Settings;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::analyze_bytes;

fuzz_target!(|data: &[u8]| {
    let _ = analyze_bytes(
        data.to_vec(),
        &DecodeConfig::default(),
        &Settings::default(),
    );
});
