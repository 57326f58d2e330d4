//! `mast train`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use mast::run::config::{DataConfig, Lambda, StepSetting, TrainConfig};
use mast::run::{train, FolderMode, Observer, TrainReport};
use mast::sketch::SketchSpec;

use crate::progress::Progress;

/// Flags of `mast train`; each overrides the config file's value.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// TOML config (see examples/a5a.toml); flags override its values.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Continue the run in this folder from its checkpoint, with the settings in its
    /// config.toml: only --steps/--epochs and --threads may change (any other setting
    /// that differs is refused).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "force", "out"])]
    resume: Option<PathBuf>,
    /// Replace a run folder that already holds a run.
    #[arg(long)]
    force: bool,
    /// Training data (LIBSVM, optionally .gz).
    #[arg(long)]
    train: Option<PathBuf>,
    /// Test data (LIBSVM, optionally .gz).
    #[arg(long)]
    test: Option<PathBuf>,
    /// Fraction of the training data held out for validation.
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Number of features (default: the largest index in train and test).
    #[arg(long)]
    n_features: Option<usize>,
    /// Loss: logistic or least-squares.
    #[arg(long)]
    loss: Option<String>,
    /// ℓ2 regularisation λ: a number or 1/n.
    #[arg(long)]
    lambda: Option<String>,
    /// Sketch: a registered sketch, e.g. identity, bernoulli:KEEP_PROB, rand-k:Q (`--help`
    /// and `mast sketches` list them all). Note: bernoulli takes the probability of KEEPING a
    /// coordinate.
    #[arg(long)]
    sketch: Option<String>,
    /// Method: dsgd (Algorithm 1), distributed (Algorithm 2), lsvrdsg (Algorithm 3), gd (plain (S)GD on f).
    #[arg(long)]
    method: Option<String>,
    /// Algorithm 2: number of nodes M.
    #[arg(long)]
    nodes: Option<usize>,
    /// Algorithm 2: sharding of the samples among nodes: iid, by-label, dirichlet:ALPHA.
    #[arg(long)]
    sharding: Option<String>,
    /// Algorithm 2's engine: in-process (threads) or mpi (one node per rank, under
    /// `mpirun -np M`; needs a build with `--features mpi`). Implies --method distributed.
    #[arg(long)]
    engine: Option<String>,
    /// Algorithm 3: number N of fixed sketches.
    #[arg(long)]
    n_sketches: Option<usize>,
    /// Algorithm 3: sketches b in the reference minibatch (default N).
    #[arg(long)]
    ref_batch: Option<usize>,
    /// Algorithm 3: probability ρ of refreshing the reference point (default 1/N).
    #[arg(long)]
    rho: Option<f64>,
    /// Variant: exact (I, full-data gradient) or minibatch (II).
    #[arg(long)]
    variant: Option<String>,
    /// Minibatch size (variant II; implies `--variant minibatch` unless --variant is given).
    #[arg(long)]
    batch: Option<usize>,
    /// Number of steps.
    #[arg(long)]
    steps: Option<u64>,
    /// Number of epochs (instead of steps).
    #[arg(long)]
    epochs: Option<f64>,
    /// Step size: theory (strongly convex), nonconvex (for the run's horizon), decreasing, or a number.
    #[arg(long)]
    step_size: Option<String>,
    /// Multiplier of the theory step size.
    #[arg(long)]
    step_multiplier: Option<f64>,
    /// Decay time t0 for --step-size decreasing.
    #[arg(long)]
    decay_t0: Option<f64>,
    /// Evaluate every this many steps.
    #[arg(long)]
    eval_every: Option<u64>,
    /// Master seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (results do not depend on it).
    #[arg(long)]
    threads: Option<usize>,
    /// Run folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run name.
    #[arg(long)]
    name: Option<String>,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
    /// Parse the data files again instead of using (or writing) their binary cache.
    #[arg(long)]
    no_cache: bool,
}

fn absolute(p: PathBuf) -> Result<PathBuf> {
    std::path::absolute(&p).with_context(|| format!("cannot resolve path {}", p.display()))
}

