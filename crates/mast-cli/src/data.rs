//! `mast data`: data utilities (`mast data synth`: seeded LIBSVM files of benchmark shapes).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use mast::data::synth_libsvm::{Part, SynthShape, SynthSpec, SynthValues};

/// Subcommands of `mast data`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write seeded LIBSVM files shaped like news20, rcv1, url or epsilon (train + test).
    Synth(SynthArgs),
}

/// Flags of `mast data synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// The shape: news20 (d 1,355,191, ~450 real nonzeros a row, unit rows, 20,000 + 5,000
    /// rows), rcv1 (d 47,236, ~75, 20,242 + 5,000), url (d 3,231,961, ~115: 20 real
    /// columns then 0/1, 200,000 + 20,000) or epsilon (dense, 2,000 columns, 100,000 + 10,000).
    shape: String,
    /// Folder to write `<name>` (train) and `<name>.t` (test) into.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// File name of the training file (default `<shape>-like`).
    #[arg(long)]
    name: Option<String>,
    /// Master seed: same seed and shape ⇒ same bytes, whatever the thread count.
    #[arg(long, default_value_t = mast::rng::DEFAULT_SEED)]
    seed: u64,
    /// Multiply rows and columns by F (nonzeros a row stay, within half the columns).
    #[arg(long, value_name = "F")]
    scale: Option<f64>,
    /// Rows of the training file (after --scale).
    #[arg(long)]
    rows: Option<usize>,
    /// Rows of the test file (0: none; after --scale).
    #[arg(long)]
    test_rows: Option<usize>,
    /// Number of columns d (after --scale).
    #[arg(long)]
    cols: Option<usize>,
    /// Mean nonzeros a row (sparse shapes; after --scale).
    #[arg(long)]
    nnz: Option<usize>,
    /// Label noise, relative to the planted margin's std.
    #[arg(long)]
    noise: Option<f64>,
    /// Worker threads (default: all cores). The bytes do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `mast data ...`.
pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Synth(args) => synth(args),
    }
}

/// The spec the flags ask for: the shape's preset, scaled, then overridden.
fn spec_of(args: &SynthArgs) -> Result<SynthSpec> {
    let shape: SynthShape = args.shape.parse()?;
    let mut spec = SynthSpec::preset(shape);
    spec.seed = args.seed;
    if let Some(f) = args.scale {
        spec = spec.scaled(f)?;
    }
    if let Some(rows) = args.rows {
        spec.train_rows = rows;
    }
    if let Some(rows) = args.test_rows {
        spec.test_rows = rows;
    }
    if let Some(cols) = args.cols {
        spec.cols = cols;
        if spec.values == SynthValues::DenseNormal {
            spec.nnz_per_row = cols;
        }
    }
    if let Some(nnz) = args.nnz {
        spec.nnz_per_row = nnz;
    }
    if let Some(noise) = args.noise {
        spec.noise = noise;
    }
    spec.check()?;
    Ok(spec)
}

fn synth(args: SynthArgs) -> Result<()> {
    let spec = spec_of(&args)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-like", spec.shape.name()));
    let mut parts = vec![(Part::Train, args.out.join(&name))];
    if spec.test_rows > 0 {
        parts.push((Part::Test, args.out.join(format!("{name}.t"))));
    }
    let work = || -> Result<()> {
        for (part, path) in &parts {
            let started = Instant::now();
            let stats = spec
                .write(*part, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "wrote {}: {} rows, d = {}, max index {}, {} nonzeros ({:.1} a row), {} positive, \
                 {:.1} MB, {:.1} s",
                path.display(),
                stats.rows,
                spec.cols,
                stats.max_index,
                stats.nnz,
                stats.nnz as f64 / stats.rows as f64,
                stats.positives,
                stats.bytes as f64 / 1e6,
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    };
    match args.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()?
            .install(work),
        None => work(),
    }
}
