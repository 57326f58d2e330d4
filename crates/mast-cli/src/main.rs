//! `mast`: the command line of Model-Agnostic Sparsified Training.
//!
//! It parses arguments and configs and calls the `mast` library; it holds no
//! method logic.

mod erm;
mod nn;
mod progress;
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
    /// Train with Algorithm 1 (double sketched (S)GD) or plain (S)GD, from a TOML config and/or flags.
    Train(Box<train::TrainArgs>),
    /// Solve the ERM problem exactly (Newton; L-BFGS for large d) and report f*, ‖∇f‖ and accuracies.
    Erm(erm::ErmArgs),
    /// Experiments that combine many runs into tables and reports.
    #[command(subcommand)]
    Experiment(Experiment),
}

#[derive(Debug, Subcommand)]
enum Experiment {
    /// Neural networks (burn, CPU): train each method × seed, then prune at q = 0.1…0.9.
    NnPrune(nn::NnPruneArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Erm(args) => erm::run(args),
        Command::Experiment(Experiment::NnPrune(args)) => nn::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
