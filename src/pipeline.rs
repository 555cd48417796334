//! The single streaming pass as library API: capture → decode → flow → analysis → report, and the
//! graphs of chosen flows from a second pass. The only module that knows every stage; the
//! commands call it.
//!
//! Nothing on the per-frame path allocates: the record bytes live in reusable read buffers,
//! decoding produces a `Copy` struct that borrows the frame, detector counters are fixed-size, and
//! heap memory grows only with the number of flows and declared interfaces. Reading and decoding
//! run on a second thread ([`stages`]).

mod peer_points;
mod stages;

use std::io;

use anyhow::{Context, Result};
use rustc_hash::FxHashSet;

use crate::analysis::peer_match::PeerData;
use crate::analysis::{self, peer, qlog_join, FrameCtx, Registered, Settings, Summary, Watch};
use crate::capture::{progress, CaptureError, CaptureReader, Frame, Input, TruncationKind};
use crate::decode::{self, DecodeConfig, Kind, Packet};
use crate::flow::select::Selection;
use crate::flow::{Flow, FlowRef, FlowTable, FullTrace};
use crate::gro::PairVerdict;
use crate::plot::{self, PlotKind};
use crate::report::{self, CaptureReport, Coverage, FlowReport, Report, Verdict};
use crate::tcp::events::Events;

/// An input problem that still produced a report: printed, then exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct DamagedInput {
    pub path: String,
    pub what: String,
}

/// Result of one pass over a capture.
pub struct Analysis {
    pub report: Report,
    /// Set when the capture was damaged mid-file (as opposed to cut short): exit code 2.
    pub damaged: Option<DamagedInput>,
    /// The flows, with full traces for those the settings asked for (graphs).
    pub flows: FlowTable,
    /// What share of the capture was analysed: a selection's verdict is judged with it.
    pub coverage: Coverage,
    /// With `--peer`: both captures' packets and their comparison (graphs).
    pub peer: Option<PeerData>,
}

impl Analysis {
    /// Narrows the report to the flows `sel` selects (docs/selection.md): their findings and
    /// those about the whole capture, and the verdict of those. Flow ids do not change.
    pub fn select(&mut self, sel: &Selection) {
        if sel.is_empty() {
            return;
        }
        let start = self.report.capture.first_timestamp_ns.unwrap_or(0);
        let ids: FxHashSet<u32> = self
            .flows
            .flows
            .iter()
            .filter(|f| sel.matches(f, start))
            .map(|f| f.id)
            .collect();
        report::select::apply(&mut self.report, &ids, &self.coverage, sel.describe());
    }
}

/// One streaming pass: every frame is decoded, accounted to a flow and shown to every detector.
pub fn run_analysis(input: &Input, cfg: &DecodeConfig, settings: &Settings) -> Result<Analysis> {
    let reader = open(input)?;
    analyze_reader(
        reader,
        input.display_name(),
        cfg,
        settings,
        &mut |_, _, _| {},
    )
}

/// Opens `input`, the error named after it.
fn open(input: &Input) -> Result<CaptureReader> {
    CaptureReader::open(input).map_err(|e| match e {
        // The message names the directory already.
        CaptureError::Directory(_) => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context(input.display_name()),
    })
}

