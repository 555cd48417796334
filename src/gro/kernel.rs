//! Linux GRO rule generations: the IP ID rule is the one that changed between kernels.
//!
//! Sources: net/ipv4/af_inet.c `inet_gro_receive` (before 6.10), `inet_gro_flush()` (6.10 on),
//! and the net-next change of September 2025 (6.18) that accepts a fixed or incrementing ID
//! regardless of DF; ../shared/notes/domain.md and docs/detectors.md have the table.

/// Linux GRO rule generations. They differ only in the IP ID rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kernel {
    /// Up to 4.6: the innermost ID must increase by one, whatever DF says; outer IDs are not
    /// checked (af_inet.c: "only the inner most IP ID is checked").
    V4_6,
    /// 4.7 to 6.9 ("GRO: Add support for TCP with fixed IPv4 ID field"): DF=0 needs IDs that
    /// increase by one; DF=1 allows a fixed or incrementing ID; a UDP tunnel's outer ID with DF=1
    /// is ignored.
    V4_7,
    /// 6.10 to 6.17: the same outcome, checks moved into `inet_gro_flush()`.
    V6_10,
    /// 6.18 on: fixed or incrementing regardless of DF, for the outer header too.
    V6_18,
}

impl Kernel {
    pub const ALL: [Kernel; 4] = [Kernel::V4_6, Kernel::V4_7, Kernel::V6_10, Kernel::V6_18];
    /// The default: the current rules.
    pub const LATEST: Kernel = Kernel::V6_18;

    /// The generation's name: the first version it covers (`4.6` covers everything before 4.7).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::V4_6 => "4.6",
            Kernel::V4_7 => "4.7",
            Kernel::V6_10 => "6.10",
            Kernel::V6_18 => "6.18",
        }
    }

    /// The versions the generation covers, for messages.
    pub fn range(self) -> &'static str {
        match self {
            Kernel::V4_6 => "kernels before 4.7",
            Kernel::V4_7 => "kernels 4.7 to 6.9",
            Kernel::V6_10 => "kernels 6.10 to 6.17",
            Kernel::V6_18 => "kernels 6.18 and later",
        }
    }

    /// Maps a kernel version (`5.15`, `6.1.0-18-amd64`, `4`) or `latest` to its generation.
    pub fn parse(s: &str) -> Result<Kernel, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("latest") {
            return Ok(Kernel::LATEST);
        }
        let mut parts = s.split(|c: char| !c.is_ascii_digit());
        let num = |p: Option<&str>| p.filter(|p| !p.is_empty()).map(str::parse::<u32>);
        let major = match num(parts.next()) {
            Some(Ok(m)) => m,
            _ => {
                return Err(format!(
                    "`{s}` is not a kernel version: write e.g. 5.15 or 6.18"
                ))
            }
        };
        let minor = match num(parts.next()) {
            Some(Ok(m)) => m,
            _ => 0,
        };
        Ok(match (major, minor) {
            (0..=3, _) | (4, 0..=6) => Kernel::V4_6,
            (4..=5, _) | (6, 0..=9) => Kernel::V4_7,
            (6, 10..=17) => Kernel::V6_10,
            _ => Kernel::V6_18,
        })
    }

    /// Whether two consecutive IPv4 headers with the same DF and IDs `delta` apart pass the ID
    /// rule at `layer`: the second segment of a train (what ID statistics judge).
    pub fn id_ok(self, layer: IdLayer, df: bool, delta: u16) -> bool {
        self.id_joins(layer, df, IdTrain::start(0), delta)
    }

    /// Whether a segment with ID `id` (and the train's DF) may join `train` at `layer`. The kernel
    /// compares with the train's first ID, not the previous one (include/net/gro.h
    /// `inet_gro_flush`, `ipid_offset ^ (count * !ip_fixedid)`): the ID must be the first's plus
    /// the segments held so far, or, in a fixed-ID train, the first's.
    pub fn id_joins(self, layer: IdLayer, df: bool, train: IdTrain, id: u16) -> bool {
        let offset = id.wrapping_sub(train.head);
        let ignored = match (self, layer) {
            // "Only the inner most IP ID is checked" (af_inet.c before 4.7).
            (Kernel::V4_6, IdLayer::Outer) => true,
            // `if (flush | (outer && df)) return flush;`
            (Kernel::V4_7 | Kernel::V6_10, IdLayer::Outer) => df,
            _ => false,
        };
        ignored
            || if self.fixed_train(df, train, offset) {
                offset == 0
            } else {
                offset == train.count
            }
    }

    /// Whether `train` is (or, with a second segment `offset` from the first, becomes) a fixed-ID
    /// train: "When we receive our second frame we can make a decision on if we continue this
    /// flow as an atomic flow with a fixed ID" (gro.h), with DF set before 6.18, whatever DF says
    /// from 6.18, never before 4.7.
    pub fn fixed_train(self, df: bool, train: IdTrain, offset: u16) -> bool {
        let allowed = match self {
            Kernel::V4_6 => false,
            Kernel::V4_7 | Kernel::V6_10 => df,
            Kernel::V6_18 => true,
        };
        train.fixed || (allowed && train.count == 1 && offset == 0)
    }
}