pub(crate) fn build_config(a: &TrainArgs) -> Result<(TrainConfig, FolderMode)> {
    let (mut cfg, mode) = if let Some(dir) = &a.resume {
        let path = dir.join("config.toml");
        let mut cfg = TrainConfig::load(&path)?;
        // The folder given, wherever the run was first written.
        cfg.output.dir = dir.clone();
        (cfg, FolderMode::Resume)
    } else if let Some(path) = &a.config {
        let mode = if a.force {
            FolderMode::Overwrite
        } else {
            FolderMode::Fresh
        };
        (TrainConfig::load(path)?, mode)
    } else {
        let Some(train) = a.train.clone() else {
            bail!("give --config FILE.toml, or at least --train PATH (see `mast train --help`)");
        };
        let mode = if a.force {
            FolderMode::Overwrite
        } else {
            FolderMode::Fresh
        };
        let cfg = TrainConfig {
            name: None,
            seed: mast::rng::DEFAULT_SEED,
            threads: None,
            sketch: SketchSpec::identity(),
            data: DataConfig {
                train,
                test: None,
                val_fraction: 0.1,
                n_features: None,
            },
            objective: Default::default(),
            algorithm: Default::default(),
            distributed: Default::default(),
            output: Default::default(),
        };
        (cfg, mode)
    };
    if let Some(v) = &a.train {
        cfg.data.train = v.clone();
    }
    if let Some(v) = &a.test {
        cfg.data.test = Some(v.clone());
    }
    if let Some(v) = a.val_fraction {
        cfg.data.val_fraction = v;
    }
    if let Some(v) = a.n_features {
        cfg.data.n_features = Some(v);
    }
    if let Some(v) = &a.loss {
        cfg.objective.loss = v.clone();
    }
    if let Some(v) = &a.lambda {
        cfg.objective.lambda = v.parse::<Lambda>()?;
    }
    if let Some(v) = &a.sketch {
        cfg.sketch = v.parse()?;
    }
    if let Some(v) = &a.method {
        cfg.algorithm.method = v.clone();
    }
    if let Some(v) = a.nodes {
        cfg.distributed.nodes = v;
    }
    if let Some(v) = &a.sharding {
        cfg.distributed.sharding = v.parse()?;
    }
    if let Some(v) = &a.engine {
        cfg.distributed.engine = v.clone();
        if a.method.is_none() {
            cfg.algorithm.method = "distributed".into();
        }
    }
    if let Some(v) = a.n_sketches {
        cfg.algorithm.n_sketches = Some(v);
    }
    if let Some(v) = a.ref_batch {
        cfg.algorithm.ref_batch = Some(v);
    }
    if let Some(v) = a.rho {
        cfg.algorithm.rho = Some(v);
    }
    if let Some(v) = &a.variant {
        cfg.algorithm.variant = v.clone();
    }
    if let Some(v) = a.batch {
        cfg.algorithm.batch = v;
        // A batch size asks for minibatches (as --engine asks for Algorithm 2).
        if a.variant.is_none() {
            cfg.algorithm.variant = "minibatch".into();
        }
    }
    if let Some(v) = a.steps {
        cfg.algorithm.steps = Some(v);
        cfg.algorithm.epochs = None;
    }
    if let Some(v) = a.epochs {
        cfg.algorithm.epochs = Some(v);
        cfg.algorithm.steps = None;
    }
    if let Some(v) = &a.step_size {
        cfg.algorithm.step_size = match v.parse::<f64>() {
            Ok(g) => StepSetting::Value(g),
            Err(_) => StepSetting::Rule(v.clone()),
        };
    }
    if let Some(v) = a.step_multiplier {
        cfg.algorithm.step_multiplier = v;
    }
    if let Some(v) = a.decay_t0 {
        cfg.algorithm.decay_t0 = v;
    }
    if let Some(v) = a.eval_every {
        cfg.algorithm.eval_every = v;
    }
    if let Some(v) = a.seed {
        cfg.seed = v;
    }
    if let Some(v) = a.threads {
        cfg.threads = Some(v);
    }
    if let Some(v) = &a.out {
        cfg.output.dir = v.clone();
    }
    if let Some(v) = &a.name {
        cfg.name = Some(v.clone());
    }
    cfg.data.train = absolute(cfg.data.train)?;
    cfg.data.test = cfg.data.test.map(absolute).transpose()?;
    cfg.output.dir = absolute(cfg.output.dir)?;
    if mode == FolderMode::Resume && cfg.distributed.engine != "mpi" {
        // Before any data is read: a resumed run keeps its settings. (Under
        // `mpirun`, `crate::mpi::run` checks once the ranks are known, rank 0
        // alone printing the error.)
        mast::run::check_resume(&cfg)?;
    }
    Ok((cfg, mode))
}