/// The pass over an open reader (a pipe from a live capture); `tap` sees every frame, what it
/// decoded to and where it landed.
pub fn analyze_reader(
    reader: CaptureReader,
    name: String,
    cfg: &DecodeConfig,
    settings: &Settings,
    tap: &mut dyn FnMut(&Frame<'_>, &Packet, Option<FlowRef>),
) -> Result<Analysis> {
    analyze_stream(reader, name.clone(), cfg, settings, tap).with_context(|| name)
}

/// The packets of the `--peer` capture, indexed for `path-loss`: one pass over it with the same
/// decoding and flow settings. A peer damaged mid-file is an error (its losses would be false).
pub fn peer_index(input: &Input, cfg: &DecodeConfig, settings: &Settings) -> Result<peer::Index> {
    let reader = open(input)?;
    let name = input.display_name();
    let mut index = peer::Index::new(name.clone());
    let mut own = settings.clone();
    own.peer = None;
    let analysis = analyze_reader(reader, name, cfg, &own, &mut |frame, pkt, flow| {
        index.push(frame, pkt, flow);
    })?;
    index.keep_keys(&analysis.flows);
    index.joins = analysis
        .report
        .flows
        .iter()
        .filter_map(|f| {
            let q = f.quic.as_ref().filter(|q| !q.qlog.is_empty())?;
            Some((f.id.saturating_sub(1), q.qlog.clone()))
        })
        .collect();
    match analysis.damaged {
        Some(d) => Err(anyhow::Error::new(d).context("--peer")),
        None => Ok(index),
    }
}

/// The TCP analysis flags of every frame that has any, with its frame number: what the
/// agreement test compares with tshark's `tcp.analysis.*` fields.
pub fn frame_events(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
) -> Result<Vec<(u64, Events)>> {
    per_frame(input, cfg, settings, |f| {
        Some(f.events).filter(|e| !e.is_empty())
    })
}

/// The GRO model's verdict on every pair of consecutive TCP data frames of a direction, by the
/// number of the pair's second frame: what the kernel lab holds against the running kernel.
pub fn gro_pairs(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
) -> Result<Vec<(u64, PairVerdict)>> {
    per_frame(input, cfg, settings, |f| f.gro)
}

/// One pass that collects `pick` of every frame that landed in a flow, with its frame number.
fn per_frame<T>(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    pick: impl Fn(&FlowRef) -> Option<T>,
) -> Result<Vec<(u64, T)>> {
    let reader = open(input)?;
    let mut out = Vec::new();
    analyze_reader(
        reader,
        input.display_name(),
        cfg,
        settings,
        &mut |frame, _, flow| {
            if let Some(v) = flow.as_ref().and_then(&pick) {
                out.push((frame.number, v));
            }
        },
    )?;
    Ok(out)
}

/// The same pass over bytes in memory (tests, fuzzing).
pub fn analyze_bytes(
    bytes: Vec<u8>,
    cfg: &DecodeConfig,
    settings: &Settings,
) -> Result<Analysis, CaptureError> {
    let reader = CaptureReader::from_reader(Box::new(io::Cursor::new(bytes)))?;
    analyze_stream(reader, "<memory>".into(), cfg, settings, &mut |_, _, _| {})
}

/// The classes of frames detectors watch, in the order of [`Pass::watching`]: TCP, UDP, and
/// the others (which only the detectors of every frame see).
const FRAME_CLASSES: [Watch; 3] = [Watch::Tcp, Watch::Udp, Watch::All];

/// The class of `pkt`, as its index in [`FRAME_CLASSES`].
fn frame_class(pkt: &Packet) -> usize {
    match (&pkt.tcp, &pkt.udp) {
        (Some(_), _) => 0,
        (None, Some(_)) => 1,
        (None, None) => 2,
    }
}

/// The state of one pass while frames stream through it.
struct Pass {
    flows: FlowTable,
    detectors: Vec<Registered>,
    /// The detectors that watch frames ([`analysis::Detector::watches`]), by index: those of
    /// TCP frames, of UDP frames, and of the others.
    watching: [Vec<usize>; 3],
    counts: stages::Counts,
    /// With `--peer`: this capture's packets, indexed as the peer's are, for the comparison.
    here: Option<peer::Index>,
}

impl Pass {
    fn new(settings: &Settings) -> Self {
        let detectors = analysis::registry(settings);
        let watching = FRAME_CLASSES.map(|class| {
            (0..detectors.len())
                .filter(|&i| detectors[i].detector.watches().sees(class))
                .collect()
        });
        Pass {
            flows: FlowTable::new(settings.flows.clone()),
            detectors,
            watching,
            counts: stages::Counts::default(),
            here: settings.peer.as_ref().map(|_| peer::Index::default()),
        }
    }

    /// One decoded frame through flow and every detector; returns where it landed.
    fn analyse(&mut self, frame: &Frame<'_>, pkt: &Packet) -> Option<FlowRef> {
        if let Some(text) = frame.secrets {
            self.flows.add_secrets(text);
        }
        let flow = self.flows.account(frame, pkt);
        let ctx = FrameCtx { frame, pkt, flow };
        for &i in &self.watching[frame_class(pkt)] {
            self.detectors[i].detector.on_frame(&ctx);
        }
        if let Some(here) = &mut self.here {
            here.push(frame, pkt, flow);
        }
        // Memory bounded by design: past `--max-memory` the least recently active flows go.
        let gone = self.flows.evict_over_budget();
        if !gone.is_empty() {
            for r in self.detectors.iter_mut() {
                r.detector.evicted(&gone);
            }
        }
        flow
    }
}

/// Whether the pass runs on one thread: `OFFLOAD_DOCTOR_THREADS=1` (a hidden setting, for the
/// test that holds the two-thread report byte-identical to it, and for measurements).
fn one_thread() -> bool {
    std::env::var_os("OFFLOAD_DOCTOR_THREADS").is_some_and(|v| v == "1")
}

/// The pass itself; `tap` sees each frame, its packet and where it landed.
fn analyze_stream(
    mut reader: CaptureReader,
    name: String,
    cfg: &DecodeConfig,
    settings: &Settings,
    tap: &mut dyn FnMut(&Frame<'_>, &Packet, Option<FlowRef>),
) -> Result<Analysis, CaptureError> {
    let mut pass = Pass::new(settings);
    if one_thread() {
        // The progress line's counters (capture/progress.rs): two stores a frame.
        let mut tally = progress::Tally::default();
        while let Some(frame) = reader.next_frame()? {
            tally.frame(&frame);
            let pkt = decode::decode(&frame, cfg);
            pass.counts.count(&frame, &pkt);
            let flow = pass.analyse(&frame, &pkt);
            tap(&frame, &pkt, flow);
        }
    } else {
        let (r, counts) = stages::run(reader, cfg, &mut |frame, pkt| {
            let flow = pass.analyse(frame, pkt);
            tap(frame, pkt, flow);
        })?;
        reader = r;
        pass.counts = counts;
    }
    Ok(finish(pass, &reader, name, settings))
}

/// A flow's report, with the qlog traces of its QUIC connection joined in.
fn flow_report(f: &Flow, flows: &[Flow], settings: &Settings, capture_end_ns: i64) -> FlowReport {
    let mut r = FlowReport::new(f, settings.flows.gro.kernel);
    if let (Some(q), Some(conn)) = (&mut r.quic, f.quic.as_deref()) {
        q.qlog = qlog_join::joins(f, &settings.qlog, capture_end_ns);
        q.paths = report::quic::paths(f, conn, flows);
    }
    r
}

/// The findings, the verdict and the report, once the capture has been read.
fn finish(mut pass: Pass, reader: &CaptureReader, name: String, settings: &Settings) -> Analysis {
    let kinds = pass.counts.take_kinds();
    let totals = &mut pass.counts.totals;
    let mut not_analysed = Vec::new();
    for (kind, n) in kinds {
        if !kind.is_analysed() {
            not_analysed.push((kind.name(), n));
        }
        match kind {
            Kind::Undecoded(u) => *totals.undecoded.entry(u.name()).or_default() += n,
            k => *totals.decoded.entry(k.name()).or_default() += n,
        }
    }
    let meta = &reader.meta;
    let compared = match (pass.here.take(), &settings.peer) {
        (Some(mut here), Some(peer)) => {
            here.keep_keys(&pass.flows);
            let end = totals.last_ts_ns.unwrap_or(i64::MIN);
            Some(PeerData::new(
                here,
                peer.clone(),
                &pass.flows,
                &settings.qlog,
                end,
            ))
        }
        _ => None,
    };
    let peer_view = compared.as_ref().map(PeerData::view);
    let summary = Summary {
        meta,
        frames: totals.frames,
        flows: &pass.flows,
        peer: peer_view,
    };
    let analysis::Findings { findings, ignored } =
        analysis::finish_all(&mut pass.detectors, &summary, settings);
    let damaged = meta.truncation.as_ref().and_then(|t| match t.kind {
        TruncationKind::Corrupt(_) => Some(DamagedInput {
            path: name.clone(),
            what: t.to_string(),
        }),
        TruncationKind::CutShort => None,
    });
    let capture_end = totals.last_ts_ns.unwrap_or(i64::MIN);
    let capture = CaptureReport::new(name, meta, totals);
    let flows: Vec<FlowReport> = pass
        .flows
        .flows
        .iter()
        .map(|f| flow_report(f, &pass.flows.flows, settings, capture_end))
        .collect();
    // QUIC frames no qlog explains: connections without one, and their other paths.
    let unlogged = |r: &FlowReport| r.quic.as_ref().is_some_and(|q| q.qlog.is_empty());
    let quic_unlogged = flows
        .iter()
        .filter(|r| {
            unlogged(r)
                || r.quic_connection
                    .and_then(|id| {
                        let i = flows.binary_search_by_key(&id, |r| r.id).ok()?;
                        flows.get(i)
                    })
                    .is_some_and(unlogged)
        })
        .map(|r| r.frames)
        .sum();
    let coverage = Coverage::new(totals.frames, not_analysed).with_quic_unlogged(quic_unlogged);
    let report = Report {
        schema_version: report::SCHEMA_VERSION,
        tool: Default::default(),
        capture,
        selection: None,
        verdict: Verdict::new(&findings, &coverage),
        flows,
        findings,
        ignored: ignored.into_iter().collect(),
        peer: peer_view.map(|v| report::peer::PeerReport::new(&v, &pass.flows)),
    };
    Analysis {
        report,
        damaged,
        flows: pass.flows,
        coverage,
        peer: compared,
    }
}

/// Ids of the `n` flows with the most bytes that have graphs: TCP flows that carried data and
/// UDP flows of at least [`plot::MIN_UDP_DATAGRAMS`] datagrams.
pub fn busiest_flows(flows: &FlowTable, n: usize) -> Vec<u32> {
    busiest_where(flows, n, |_| true)
}

/// [`busiest_flows`] among the flows `keep` accepts (a selection).
/// UDP flows shorter than [`plot::MIN_UDP_DATAGRAMS`] are drawn only when nothing else is, and
/// from [`plot::FEW_UDP_DATAGRAMS`] on: a capture of short QUIC handshakes still gets its graphs,
/// a DNS question and its answer never.
pub fn busiest_where(flows: &FlowTable, n: usize, keep: impl Fn(&Flow) -> bool) -> Vec<u32> {
    let drawable = |min_udp: u64| -> Vec<&Flow> {
        flows
            .flows
            .iter()
            .filter(|f| match &f.tcp {
                Some(c) => c.dirs().iter().any(|d| d.data_segments > 0),
                None => f.frames() >= min_udp,
            })
            .filter(|f| keep(f))
            .collect()
    };
    let mut drawn = drawable(plot::MIN_UDP_DATAGRAMS);
    if drawn.is_empty() {
        drawn = drawable(plot::FEW_UDP_DATAGRAMS);
    }
    drawn.sort_by_key(|f| (std::cmp::Reverse(f.bytes()), f.id));
    drawn.into_iter().take(n).map(|f| f.id).collect()
}

/// A pass that keeps the full traces of flows `ids` (for graphs).
pub fn traced(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    ids: Vec<u32>,
) -> Result<Analysis> {
    let mut s = settings.clone();
    s.flows.full_trace = FullTrace::Flows(ids);
    run_analysis(input, cfg, &s)
}

/// The data of the graphs of `kinds` for flows `ids`, for a picture of `size`: one pass that
/// keeps those flows' full traces. An unknown flow id is an error, and so is a flow none of
/// `kinds` draws (a UDP flow asked only for TCP graphs); a capture damaged mid-file still gives
/// the graphs of what was read, and the damage.
pub fn plot_charts(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    ids: &[u32],
    kinds: &[PlotKind],
    size: (u32, u32),
    opts: plot::Options,
) -> Result<(Vec<plot::Chart>, Option<DamagedInput>)> {
    let a = traced(input, cfg, settings, ids.to_vec())?;
    let mut chosen = Vec::with_capacity(ids.len());
    for &id in ids {
        let f = a.flows.by_id(id).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: there is no flow {id} (the capture has {} flows; `analyze` lists them)",
                input.display_name(),
                a.flows.flows.len()
            )
        })?;
        if f.tcp.is_none() && !kinds.iter().any(|k| k.is_udp()) {
            anyhow::bail!(
                "{}: flow {id} is not TCP; the graphs asked for are drawn for TCP flows (UDP \
                 flows have `--kind datagram-rate` and `--kind datagram-size`)",
                input.display_name()
            );
        }
        chosen.push(f);
    }
    let t0 = a.report.capture.first_timestamp_ns.unwrap_or(0);
    let mut cv = plot::canvas(t0, settings.flows.tcp.interval_ns, size);
    cv.mtu = settings.flows.gro.mtu;
    cv.windows = qlog_windows(&chosen, settings).into();
    if let Some(data) = &a.peer {
        cv.peer = peer_points::points(data, &chosen, &input.display_name()).into();
    }
    cv.opts = opts;
    let charts = plot::charts(&chosen, kinds, &cv);
    Ok((charts, a.damaged))
}

/// The congestion window and bytes in flight the endpoints' qlogs logged for the QUIC flows
/// `chosen`, put on the capture's clock by the join (one per endpoint; the server's first).
fn qlog_windows(chosen: &[&Flow], settings: &Settings) -> Vec<plot::window::EndpointWindow> {
    let mut out = Vec::new();
    for f in chosen {
        let mut joined = qlog_join::joined(f, &settings.qlog, i64::MAX);
        joined.sort_by_key(|(_, j)| f.role(j.endpoint) != "server");
        joined.dedup_by_key(|(_, j)| j.endpoint);
        for (t, j) in joined {
            let samples = t
                .tally
                .points
                .iter()
                .map(|p| plot::window::Sample {
                    t_ns: ((p.t_ms + j.align_ms) * 1e6) as i64,
                    cwnd: p.cwnd,
                    in_flight: p.in_flight,
                })
                .collect();
            out.push(plot::window::EndpointWindow {
                flow: f.id,
                endpoint: f.role(j.endpoint),
                samples,
            });
        }
    }
    out
}
