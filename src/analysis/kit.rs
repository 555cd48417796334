//! A small kit the detectors share: iterating TCP flows and data directions, naming senders,
//! ratios and filters, and the words every GRO finding uses for what blocks merging.

use serde::Serialize;

use crate::flow::{Flow, FlowTable, Side};
use crate::gro::{Blocker, Blockers, FixStep, GroDir};
use crate::tcp::TcpConn;

/// Every direction of a TCP flow that sent data, with its coalescing facts and GRO model.
pub fn gro_dirs(flows: &FlowTable) -> impl Iterator<Item = (&Flow, Side, &GroDir)> + '_ {
    flows.flows.iter().flat_map(|f| {
        f.gro
            .as_deref()
            .into_iter()
            .flat_map(move |g| g.dirs.sides().map(move |(side, d)| (f, side, d)))
            .filter(|(_, _, d)| d.data_frames > 0)
    })
}

/// The TCP flows of the table with their analysis state.
pub fn tcp_flows(flows: &FlowTable) -> impl Iterator<Item = (&Flow, &TcpConn)> + '_ {
    flows
        .flows
        .iter()
        .filter_map(|f| f.tcp.as_deref().map(|c| (f, c)))
}

/// "the server (10.0.0.2:80)": who sent `side`'s packets, for messages.
pub fn sender(f: &Flow, side: Side) -> String {
    format!("the {} ({})", f.role(side), f.key.end(side))
}

