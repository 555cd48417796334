//! The selection options (`--flow`, `--host`, `--port`, `--time`, `--filter`) as a
//! [`Selection`], shared by `analyze`, `plot` and `check`.

use anyhow::{anyhow, Result};

use crate::cli::SelectArgs;
use crate::flow::select::{Filter, Selection, TimeRange};

/// The selection the options ask for; a filter that does not parse is shown with a caret under
/// the token at fault.
pub fn selection(args: &SelectArgs) -> Result<Selection> {
    let time = args
        .time
        .as_deref()
        .map(TimeRange::parse)
        .transpose()
        .map_err(|e| anyhow!("--time: {e}"))?;
    let filter = args
        .filter
        .as_deref()
        .map(Filter::parse)
        .transpose()
        .map_err(|e| anyhow!("--filter: {e}"))?;
    Ok(Selection {
        flows: args.flows.clone(),
        hosts: args.hosts.clone(),
        ports: args.ports.clone(),
        time,
        filter,
    })
}
