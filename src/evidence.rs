//! Evidence: a bounded list of 1-based frame numbers (Wireshark's numbering) plus how many there
//! were in all. Findings cite these; the flow layer keeps some for its own facts.

/// At most this many evidence frame numbers are kept per finding; `details` carries totals.
pub const MAX_EVIDENCE: usize = 20;

/// A bounded list of evidence frame numbers plus the total seen.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    frames: [u64; MAX_EVIDENCE],
    kept: usize,
    pub total: u64,
}

impl Evidence {
    pub fn push(&mut self, frame: u64) {
        if self.kept < MAX_EVIDENCE {
            self.frames[self.kept] = frame;
            self.kept += 1;
        }
        self.total += 1;
    }
    pub fn frames(&self) -> Vec<u64> {
        self.frames[..self.kept].to_vec()
    }
}
