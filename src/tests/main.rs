//! The integration tests, one binary: the library is linked once, and every module runs in
//! parallel under one `cargo test`.
//!
//! - `fixtures` and `fixture_cases`: every generated fixture against the facts its generator
//!   wrote beside it (one case per fixture), the generator's reproducibility, golden outputs.
//! - `real_captures`: agreement with the tshark oracle on ../shared/captures.
//! - `review`: every warning and error on ../shared/captures is in testdata/review.tsv as true.
//! - `tcp_agreement`: the TCP analysis flags frame by frame against tshark 4.0.
//! - `rtt_agreement`: each TCP direction's RTT median against tshark's `ack_rtt`.
//! - `hostile_input`: cut and mutated captures never panic.
//! - `fast_decode`: the decoder's fast path gives the same packets as its general path.
//! - `inflight_invariant`: `high-inflight` never sums more than the connections' own peaks.
//! - `lab`: real traffic in network namespaces, the running kernel's GRO as the oracle.
//! - `lab_cuts`: small captures cut from lab runs (real aioquic traffic), tested without the lab.
//! - `lab_matrix`: crafted segments through the running kernel's GRO, pair by pair.
//! - `plots`, `plot_defaults`, `udp_plots`: the graphs' data (charts) and their files; what the
//!   default graphs show and leave out.
//! - `check`, `commands`: check, compare, explain, completions and man end to end.
//! - `text_report`: the text report at several terminal widths, colour, `--min-severity`,
//!   grouped findings, plurals.
//! - `interrupt`: Ctrl-C on a pipe (a real SIGINT), `live` with and without tcpdump.
//! - `outputs`: output files in hostile places (symlinks, FIFOs, inputs as outputs, signals).
//! - `evidence`: `--write-evidence` files read back by our reader and by tshark.
//! - `threads`: the two-thread pass reports byte for byte what the one-thread pass does.
//! - `architecture`: the layout rules of docs/architecture.md (who imports whom, file sizes).

mod architecture;
mod check;
mod commands;
mod common;
mod evidence;
mod fast_decode;
mod fixture_cases;
mod fixtures;
mod hostile_input;
mod inflight_invariant;
mod interrupt;
mod keylog;
mod lab;
mod lab_cuts;
mod lab_hops;
mod lab_keys;
mod lab_matrix;
mod many;
mod memory;
mod ndjson;
mod outputs;
mod peer;
mod peer_plots;
mod plot_defaults;
mod plots;
mod quic_flow_control;
mod quic_loss;
mod real_captures;
mod review;
mod rtt_agreement;
mod selection;
mod tcp_agreement;
mod text_report;
mod threads;
mod udp_plots;
