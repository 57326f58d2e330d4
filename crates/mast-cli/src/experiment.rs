//! `mast experiment <name>` and `mast reproduce paper`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mast_experiments::common::DataSettings;
use mast_experiments::curves::{run_curves, CurvesConfig};
use mast_experiments::grid::{run_grid, GridConfig};
use mast_experiments::prune::{run_prune, PruneConfig, PruneSketch};
use mast_experiments::reproduce::{prune_medians, reproduce_paper};
use mast_experiments::Progress;

/// The experiments.
#[derive(Debug, Subcommand)]
pub enum Experiment {
    /// Pruning robustness (Figure 1): ERM vs MAST models under random masks, per sparsity level.
    Prune(PruneArgs),
    /// Training curves over seeds: mean and band per method (see examples/curves-a5a.toml).
    Curves(ConfigArgs),
    /// Step size × sparsity heatmaps for Algorithms 1 and 2 (see examples/grid-a5a.toml).
    Grid(ConfigArgs),
    /// Neural networks (burn, CPU): train each method × seed, then prune at q = 0.1…0.9.
    NnPrune(crate::nn::NnPruneArgs),
}

/// Flags of experiments that run from a config file.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// TOML config.
    #[arg(long, short)]
    config: PathBuf,
    /// Output folder (default: runs/<experiment>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
}

/// What `mast reproduce` can reproduce.
#[derive(Debug, Subcommand)]
pub enum Reproduce {
    /// The paper's a5a suite: pruning, curves over seeds, step size × sparsity grids.
    Paper(PaperArgs),
}

/// Flags of `mast reproduce paper`.
#[derive(Debug, Args)]
pub struct PaperArgs {
    /// Folder holding a5a.gz and a5a.t.gz.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Output folder.
    #[arg(long, default_value = "runs/paper")]
    out: PathBuf,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
}

/// Flags of `mast experiment prune` (a config file, flags, or both: flags win).
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// TOML config (see examples/prune-a5a.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Training data (LIBSVM, optionally .gz).
    #[arg(long)]
    train: Option<PathBuf>,
    /// Test data.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Sparsity levels q (fractions of weights KEPT), comma-separated.
    #[arg(long, value_delimiter = ',')]
    q: Option<Vec<f64>>,
    /// Random masks per level.
    #[arg(long)]
    masks: Option<usize>,
    /// The sketch of the training and pruning masks: rand-k, bernoulli, or any
    /// registered sketch given by a kept fraction (`mast sketches` lists them).
    #[arg(long)]
    sketch: Option<String>,
    /// Rescale kept weights by the sketch's scale when pruning (default: plain masks).
    #[arg(long)]
    rescale: bool,
    /// Steps of Algorithm 1 per MAST model.
    #[arg(long)]
    steps: Option<u64>,
    /// Master seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Output folder.
    #[arg(long, default_value = "runs/prune")]
    out: PathBuf,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
}

/// Progress of an experiment on stderr: a bar on a terminal, plain lines otherwise.
pub struct ExpProgress {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
    started: Instant,
}

impl ExpProgress {
    /// A display; `quiet` shows nothing.
    pub fn new(quiet: bool) -> Self {
        ExpProgress {
            quiet,
            bar: Mutex::new(None),
            started: Instant::now(),
        }
    }
}

