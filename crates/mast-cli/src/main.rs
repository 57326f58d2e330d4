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

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    interrupt::install();
    let result = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Theory(args) => theory::run(*args),
        Command::Erm(args) => erm::run(args),
        Command::Experiment(e) => experiment::run(e),
        Command::Reproduce(r) => experiment::reproduce(r),
        Command::Data(d) => data::run(d),
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
