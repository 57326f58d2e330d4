//! `mast theory`.

use anyhow::Result;
use clap::Args;
use mast::run::theory_overview;

use crate::train::{build_config, TrainArgs};

/// Flags of `mast theory`: the same as `mast train`'s (nothing is run or written).
#[derive(Debug, Args)]
pub struct TheoryArgs {
    #[command(flatten)]
    train: TrainArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `mast theory`.
pub fn run(args: TheoryArgs) -> Result<()> {
    let (cfg, _) = build_config(&args.train)?;
    let overview = theory_overview(&cfg.check()?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&overview)?);
    } else {
        print!("{}", overview.to_text());
    }
    Ok(())
}