impl Progress for ExpProgress {
    fn phase(&self, name: &str, total: u64) {
        if self.quiet {
            return;
        }
        let mut bar = self.bar.lock().expect("progress lock");
        if let Some(b) = bar.take() {
            b.finish();
        }
        if std::io::stderr().is_terminal() {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed} < {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(name.to_string());
            *bar = Some(b);
        } else {
            eprintln!(
                "[{:6.1}s] {name}: {total} to do",
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn done(&self, what: &str) {
        if self.quiet {
            return;
        }
        match self.bar.lock().expect("progress lock").as_ref() {
            Some(b) => {
                b.set_message(what.to_string());
                b.inc(1);
            }
            None => eprintln!(
                "[{:6.1}s]   done: {what}",
                self.started.elapsed().as_secs_f64()
            ),
        }
    }
}

fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    match threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(t) => Ok(rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()?
            .install(f)),
        None => Ok(f()),
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot resolve path {}", p.display()))
}

fn prune(a: PruneArgs) -> Result<()> {
    let mut cfg = match (&a.config, &a.train, &a.test) {
        (Some(path), _, _) => PruneConfig::load(path)?,
        (None, Some(train), Some(test)) => {
            PruneConfig::new(DataSettings::new(train.clone(), test.clone()))
        }
        _ => bail!("give --config FILE.toml, or --train PATH and --test PATH"),
    };
    if let Some(t) = &a.train {
        cfg.data.train = t.clone();
    }
    if let Some(t) = &a.test {
        cfg.data.test = t.clone();
    }
    if let Some(q) = &a.q {
        cfg.q = q.clone();
    }
    if let Some(m) = a.masks {
        cfg.masks = m;
    }
    if let Some(s) = &a.sketch {
        cfg.sketch = match PruneSketch::new(s) {
            Ok(k) => k,
            Err(e) => bail!("--sketch: {e}"),
        };
    }
    if a.rescale {
        cfg.rescale = true;
    }
    if let Some(s) = a.steps {
        cfg.steps = s;
    }
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    cfg.data.train = absolute(&cfg.data.train)?;
    cfg.data.test = absolute(&cfg.data.test)?;
    let out = absolute(&a.out)?;
    let progress = ExpProgress::new(a.quiet);
    let started = Instant::now();
    let outcome = with_threads(a.threads, || run_prune(&cfg, &out, &progress))??;
    println!("pruning experiment: {}", out.display());
    println!(
        "{:>5}  {:>8}  {:>8}  {:>8}  {:>8}",
        "q", "method", "q1", "median", "q3"
    );
    for (q, m, s) in &outcome.summary {
        println!(
            "{q:>5}  {m:>8}  {:>8.4}  {:>8.4}  {:>8.4}",
            s.q1, s.median, s.q3
        );
    }
    println!(
        "report: {}  ({:.1} s)",
        out.join("index.html").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn curves(a: ConfigArgs) -> Result<()> {
    let cfg = CurvesConfig::load(&a.config)?;
    let out = absolute(&a.out.unwrap_or_else(|| PathBuf::from("runs/curves")))?;
    let progress = ExpProgress::new(a.quiet);
    let started = Instant::now();
    let outcome = with_threads(a.threads, || run_curves(&cfg, &out, &progress))??;
    println!("training curves: {}", out.display());
    for row in &outcome.table {
        println!("  {}", row.cells().join("  |  "));
    }
    println!(
        "report: {}  ({:.1} s)",
        outcome.index.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn grid(a: ConfigArgs) -> Result<()> {
    let cfg = GridConfig::load(&a.config)?;
    let out = absolute(&a.out.unwrap_or_else(|| PathBuf::from("runs/grid")))?;
    let progress = ExpProgress::new(a.quiet);
    let started = Instant::now();
    let outcome = with_threads(a.threads, || run_grid(&cfg, &out, &progress))??;
    println!("step size × sparsity: {}", out.display());
    for t in &outcome.tables {
        println!("  {}", t.label);
        for r in t.cells() {
            println!("    {}", r.join("  "));
        }
    }
    println!(
        "report: {}  ({:.1} s)",
        outcome.index.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs `mast experiment ...`.
pub fn run(e: Experiment) -> Result<()> {
    match e {
        Experiment::Prune(a) => prune(a),
        Experiment::Curves(a) => curves(a),
        Experiment::Grid(a) => grid(a),
        Experiment::NnPrune(a) => crate::nn::run(a),
    }
}

/// Runs `mast reproduce ...`.
pub fn reproduce(r: Reproduce) -> Result<()> {
    let Reproduce::Paper(a) = r;
    let out = absolute(&a.out)?;
    let data = absolute(&a.data)?;
    let progress = ExpProgress::new(a.quiet);
    let started = Instant::now();
    let outcome = with_threads(a.threads, || reproduce_paper(&data, &out, &progress))??;
    println!("the paper's a5a suite: {}", out.display());
    println!("{:>5}  {:>11}  {:>11}", "q", "median ERM", "median MAST");
    for (q, e, m) in prune_medians(&outcome.prune) {
        println!("{q:>5}  {e:>11.4}  {m:>11.4}");
    }
    for (part, s) in &outcome.timings {
        println!("{part}: {s:.1} s");
    }
    println!(
        "report: {}  (total {:.1} s)",
        outcome.index.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
