//! IP ID patterns: how consecutive IPv4 IDs of one direction step, and which steps a kernel
//! generation's ID rule refuses.

use super::{IdLayer, Kernel};

/// IP ID samples kept per direction and layer, for the evidence of `gro-blocked-ip-id`.
pub const ID_SAMPLES: usize = 12;

/// Classes of the step between two consecutive IP IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStep {
    /// The same ID (fixed).
    Fixed = 0,
    /// +1: a per-flow counter.
    Increment = 1,
    /// +2 to +64: a counter shared with other traffic (host- or device-wide).
    SmallJump = 2,
    /// Anything else: random or unrelated IDs.
    Other = 3,
}

impl IdStep {
    pub const ALL: [IdStep; 4] = [
        IdStep::Fixed,
        IdStep::Increment,
        IdStep::SmallJump,
        IdStep::Other,
    ];

    /// A step of this class, for judging it by [`Kernel::id_ok`] (jumps are neither 0 nor 1).
    pub fn delta(self) -> u16 {
        match self {
            IdStep::Fixed => 0,
            IdStep::Increment => 1,
            IdStep::SmallJump | IdStep::Other => 2,
        }
    }

    pub fn of(delta: u16) -> IdStep {
        match delta {
            0 => IdStep::Fixed,
            1 => IdStep::Increment,
            2..=64 => IdStep::SmallJump,
            _ => IdStep::Other,
        }
    }
}

/// IP ID facts of one IPv4 layer of one direction.
#[derive(Debug, Clone, Default)]
pub struct IdFacts {
    /// Judged pairs by DF (0: DF clear, 1: DF set) and [`IdStep`].
    pub steps: [[u64; 4]; 2],
    /// The first IDs of judged frames: (frame, id, df).
    pub samples: [(u64, u16, bool); ID_SAMPLES],
    pub sample_count: usize,
}

impl IdFacts {
    pub(super) fn sample(&mut self, frame: u64, id: u16, df: bool) {
        if self.sample_count < ID_SAMPLES {
            self.samples[self.sample_count] = (frame, id, df);
            self.sample_count += 1;
        }
    }

    /// Judged pairs in total.
    pub fn pairs(&self) -> u64 {
        self.steps.iter().flatten().sum()
    }

    /// Pairs that fail `kernel`'s ID rule at `layer`. A SmallJump or Other step is never 0 or 1.
    pub fn failing(&self, kernel: Kernel, layer: IdLayer) -> u64 {
        let mut n = 0;
        for (df, row) in self.steps.iter().enumerate() {
            for (step, &count) in IdStep::ALL.iter().zip(row) {
                if !kernel.id_ok(layer, df == 1, step.delta()) {
                    n += count;
                }
            }
        }
        n
    }

    /// The DF value of most judged pairs.
    pub fn df(&self) -> bool {
        let set: u64 = self.steps[1].iter().sum();
        let clear: u64 = self.steps[0].iter().sum();
        set >= clear && set > 0
    }

    /// The step class of most judged pairs.
    pub fn pattern(&self) -> IdStep {
        let mut totals = [0u64; 4];
        for row in &self.steps {
            for (t, c) in totals.iter_mut().zip(row) {
                *t += c;
            }
        }
        let best = (0..4).max_by_key(|&i| (totals[i], 3 - i)).unwrap_or(0);
        IdStep::ALL[best]
    }

    pub fn samples(&self) -> &[(u64, u16, bool)] {
        &self.samples[..self.sample_count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_steps() {
        assert_eq!(IdStep::of(0), IdStep::Fixed);
        assert_eq!(IdStep::of(1), IdStep::Increment);
        assert_eq!(IdStep::of(4), IdStep::SmallJump);
        assert_eq!(IdStep::of(65535), IdStep::Other);
        let mut f = IdFacts::default();
        f.steps[0][IdStep::SmallJump as usize] = 9;
        f.steps[0][IdStep::Increment as usize] = 1;
        assert_eq!(f.pattern(), IdStep::SmallJump);
        assert!(!f.df());
        assert_eq!(f.failing(Kernel::V6_18, IdLayer::Outer), 9);
        assert_eq!(f.failing(Kernel::V4_6, IdLayer::Outer), 0);
    }
}