/// The network config behind `args`, if the config (or the resumed folder's
/// config.toml) is one (it has a `[model]` table).
fn network_config(a: &TrainArgs) -> Result<Option<PathBuf>> {
    let path = match (&a.resume, &a.config) {
        (Some(dir), _) => dir.join("config.toml"),
        (None, Some(path)) => path.clone(),
        (None, None) => return Ok(None),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    Ok(mast_nn::config::NnTrainConfig::is_network_config(&text).then_some(path))
}

/// Runs `mast train` on a network config (`[model]` table): mast-nn's trainer,
/// with checkpoints, `--resume` and Ctrl-C.
fn run_network(a: &TrainArgs, path: &std::path::Path) -> Result<()> {
    let linear_only = [
        (a.train.is_some(), "--train"),
        (a.test.is_some(), "--test"),
        (a.val_fraction.is_some(), "--val-fraction"),
        (a.n_features.is_some(), "--n-features"),
        (a.loss.is_some(), "--loss"),
        (a.lambda.is_some(), "--lambda"),
        (a.sketch.is_some(), "--sketch"),
        (a.method.is_some(), "--method"),
        (a.nodes.is_some(), "--nodes"),
        (a.sharding.is_some(), "--sharding"),
        (a.engine.is_some(), "--engine"),
        (a.n_sketches.is_some(), "--n-sketches"),
        (a.ref_batch.is_some(), "--ref-batch"),
        (a.rho.is_some(), "--rho"),
        (a.variant.is_some(), "--variant"),
        (a.batch.is_some(), "--batch"),
        (a.steps.is_some(), "--steps"),
        (a.epochs.is_some(), "--epochs"),
        (a.step_size.is_some(), "--step-size"),
        (a.step_multiplier.is_some(), "--step-multiplier"),
        (a.decay_t0.is_some(), "--decay-t0"),
        (a.eval_every.is_some(), "--eval-every"),
        (a.threads.is_some(), "--threads"),
    ];
    if let Some((_, flag)) = linear_only.iter().find(|(given, _)| *given) {
        bail!(
            "{flag} is for linear runs; {} is a network config (edit it instead)",
            path.display()
        );
    }
    let mut cfg = mast_nn::config::NnTrainConfig::read(path)?;
    let mode = if a.resume.is_some() {
        if let Some(seed) = a.seed.filter(|&s| s != cfg.seed) {
            bail!(
                "cannot resume the run in {}: 1 setting differs from the run's config.toml:\n  \
                 seed (--seed): {} in the run, {seed} now\n\
                 a resumed network run keeps its settings: only --quiet and --name may be given.\n\
                 To train with the new seed, start a fresh run in another folder:\n  \
                 mast train --config {} --out NEW_DIR --seed {seed}",
                path.parent().unwrap_or(path).display(),
                cfg.seed,
                path.display()
            );
        }
        FolderMode::Resume
    } else if a.force {
        FolderMode::Overwrite
    } else {
        FolderMode::Fresh
    };
    if let Some(dir) = &a.resume {
        cfg.output.dir = absolute(dir.clone())?;
    }
    if let Some(out) = &a.out {
        cfg.output.dir = absolute(out.clone())?;
    }
    if let Some(seed) = a.seed {
        cfg.seed = seed;
    }
    if let Some(name) = &a.name {
        cfg.name = Some(name.clone());
    }
    let quiet = a.quiet;
    let mut log = |line: &str| {
        if !quiet {
            eprintln!("{line}")
        }
    };
    let summary = match mast_nn::single::run_single(&cfg, mode, &mut log) {
        Err(mast_nn::NnError::Mast(mast::MastError::Interrupted { step, dir })) => {
            return Err(crate::interrupt::Interrupted {
                what: format!(
                    "stopped after step {step}; checkpoint.bin and metrics.csv are in {}",
                    dir.display()
                ),
                resume: resume_command(&dir),
            }
            .into())
        }
        other => other?,
    };
    println!("run folder     {}", cfg.output.dir.display());
    println!(
        "network        {} parameters, {} (seed {}), {} train / {} test images",
        summary.num_params, summary.method, summary.seed, summary.n_train, summary.n_test
    );
    println!(
        "final          {} steps, test loss {:.6}, test accuracy {:.4}",
        summary.steps, summary.last.test_loss, summary.last.test_accuracy
    );
    Ok(())
}

/// `<this program> train --resume DIR`.
fn resume_command(dir: &std::path::Path) -> String {
    format!(
        "{} train --resume {}",
        crate::interrupt::quote(&std::env::args().next().unwrap_or("mast".into())),
        crate::interrupt::quote(&dir.display().to_string())
    )
}

/// Runs `mast train`.
pub fn run(args: TrainArgs) -> Result<()> {
    if args.no_cache {
        mast::data::cache::disable();
    }
    if let Some(path) = network_config(&args)? {
        return run_network(&args, &path);
    }
    let (cfg, mode) = build_config(&args)?;
    #[cfg(feature = "mpi")]
    if cfg.distributed.engine == "mpi" {
        return crate::mpi::run(cfg, mode, args.quiet);
    }
    let checked = cfg.check()?;
    let mut progress = Progress::new(args.quiet);
    let mut observers: [&mut dyn Observer; 1] = [&mut progress];
    let report = match train(&checked, &mut observers, mode) {
        Err(mast::MastError::Interrupted { step, dir }) => {
            return Err(crate::interrupt::Interrupted {
                what: format!(
                    "stopped after step {step}; checkpoint.json and metrics.csv are in {}",
                    dir.display()
                ),
                resume: resume_command(&dir),
            }
            .into())
        }
        other => other?.into_result()?,
    };
    print_report(&report);
    Ok(())
}

/// Prints the end-of-run report of `mast train`.
pub(crate) fn print_report(report: &TrainReport) {
    let s = &report.summary;
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!("run folder     {}", report.dir.display());
    println!(
        "solver         {} (seed {}, λ = {:.6e})",
        s.solver, s.seed, s.lambda
    );
    println!(
        "data           {} train / {} validation / {} test, d = {}",
        s.n_train, s.n_val, s.n_test, s.dim
    );
    println!(
        "steps          {} ({:.2} epochs) in {:.2} s",
        s.steps, s.epochs, s.wall_time_s
    );
    println!(
        "final          f(x) = {:.8}  ‖∇f‖ = {:.3e}  train {}  val {}  test {}",
        s.last.loss,
        s.last.grad_norm,
        f(s.last.train_accuracy),
        f(s.last.val_accuracy),
        f(s.last.test_accuracy)
    );
    println!(
        "f_D(x)         {:.8} ± {:.1e} (Monte-Carlo, {} draws of {})",
        s.fd_final.mean, s.fd_final.std_err, s.fd_final.samples, s.sketch
    );
    if let Some(step) = s.best_step {
        println!(
            "best (by val)  step {step}: val {}  test {}",
            f(s.best_val_accuracy),
            f(s.best_test_accuracy)
        );
    }
    println!(
        "theory         L_f = {:.4e}, L_S^max = {:.4}, γ_theory = {:.4e}, γ used = {:.4e}",
        s.theory.l_f, s.theory.l_s_max, s.theory.theory_gamma, s.theory.gamma
    );
    if let Some(r) = &s.observed_rate {
        println!(
            "rate           ‖x − {}‖² contracts by {:.8} per step (theory: {:.8}), final {:.3e}",
            r.reference, r.contraction, r.predicted_contraction, r.final_dist_sq
        );
    }
    if let Some(t) = &s.traffic {
        println!(
            "traffic        {:.1} model floats per round to the nodes, {:.0} bytes per round",
            t.floats_down_per_round(),
            t.bytes_per_round()
        );
        if let Some(b) = t.mpi_bytes {
            println!(
                "mpi            {:.0} bytes per round actually crossed between ranks",
                b as f64 / t.rounds.max(1) as f64
            );
        }
    }
}