/// `a / b`, or 0 when `b` is 0.
pub fn share(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// A display filter for a flow's evidence: the flow's filter `&&` `evidence`.
pub fn flow_filter(f: &Flow, evidence: &str) -> Option<String> {
    Some(format!("{} && {evidence}", f.wireshark_filter()))
}

/// The `side` and `sender` entries of a per-direction finding's details (flattened into them).
#[derive(Debug, Serialize)]
pub struct SideDetails {
    /// `client` or `server`: who sent the direction.
    pub side: &'static str,
    /// Its address and port.
    pub sender: String,
}

impl SideDetails {
    pub fn of(f: &Flow, side: Side) -> Self {
        SideDetails {
            side: f.role(side),
            sender: f.key.end(side).to_string(),
        }
    }
}

/// A GRO rule blocks "most" pairs of a direction when it refuses at least this share of the
/// judged pairs: the bar every GRO finding uses.
pub const MOST_PAIRS: f64 = 0.5;

/// Whether `n` of `judged` pairs are most of them.
pub fn most(n: u64, judged: u64) -> bool {
    judged > 0 && share(n, judged) >= MOST_PAIRS
}

/// "no pair", "every pair", "3 of the 39 pairs": what fixing something frees.
pub fn frees(n: u64, judged: u64) -> String {
    match n {
        0 => "no pair".to_string(),
        n if n >= judged => "every pair".to_string(),
        n => format!("{n} of the {judged} pairs"),
    }
}

/// "`a`", "`a` and `b`", "`a`, `b` and `c`".
pub fn name_list(blockers: impl Iterator<Item = Blocker>) -> String {
    let names: Vec<String> = blockers.map(|b| format!("`{}`", b.name())).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// What stops Linux GRO on one direction, for every GRO finding to say alike: the header rules
/// a device or stack writes wrong that each refuse most judged pairs, in the order they must go
/// (the GRO model's fix plan: a pair merges only once every rule refusing it is fixed), and the
/// trains the application's PSH ends, which nothing on the network should change.
pub struct GroBlame<'a> {
    pub g: &'a GroDir,
    pub plan: Vec<FixStep>,
}

impl<'a> GroBlame<'a> {
    pub fn of(g: &'a GroDir) -> Self {
        let min = g.judged_pairs.div_ceil(2);
        let chosen = Blockers::of(g.refusing_at_least(min).iter().filter(|b| b.is_fixable()));
        GroBlame {
            g,
            plan: g.fix_plan(chosen),
        }
    }

    /// Judged pairs that fixing every rule of the plan would free.
    pub fn freed(&self) -> u64 {
        self.plan.last().map_or(0, |s| s.with_earlier)
    }

    /// Judged pairs whose train the sender's PSH ended.
    pub fn psh(&self) -> u64 {
        self.g.blockers[Blocker::Psh as usize]
    }

    /// PSH ends the train at most judged pairs: the data comes as messages, and GRO hands each
    /// one up at once by design.
    pub fn psh_most(&self) -> bool {
        most(self.psh(), self.g.judged_pairs)
    }

    /// The plan in words: "`ttl` blocks 100% of the segment pairs", or "`outer-ip-id` and
    /// `tcp-options` each block every segment pair; fix both — fixing `outer-ip-id` alone frees
    /// no pair".
    pub fn sentence(&self) -> String {
        let judged = self.g.judged_pairs;
        match self.plan.as_slice() {
            [] => String::new(),
            [one] => format!(
                "`{}` blocks {:.0}% of the segment pairs",
                one.blocker.name(),
                100.0 * share(one.refused, judged)
            ),
            [first, ..] => {
                let least = self.plan.iter().map(|s| s.refused).min().unwrap_or(0);
                let each = if least >= judged {
                    "every segment pair".to_string()
                } else {
                    format!(
                        "at least {:.0}% of the segment pairs",
                        100.0 * share(least, judged)
                    )
                };
                let all = match self.plan.len() {
                    2 => "both".to_string(),
                    n => format!("all {n}"),
                };
                format!(
                    "{} each block {each}; fix {all} — fixing `{}` alone frees {}",
                    name_list(self.plan.iter().map(|s| s.blocker)),
                    first.blocker.name(),
                    frees(first.alone, judged)
                )
            }
        }
    }

    /// What fixing the plan still leaves, when it frees fewer than most pairs: ", but PSH ends
    /// the train at 100% of them anyway (the application's message boundaries), so fixing it
    /// frees no pair"; empty when the plan frees most pairs.
    pub fn caveat(&self) -> String {
        let judged = self.g.judged_pairs;
        if self.plan.is_empty() || most(self.freed(), judged) {
            return String::new();
        }
        let planned = Blockers::of(self.plan.iter().map(|s| s.blocker));
        let it = if self.plan.len() == 1 { "it" } else { "them" };
        let fixing = format!("fixing {it} frees {}", frees(self.freed(), judged));
        match self
            .g
            .top_blockers()
            .into_iter()
            .find(|(b, _)| !planned.contains(*b))
        {
            Some((Blocker::Psh, n)) => {
                format!(", but {} anyway, so {fixing}", psh_sentence(n, judged))
            }
            Some((b, n)) => format!(
                ", but `{}` refuses {:.0}% of them anyway, so {fixing}",
                b.name(),
                100.0 * share(n, judged)
            ),
            None => format!(", but {fixing}"),
        }
    }

    /// The hints of the plan's rules, in its order, each once.
    pub fn hints(&self) -> String {
        let mut hints: Vec<&str> = Vec::new();
        for s in &self.plan {
            let h = s.blocker.hint();
            if !hints.contains(&h) {
                hints.push(h);
            }
        }
        hints.join(" ")
    }

    /// The plan's rule names, in order (`details.must_fix`).
    pub fn names(&self) -> Vec<&'static str> {
        self.plan.iter().map(|s| s.blocker.name()).collect()
    }
}

/// The words every GRO finding uses for trains PSH ended: the application's message boundaries,
/// where GRO flushes by design (net/ipv4/tcp_offload.c `tcp_gro_receive`).
pub fn psh_sentence(n: u64, judged: u64) -> String {
    format!(
        "PSH ends the GRO train at {:.0}% of the segment pairs (the application's message \
         boundaries, where \
         GRO flushes by design)",
        100.0 * share(n, judged)
    )
}

/// Every side of every QUIC connection whose key log held its secrets (`--keylog`): what the
/// detectors that judge decrypted connections walk.
pub fn decrypted_sides<'a>(
    s: &'a super::Summary<'_>,
) -> impl Iterator<
    Item = (
        &'a Flow,
        &'a crate::quic::QuicConn,
        &'a crate::quic::decrypt::Decryption,
        Side,
    ),
> + 'a {
    s.flows.flows.iter().flat_map(|f| {
        let conn = f.quic.as_deref();
        let d = conn.and_then(|q| q.decryption.as_deref().filter(|d| d.secrets_found));
        conn.zip(d)
            .into_iter()
            .flat_map(move |(q, d)| Side::BOTH.into_iter().map(move |side| (f, q, d, side)))
    })
}
