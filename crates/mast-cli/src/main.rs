//! `mast`: the command line of Model-Agnostic Sparsified Training.
//!
//! It parses arguments and configs and calls the `mast` library; it holds no
//! method logic.

mod data;
mod erm;
mod experiment;
mod interrupt;
#[cfg(feature = "mpi")]
mod mpi;
mod nn;
mod progress;
mod theory;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Model-Agnostic Sparsified Training (MAST): train models that stay accurate when sparsified.
#[derive(Debug, Parser)]
#[command(name = "mast", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train with Algorithm 1, 2 or 3, or a baseline, from a TOML config and/or flags.
    Train(Box<train::TrainArgs>),
    /// Print the theory of a configured run (constants, step rules, rates, bounds) without running it.
    Theory(Box<theory::TheoryArgs>),
    /// Run an experiment: writes CSVs, figures (PNG, SVG) and an index.html into its folder.
    #[command(subcommand)]
    Experiment(experiment::Experiment),
    /// Reproduce a published suite of experiments (`mast reproduce paper`).
    #[command(subcommand)]
    Reproduce(experiment::Reproduce),
    /// Solve the ERM problem exactly (Newton; L-BFGS for large d) and report f*, ‖∇f‖ and accuracies.
    Erm(erm::ErmArgs),
    /// Data utilities: `mast data synth` writes seeded LIBSVM files of benchmark shapes.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// List the registered sketches (what `--sketch` and `sketch = "..."` accept).
    Sketches,
}

/// The `--sketch` help of `train` and `theory`, listing the registered sketches
/// (`mast::sketch::registry`), so the list is never written by hand.
fn with_sketch_help(cmd: clap::Command) -> clap::Command {
    let list = mast::sketch::registry::help();
    let long = format!(
        "The sketch distribution D, one of the registered sketches:\n\n{}\n\n\
         Note: bernoulli takes the probability of KEEPING a coordinate.",
        indent(&list)
    );
    let help = |c: clap::Command| c.mut_arg("sketch", |a| a.long_help(long.clone()));
    cmd.mut_subcommand("train", help)
        .mut_subcommand("theory", help)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn main() -> ExitCode {
    let matches = with_sketch_help(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    interrupt::install();
    let result = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Theory(args) => theory::run(*args),
        Command::Erm(args) => erm::run(args),
        Command::Experiment(e) => experiment::run(e),
        Command::Reproduce(r) => experiment::reproduce(r),
        Command::Data(d) => data::run(d),
        Command::Sketches => {
            println!("{}", mast::sketch::registry::help());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<interrupt::Interrupted>().is_some() => {
            eprintln!("{e}");
            ExitCode::from(interrupt::EXIT_INTERRUPTED)
        }
        Err(e) if interrupt::raised() => {
            eprintln!("error: {e:#}");
            eprintln!(
                "interrupted: finished runs and checkpoints are kept\nresume with:\n  {}",
                interrupt::this_command_with(&[])
            );
            ExitCode::from(interrupt::EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
