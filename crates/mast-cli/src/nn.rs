//! `mast experiment nn-prune`: MAST on neural networks (crate `mast-nn`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use mast_nn::config::NnPruneConfig;
use mast_nn::experiment::{default_dir, run_nn_prune, Existing};

/// Flags of `mast experiment nn-prune`.
#[derive(Debug, Args)]
pub struct NnPruneArgs {
    /// TOML config (see examples/nn-mnist.toml).
    #[arg(long, short)]
    config: PathBuf,
    /// Run folder (default: the config's output.dir, else runs/<name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace a run folder that already holds an experiment.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// Continue the experiment in its folder: finished runs are kept (not redone),
    /// an interrupted run continues from its checkpoint; the folder's config must match.
    #[arg(long)]
    resume: bool,
}

/// Runs the experiment and prints where its results are.
pub fn run(args: NnPruneArgs) -> Result<()> {
    let cfg = NnPruneConfig::read(&args.config)
        .with_context(|| format!("cannot use config {}", args.config.display()))?;
    let dir = args.out.unwrap_or_else(|| default_dir(&cfg));
    let existing = if args.force {
        Existing::Replace
    } else if args.resume {
        Existing::Resume
    } else {
        Existing::Refuse
    };
    let mut log = |line: &str| eprintln!("{line}");
    let summary = match run_nn_prune(&cfg, &dir, existing, &mut log) {
        Err(mast_nn::NnError::Mast(mast::MastError::Interrupted { step, dir: run_dir })) => {
            return Err(crate::interrupt::Interrupted {
                what: format!(
                    "stopped after step {step} of the run in {}; finished runs and its checkpoint are kept",
                    run_dir.display()
                ),
                resume: crate::interrupt::this_command_with(&["--resume"]),
            }
            .into())
        }
        other => other?,
    };
    println!(
        "run folder     {}",
        std::path::absolute(&dir).unwrap_or(dir.clone()).display()
    );
    println!("wall time      {:.1} s", summary.wall_s);
    for m in &summary.methods {
        println!(
            "{:<18} test accuracy {:.2}% ± {:.2}  ({:.2} ms/step)",
            m.method,
            100.0 * m.accuracy.mean,
            100.0 * m.accuracy.std,
            m.step_ms
        );
    }
    println!(
        "pruning medians: {}",
        dir.join("prune_summary.md").display()
    );
    Ok(())
}
