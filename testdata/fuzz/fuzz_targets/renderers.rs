//! The exporters on the report of a fuzzed capture: text (at a fuzzed width), JSON, the check
//! line and JUnit XML.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offload_doctor::analysis::{finding_ids, Settings, Severity};
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::analyze_bytes;
use offload_doctor::report::check::{text as check_text, CaptureCheck, CheckRun};
use offload_doctor::report::{json, junit, text};

fuzz_target!(|data: &[u8]| {
    let Some((&width, capture)) = data.split_first() else {
        return;
    };
    let Ok(a) = analyze_bytes(
        capture.to_vec(),
        &DecodeConfig::default(),
        &Settings::default(),
    ) else {
        return;
    };
    let opts = text::TextOptions {
        top: usize::from(width % 8),
        width: Some(u16::from(width) * 2),
        color: width & 1 == 1,
        min_severity: [Severity::Info, Severity::Warning, Severity::Error][usize::from(width % 3)],
    };
    let _ = text::render(&a.report, &opts);
    let mut out = Vec::new();
    json::write(&mut out, &a.report).expect("JSON into memory");
    let check = CaptureCheck::new(a.report, None, Severity::Warning);
    let _ = check_text::line(&check, Severity::Warning);
    let run = CheckRun::new(Severity::Warning, None, &[], vec![check]);
    let _ = check_text::total(&run);
    let _ = junit::junit(&run, &finding_ids()).to_string();
});