/// The IP ID state of one layer of a GRO train: its first ID, the segments it holds
/// (`NAPI_GRO_CB(p)->count`) and whether its second segment made it a fixed-ID train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdTrain {
    pub head: u16,
    pub count: u16,
    pub fixed: bool,
}

impl IdTrain {
    /// A train of one segment with ID `id`.
    pub fn start(id: u16) -> IdTrain {
        IdTrain {
            head: id,
            count: 1,
            fixed: false,
        }
    }

    /// The train after a segment with ID `id` joined it.
    pub fn joined(self, kernel: Kernel, df: bool, id: u16) -> IdTrain {
        IdTrain {
            head: self.head,
            count: self.count.saturating_add(1),
            fixed: kernel.fixed_train(df, self, id.wrapping_sub(self.head)),
        }
    }
}

/// Which IPv4 header an ID rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdLayer {
    /// The encapsulating header of a UDP tunnel.
    Outer,
    /// The innermost header (the only one without a tunnel).
    Inner,
}

impl IdLayer {
    /// The index of this layer's facts in `GroDir::ids`.
    pub fn index(self) -> usize {
        match self {
            IdLayer::Outer => 0,
            IdLayer::Inner => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IdLayer::Outer => "outer",
            IdLayer::Inner => "inner",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_map_to_generations() {
        assert_eq!(Kernel::parse("4.4"), Ok(Kernel::V4_6));
        assert_eq!(Kernel::parse("4.7"), Ok(Kernel::V4_7));
        assert_eq!(Kernel::parse("5.15.0-91-generic"), Ok(Kernel::V4_7));
        assert_eq!(Kernel::parse("6.9"), Ok(Kernel::V4_7));
        assert_eq!(Kernel::parse("6.10"), Ok(Kernel::V6_10));
        assert_eq!(Kernel::parse("6.17"), Ok(Kernel::V6_10));
        assert_eq!(Kernel::parse("6.18"), Ok(Kernel::V6_18));
        assert_eq!(Kernel::parse("7"), Ok(Kernel::V6_18));
        assert_eq!(Kernel::parse("latest"), Ok(Kernel::V6_18));
        assert!(Kernel::parse("linux").is_err());
        assert!(Kernel::parse("").is_err());
    }

    /// The ID rule table of docs/detectors.md, row by row.
    #[test]
    fn id_rules_by_generation() {
        use IdLayer::{Inner, Outer};
        use Kernel::*;
        // (layer, df, delta) → allowed in 4.6, 4.7, 6.10, 6.18
        let table: [(IdLayer, bool, u16, [bool; 4]); 10] = [
            (Inner, false, 1, [true, true, true, true]),
            (Inner, false, 0, [false, false, false, true]),
            (Inner, false, 4, [false, false, false, false]),
            (Inner, true, 1, [true, true, true, true]),
            (Inner, true, 0, [false, true, true, true]),
            (Inner, true, 4000, [false, false, false, false]),
            (Outer, false, 1, [true, true, true, true]),
            (Outer, false, 4, [true, false, false, false]),
            (Outer, true, 0, [true, true, true, true]),
            (Outer, true, 4000, [true, true, true, false]),
        ];
        for (layer, df, delta, want) in table {
            for (k, w) in [V4_6, V4_7, V6_10, V6_18].into_iter().zip(want) {
                assert_eq!(
                    k.id_ok(layer, df, delta),
                    w,
                    "{k:?} {layer:?} df={df} +{delta}"
                );
            }
        }
    }

    /// The kernel compares with the train's first ID: a fixed train stays fixed, an
    /// incrementing one keeps incrementing, and a switch between the two ends the train.
    #[test]
    fn id_trains_follow_the_first_id() {
        use IdLayer::Inner;
        let run = |k: Kernel, df: bool, ids: &[u16]| -> Vec<bool> {
            let mut t = IdTrain::start(ids[0]);
            ids[1..]
                .iter()
                .map(|&id| {
                    let ok = k.id_joins(Inner, df, t, id);
                    t = if ok {
                        t.joined(k, df, id)
                    } else {
                        IdTrain::start(id)
                    };
                    ok
                })
                .collect()
        };
        // Fixed, then incrementing: the first +1 ends the fixed train; the next train increments.
        assert_eq!(
            run(Kernel::V6_18, false, &[100, 100, 100, 101, 102]),
            [true, true, false, true]
        );
        // Incrementing, then one repeat: 3 is not 1 + 3 segments.
        assert_eq!(
            run(Kernel::V6_18, true, &[1, 2, 3, 3, 4]),
            [true, true, false, true]
        );
        // Before 6.18 a fixed ID needs DF.
        assert_eq!(run(Kernel::V6_10, false, &[7, 7, 7]), [false, false]);
        assert_eq!(run(Kernel::V6_10, true, &[7, 7, 7]), [true, true]);
        // Wrapping is still +1.
        assert_eq!(run(Kernel::V4_6, false, &[65534, 65535, 0]), [true, true]);
    }
}
