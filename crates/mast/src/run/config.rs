//! The configuration of a training run (TOML), validated once into a checked plan.

use std::path::{Path, PathBuf};

use crate::algorithm::{StepSize, Variant};
use crate::data::Sharding;
use crate::error::{MastError, Result};
use crate::rng::DEFAULT_SEED;
use crate::sketch::SketchSpec;

/// λ: a number, or `"1/n"` (one over the number of training samples).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Lambda {
    /// A fixed value.
    Value(f64),
    /// A rule: `"1/n"`.
    Rule(String),
}

impl Lambda {
    /// The value for `n` training samples.
    pub fn resolve(&self, n: usize) -> Result<f64> {
        match self {
            Lambda::Value(v) if *v >= 0.0 && v.is_finite() => Ok(*v),
            Lambda::Value(v) => Err(MastError::param(
                "lambda",
                format!("must be ≥ 0 and finite, got {v}"),
            )),
            Lambda::Rule(r) if r.trim() == "1/n" => Ok(1.0 / n as f64),
            Lambda::Rule(r) => r
                .trim()
                .parse::<f64>()
                .map_err(|_| {
                    MastError::param("lambda", format!("`{r}` is neither a number nor \"1/n\""))
                })
                .and_then(|v| Lambda::Value(v).resolve(n)),
        }
    }
}

impl std::str::FromStr for Lambda {
    type Err = MastError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().parse::<f64>() {
            Ok(v) => Lambda::Value(v),
            Err(_) => Lambda::Rule(s.trim().to_string()),
        })
    }
}

/// Removes `.` and `name/..` pairs lexically (no file-system access).
///
/// ```
/// use std::path::Path;
/// assert_eq!(mast::run::config::normalize(Path::new("/a/b/../c/./d")), Path::new("/a/c/d"));
/// ```
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Training file (LIBSVM, optionally gzipped).
    pub train: PathBuf,
    /// Test file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<PathBuf>,
    /// Fraction of the training file held out for validation (seeded).
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
    /// Feature count (default: the larger index of train and test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_features: Option<usize>,
}

fn default_val_fraction() -> f64 {
    0.1
}

/// The loss and its regularisation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveConfig {
    /// `logistic` or `least-squares`.
    #[serde(default = "default_loss")]
    pub loss: String,
    /// λ of the ℓ2 term.
    #[serde(default = "default_lambda")]
    pub lambda: Lambda,
}

fn default_loss() -> String {
    "logistic".into()
}
fn default_lambda() -> Lambda {
    Lambda::Rule("1/n".into())
}

impl Default for ObjectiveConfig {
    fn default() -> Self {
        ObjectiveConfig {
            loss: default_loss(),
            lambda: default_lambda(),
        }
    }
}

/// A step size in a config: `"theory"`, `"nonconvex"`, `"decreasing"`, or a number.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum StepSetting {
    /// A fixed γ.
    Value(f64),
    /// A rule: `"theory"`, `"nonconvex"` or `"decreasing"` (checked by [`TrainConfig::check`]).
    Rule(String),
}

/// The algorithm and its schedule.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgorithmConfig {
    /// `dsgd` (Algorithm 1), `distributed` (Algorithm 2, see `[distributed]`),
    /// `lsvrdsg` (Algorithm 3) or `gd` (plain (S)GD on f, the ERM baseline).
    /// The Dropout baseline is `dsgd` with the sketch `dropconnect:P`.
    #[serde(default = "default_method")]
    pub method: String,
    /// `exact` (variant I, full data) or `minibatch` (variant II).
    #[serde(default = "default_variant")]
    pub variant: String,
    /// Minibatch size (variant II).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Number of steps (or give `epochs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Number of passes over the data (converted to steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    /// Step size rule.
    #[serde(default = "default_step")]
    pub step_size: StepSetting,
    /// Multiplier of the theory step (for `theory` and `decreasing`).
    #[serde(default = "default_multiplier")]
    pub step_multiplier: f64,
    /// Decay time t0 of `decreasing`: γ_t = γ_0/(1 + t/t0).
    #[serde(default = "default_t0")]
    pub decay_t0: f64,
    /// Evaluate every this many steps.
    #[serde(default = "default_eval_every")]
    pub eval_every: u64,
    /// L-SVRDSG: the number N of fixed sketches (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_sketches: Option<usize>,
    /// L-SVRDSG: sketches b in the reference minibatch (default N: exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_batch: Option<usize>,
    /// L-SVRDSG: probability ρ of refreshing the reference point (default 1/N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
}

fn default_method() -> String {
    "dsgd".into()
}
fn default_variant() -> String {
    "exact".into()
}
fn default_batch() -> usize {
    64
}
fn default_step() -> StepSetting {
    StepSetting::Rule("theory".into())
}
fn default_multiplier() -> f64 {
    1.0
}
fn default_t0() -> f64 {
    1000.0
}
fn default_eval_every() -> u64 {
    10
}

impl Default for AlgorithmConfig {
    fn default() -> Self {
        AlgorithmConfig {
            method: default_method(),
            variant: default_variant(),
            batch: default_batch(),
            steps: None,
            epochs: None,
            step_size: default_step(),
            step_multiplier: default_multiplier(),
            decay_t0: default_t0(),
            eval_every: default_eval_every(),
            n_sketches: None,
            ref_batch: None,
            rho: None,
        }
    }
}

/// Algorithm 2: the nodes, their data and their sketches.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributedConfig {
    /// Number of nodes M.
    #[serde(default = "default_nodes")]
    pub nodes: usize,
    /// How the training samples are split among nodes.
    #[serde(default = "default_sharding")]
    pub sharding: Sharding,
    /// One sketch per node (default: the top-level `sketch` for every node;
    /// `perm-k:M` is one joint draw that partitions the coordinates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_sketches: Option<Vec<SketchSpec>>,
    /// `in-process` (threads; the default) or `mpi` (needs the `mpi` feature).
    #[serde(default = "default_engine")]
    pub engine: String,
}

fn default_nodes() -> usize {
    4
}
fn default_sharding() -> Sharding {
    Sharding::Iid
}
fn default_engine() -> String {
    "in-process".into()
}

impl Default for DistributedConfig {
    fn default() -> Self {
        DistributedConfig {
            nodes: default_nodes(),
            sharding: default_sharding(),
            node_sketches: None,
            engine: default_engine(),
        }
    }
}

/// Where results go.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// The run folder.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Seconds between checkpoints (and metrics rewrites).
    #[serde(default = "default_checkpoint")]
    pub checkpoint_every_s: f64,
    /// Draws used for the final Monte-Carlo estimate of f_D.
    #[serde(default = "default_fd_samples")]
    pub fd_samples: usize,
}

fn default_dir() -> PathBuf {
    PathBuf::from("runs/train")
}
fn default_checkpoint() -> f64 {
    10.0
}
fn default_fd_samples() -> usize {
    200
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            dir: default_dir(),
            checkpoint_every_s: default_checkpoint(),
            fd_samples: default_fd_samples(),
        }
    }
}

/// A training run as written in TOML (unchecked). See `examples/a5a.toml`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// A name for reports (default: the output folder's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Master seed of every random stream.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// The sketch distribution D.
    #[serde(default = "default_sketch")]
    pub sketch: SketchSpec,
    /// The training, test and validation data (`[data]`).
    pub data: DataConfig,
    /// The loss and its ℓ2 weight (`[objective]`).
    #[serde(default)]
    pub objective: ObjectiveConfig,
    /// The method, its variant, length and step size (`[algorithm]`).
    #[serde(default)]
    pub algorithm: AlgorithmConfig,
    /// Algorithm 2's nodes (used when `algorithm.method = "distributed"`).
    #[serde(default)]
    pub distributed: DistributedConfig,
    /// The run folder and what is written into it (`[output]`).
    #[serde(default)]
    pub output: OutputConfig,
}

fn default_seed() -> u64 {
    DEFAULT_SEED
}
fn default_sketch() -> SketchSpec {
    SketchSpec::identity()
}

/// Which loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// Logistic regression.
    Logistic,
    /// Least squares.
    LeastSquares,
}

/// Which method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Algorithm 1.
    Dsgd,
    /// Plain (S)GD on f.
    Gd,
    /// Algorithm 3 over N fixed sketches.
    Lsvrdsg {
        /// N: the number of fixed sketches the finite sum runs over.
        n_sketches: usize,
        /// b: sketches in the reference gradient's minibatch (b = N: exact).
        ref_batch: usize,
        /// ρ: the probability of refreshing the reference point each step.
        rho: f64,
    },
    /// Algorithm 2 over the configured nodes.
    Distributed,
}

/// Which engine moves Algorithm 2's pieces (`distributed.engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// All nodes in this process (threads).
    InProcess,
    /// One MPI rank per node (`mpirun -np M mast train --engine mpi`).
    Mpi,
}

/// λ of a checked run: a fixed value (≥ 0, finite) or one over the number of
/// training samples (the config's `"1/n"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LambdaRule {
    /// A fixed value.
    Fixed(f64),
    /// `1/n` for `n` training samples.
    OneOverN,
}

impl LambdaRule {
    /// The value for `n` training samples.
    pub fn resolve(self, n: usize) -> f64 {
        match self {
            LambdaRule::Fixed(v) => v,
            LambdaRule::OneOverN => 1.0 / n as f64,
        }
    }

    /// The config's form of the rule.
    pub fn to_lambda(self) -> Lambda {
        match self {
            LambdaRule::Fixed(v) => Lambda::Value(v),
            LambdaRule::OneOverN => Lambda::Rule("1/n".into()),
        }
    }
}

/// The length of a checked run: a number of steps, or of passes over the data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RunLength {
    /// This many steps (`algorithm.steps`; it wins when `epochs` is given too).
    Steps(u64),
    /// This many passes over the training data (`algorithm.epochs`, > 0).
    Epochs(f64),
}

/// Algorithm 2's checked nodes (`[distributed]` less its engine, which is
/// [`CheckedTrain::engine`]). Kept for every method; only Algorithm 2 reads it,
/// and only then are its counts checked against each other.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedDistributed {
    /// Number of nodes M.
    pub nodes: usize,
    /// How the training samples are split among nodes.
    pub sharding: Sharding,
    /// One sketch per node (None: the run's [`CheckedTrain::sketch`] for every node).
    pub node_sketches: Option<Vec<SketchSpec>>,
}

/// A validated [`TrainConfig`]: every setting in its typed form (enums resolved,
/// ranges checked), and nothing else. [`CheckedTrain::to_config`] gives back the
/// canonical config, which checks to the same values.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedTrain {
    /// A name for reports (None: the output folder's name).
    pub name: Option<String>,
    /// Master seed of every random stream.
    pub seed: u64,
    /// Worker threads (None: all cores; never `Some(0)`).
    pub threads: Option<usize>,
    /// The sketch distribution D.
    pub sketch: SketchSpec,
    /// The training, test and validation data (`val_fraction` in [0, 1)).
    pub data: DataConfig,
    /// The loss.
    pub loss: LossKind,
    /// λ of the ℓ2 term.
    pub lambda: LambdaRule,
    /// The method.
    pub method: Method,
    /// The variant (with its batch size for variant II).
    pub variant: Variant,
    /// The length of the run.
    pub length: RunLength,
    /// The step-size rule.
    pub step_size: StepSize,
    /// Evaluate every this many steps (≥ 1).
    pub eval_every: u64,
    /// Algorithm 2's nodes.
    pub distributed: CheckedDistributed,
    /// Algorithm 2's engine (in-process for the other methods).
    pub engine: EngineKind,
    /// The run folder and what is written into it (`checkpoint_every_s` a
    /// valid duration).
    pub output: OutputConfig,
}

impl CheckedTrain {
    /// The number of steps for `n` training samples (`steps`, or `epochs` converted).
    pub fn steps(&self, n: usize) -> u64 {
        match (self.length, self.variant) {
            (RunLength::Steps(s), _) => s,
            (RunLength::Epochs(e), Variant::Exact) => e.ceil() as u64,
            (RunLength::Epochs(e), Variant::Minibatch(b)) => {
                (e * n as f64 / b as f64).ceil() as u64
            }
        }
    }

    /// The step rule with its horizon set to `steps` (for the non-convex rule).
    pub fn step_size_for(&self, steps: u64) -> StepSize {
        match self.step_size {
            StepSize::NonConvex { multiplier, .. } => StepSize::NonConvex {
                multiplier,
                horizon: steps.max(1),
            },
            s => s,
        }
    }

    /// The interval between checkpoints (and metrics rewrites).
    pub fn checkpoint_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.output.checkpoint_every_s.max(0.0))
    }

    /// The canonical configuration of this run: what a run folder's `config.toml`
    /// holds. Checking it again gives `self` back. Settings the run does not read
    /// (the L-SVRDSG counts of another method, the batch of variant I, the
    /// multiplier of a constant step) take their defaults; aliases their
    /// canonical names (`"mast"` is `"dsgd"`).
    pub fn to_config(&self) -> TrainConfig {
        let (method, n_sketches, ref_batch, rho) = match self.method {
            Method::Dsgd => ("dsgd", None, None, None),
            Method::Gd => ("gd", None, None, None),
            Method::Lsvrdsg {
                n_sketches,
                ref_batch,
                rho,
            } => ("lsvrdsg", Some(n_sketches), Some(ref_batch), Some(rho)),
            Method::Distributed => ("distributed", None, None, None),
        };
        let (variant, batch) = match self.variant {
            Variant::Exact => ("exact", default_batch()),
            Variant::Minibatch(b) => ("minibatch", b),
        };
        let rule = |r: &str| StepSetting::Rule(r.into());
        let (step_size, step_multiplier, decay_t0) = match self.step_size {
            StepSize::Constant { gamma } => (
                StepSetting::Value(gamma),
                default_multiplier(),
                default_t0(),
            ),
            StepSize::Theory { multiplier } => (rule("theory"), multiplier, default_t0()),
            StepSize::NonConvex { multiplier, .. } => (rule("nonconvex"), multiplier, default_t0()),
            StepSize::Decreasing { multiplier, t0 } => (rule("decreasing"), multiplier, t0),
        };
        let (steps, epochs) = match self.length {
            RunLength::Steps(s) => (Some(s), None),
            RunLength::Epochs(e) => (None, Some(e)),
        };
        let engine = match self.engine {
            EngineKind::InProcess => "in-process",
            EngineKind::Mpi => "mpi",
        };
        let loss = match self.loss {
            LossKind::Logistic => "logistic",
            LossKind::LeastSquares => "least-squares",
        };
        TrainConfig {
            name: self.name.clone(),
            seed: self.seed,
            threads: self.threads,
            sketch: self.sketch.clone(),
            data: self.data.clone(),
            objective: ObjectiveConfig {
                loss: loss.into(),
                lambda: self.lambda.to_lambda(),
            },
            algorithm: AlgorithmConfig {
                method: method.into(),
                variant: variant.into(),
                batch,
                steps,
                epochs,
                step_size,
                step_multiplier,
                decay_t0,
                eval_every: self.eval_every,
                n_sketches,
                ref_batch,
                rho,
            },
            distributed: DistributedConfig {
                nodes: self.distributed.nodes,
                sharding: self.distributed.sharding,
                node_sketches: self.distributed.node_sketches.clone(),
                engine: engine.into(),
            },
            output: self.output.clone(),
        }
    }
}

/// One setting that differs between a run folder's saved `config.toml` and the
/// configuration given to resume it (see [`TrainConfig::resume_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// The config key, dotted (`objective.lambda`, `sketch`, `data.train`).
    pub key: String,
    /// The saved value, as TOML (`"1/n"`, `0.5`), or `(unset)`.
    pub saved: String,
    /// The value given now, in the same form.
    pub given: String,
}

impl SettingChange {
    /// The `mast train` flag that sets this key, if there is one.
    pub fn flag(&self) -> Option<&'static str> {
        Some(match self.key.as_str() {
            "seed" => "--seed",
            "sketch" => "--sketch",
            "data.train" => "--train",
            "data.test" => "--test",
            "data.val_fraction" => "--val-fraction",
            "data.n_features" => "--n-features",
            "objective.loss" => "--loss",
            "objective.lambda" => "--lambda",
            "algorithm.method" => "--method",
            "algorithm.variant" => "--variant",
            "algorithm.batch" => "--batch",
            "algorithm.step_size" => "--step-size",
            "algorithm.step_multiplier" => "--step-multiplier",
            "algorithm.decay_t0" => "--decay-t0",
            "algorithm.eval_every" => "--eval-every",
            "algorithm.n_sketches" => "--n-sketches",
            "algorithm.ref_batch" => "--ref-batch",
            "algorithm.rho" => "--rho",
            "distributed.nodes" => "--nodes",
            "distributed.sharding" => "--sharding",
            "distributed.engine" => "--engine",
            _ => return None,
        })
    }
}

impl std::fmt::Display for SettingChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.key)?;
        if let Some(flag) = self.flag() {
            write!(f, " ({flag})")?;
        }
        write!(f, ": {} in the run, {} now", self.saved, self.given)
    }
}

/// Flattens a TOML table into `dotted.key → value` (arrays stay whole).
fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut std::collections::BTreeMap<String, String>,
) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            v => {
                out.insert(key, v.to_string());
            }
        }
    }
}

impl TrainConfig {
    /// The keys a resumed run may change: the length of the run (`algorithm.steps`,
    /// `algorithm.epochs`), the thread count (results do not depend on it), and
    /// what only names or places the output (`name`, `output.dir`,
    /// `output.checkpoint_every_s`).
    pub const RESUMABLE_KEYS: &'static [&'static str] = &[
        "algorithm.steps",
        "algorithm.epochs",
        "threads",
        "name",
        "output.dir",
        "output.checkpoint_every_s",
    ];

    /// The settings of `self` (the configuration given to resume a run) that differ
    /// from `saved` (the run folder's `config.toml`), other than
    /// [`TrainConfig::RESUMABLE_KEYS`]; empty when the run may be resumed. Paths are
    /// compared after [`normalize`]; a key set on one side only counts as a change.
    pub fn resume_changes(&self, saved: &TrainConfig) -> Result<Vec<SettingChange>> {
        let flat = |cfg: &TrainConfig| -> Result<std::collections::BTreeMap<String, String>> {
            let mut cfg = cfg.clone();
            cfg.data.train = normalize(&cfg.data.train);
            cfg.data.test = cfg.data.test.as_deref().map(normalize);
            let table = toml::Table::try_from(&cfg)
                .map_err(|e| MastError::param("config", e.to_string()))?;
            let mut out = std::collections::BTreeMap::new();
            flatten("", &table, &mut out);
            Ok(out)
        };
        let (given, saved) = (flat(self)?, flat(saved)?);
        let unset = || "(unset)".to_string();
        let keys: std::collections::BTreeSet<&String> = given.keys().chain(saved.keys()).collect();
        Ok(keys
            .into_iter()
            .filter(|k| !Self::RESUMABLE_KEYS.contains(&k.as_str()))
            .filter_map(|k| {
                let (s, g) = (saved.get(k), given.get(k));
                (s != g).then(|| SettingChange {
                    key: k.clone(),
                    saved: s.cloned().unwrap_or_else(unset),
                    given: g.cloned().unwrap_or_else(unset),
                })
            })
            .collect())
    }

    /// Reads a TOML config. Relative paths inside it are taken relative to the
    /// config file's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| MastError::io(path, "cannot read config", e))?;
        let mut cfg: TrainConfig = toml::from_str(&text).map_err(|e| MastError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = normalize(&base.join(&*p));
            }
        };
        fix(&mut cfg.data.train);
        if let Some(t) = cfg.data.test.as_mut() {
            fix(t);
        }
        fix(&mut cfg.output.dir);
        Ok(cfg)
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| MastError::param("config", e.to_string()))
    }

    /// Validates everything that can be checked before loading data, turning
    /// every setting into its typed form ([`CheckedTrain`]).
    pub fn check(self) -> Result<CheckedTrain> {
        let loss = match self.objective.loss.as_str() {
            "logistic" => LossKind::Logistic,
            "least-squares" | "least_squares" | "ls" => LossKind::LeastSquares,
            other => {
                return Err(MastError::param(
                    "objective.loss",
                    format!("unknown loss `{other}`: use logistic or least-squares"),
                ))
            }
        };
        let method = match self.algorithm.method.as_str() {
            "dsgd" | "mast" | "algorithm1" => Method::Dsgd,
            "gd" | "sgd" | "erm" => Method::Gd,
            "lsvrdsg" | "l-svrdsg" | "algorithm3" => {
                let n = self.algorithm.n_sketches.unwrap_or(100);
                Method::Lsvrdsg {
                    n_sketches: n,
                    ref_batch: self.algorithm.ref_batch.unwrap_or(n),
                    rho: self.algorithm.rho.unwrap_or(1.0 / n.max(1) as f64),
                }
            }
            "distributed" | "algorithm2" => Method::Distributed,
            other => {
                return Err(MastError::param(
                    "algorithm.method",
                    format!("unknown method `{other}`: use dsgd, distributed, lsvrdsg or gd"),
                ))
            }
        };
        if let Method::Lsvrdsg {
            n_sketches,
            ref_batch,
            rho,
        } = method
        {
            // The solver's own checks, before any data is loaded.
            crate::algorithm::Lsvrdsg::new(
                Box::new(crate::sketch::Identity::new(1)),
                n_sketches,
                ref_batch,
                rho,
                StepSize::Constant { gamma: 1.0 },
                0,
            )?;
        }
        if method == Method::Distributed {
            let dc = &self.distributed;
            if dc.nodes == 0 {
                return Err(MastError::param("distributed.nodes", "must be at least 1"));
            }
            if let Some(specs) = &dc.node_sketches {
                if specs.len() != dc.nodes {
                    return Err(MastError::param(
                        "distributed.node_sketches",
                        format!("{} sketches for {} nodes", specs.len(), dc.nodes),
                    ));
                }
                if let Some(s) = specs.iter().find(|s| s.nodes().is_some()) {
                    return Err(MastError::param(
                        "distributed.node_sketches",
                        format!(
                            "{} is a joint draw: set the top-level `sketch = \"{s}\"` instead",
                            s.kind()
                        ),
                    ));
                }
            }
            if let Some(k) = self.sketch.nodes() {
                if k != dc.nodes && dc.node_sketches.is_none() {
                    return Err(MastError::param(
                        "sketch",
                        format!(
                            "{} needs {k} nodes, but distributed.nodes = {}",
                            self.sketch, dc.nodes
                        ),
                    ));
                }
            }
            match dc.engine.as_str() {
                "in-process" => {}
                "mpi" if cfg!(feature = "mpi") => {}
                "mpi" => {
                    return Err(MastError::param(
                        "distributed.engine",
                        "this mast was built without MPI: rebuild with `cargo build --release -p mast-cli --features mpi` (needs libopenmpi-dev), then run `mpirun -np M mast train --engine mpi ...`",
                    ))
                }
                other => {
                    return Err(MastError::param(
                        "distributed.engine",
                        format!("unknown engine `{other}`: use in-process or mpi"),
                    ))
                }
            }
        }
        let variant = match self.algorithm.variant.as_str() {
            "exact" | "I" | "full" => Variant::Exact,
            "minibatch" | "II" | "stochastic" => {
                if self.algorithm.batch == 0 {
                    return Err(MastError::param("algorithm.batch", "must be at least 1"));
                }
                Variant::Minibatch(self.algorithm.batch)
            }
            other => {
                return Err(MastError::param(
                    "algorithm.variant",
                    format!("unknown variant `{other}`: use exact or minibatch"),
                ))
            }
        };
        let m = self.algorithm.step_multiplier;
        let step_size = match &self.algorithm.step_size {
            StepSetting::Value(g) => StepSize::Constant { gamma: *g },
            StepSetting::Rule(r) if r == "theory" => StepSize::Theory { multiplier: m },
            StepSetting::Rule(r) if r == "nonconvex" || r == "non-convex" => StepSize::NonConvex {
                multiplier: m,
                // The horizon is filled in once the data fixes the step count.
                horizon: 1,
            },
            StepSetting::Rule(r) if r == "decreasing" => StepSize::Decreasing {
                multiplier: m,
                t0: self.algorithm.decay_t0,
            },
            StepSetting::Rule(r) => match r.parse::<f64>() {
                Ok(g) => StepSize::Constant { gamma: g },
                Err(_) => {
                    return Err(MastError::param(
                        "algorithm.step_size",
                        format!(
                            "`{r}` is not a number, \"theory\", \"nonconvex\" or \"decreasing\""
                        ),
                    ))
                }
            },
        };
        step_size.resolve(1.0)?; // range checks
        let length = match (self.algorithm.steps, self.algorithm.epochs) {
            (Some(s), _) => RunLength::Steps(s),
            (None, Some(e)) => RunLength::Epochs(e),
            (None, None) => {
                return Err(MastError::param("algorithm.steps", "give steps or epochs"))
            }
        };
        if let Some(e) = self.algorithm.epochs {
            if !(e > 0.0 && e.is_finite()) {
                return Err(MastError::param(
                    "algorithm.epochs",
                    format!("must be positive, got {e}"),
                ));
            }
        }
        if self.algorithm.eval_every == 0 {
            return Err(MastError::param(
                "algorithm.eval_every",
                "must be at least 1",
            ));
        }
        if !(0.0..1.0).contains(&self.data.val_fraction) {
            return Err(MastError::param(
                "data.val_fraction",
                format!("must be in [0, 1), got {}", self.data.val_fraction),
            ));
        }
        let every = self.output.checkpoint_every_s;
        if std::time::Duration::try_from_secs_f64(every).is_err() {
            return Err(MastError::param(
                "output.checkpoint_every_s",
                format!("must be a number of seconds ≥ 0, got {every}"),
            ));
        }
        if self.threads == Some(0) {
            return Err(MastError::param("threads", "must be at least 1"));
        }
        let engine = match (method, self.distributed.engine.as_str()) {
            (Method::Distributed, "mpi") => EngineKind::Mpi,
            _ => EngineKind::InProcess,
        };
        let lambda = match &self.objective.lambda {
            Lambda::Rule(r) if r.trim() == "1/n" => LambdaRule::OneOverN,
            other => LambdaRule::Fixed(other.resolve(1)?),
        };
        let eval_every = self.algorithm.eval_every;
        let TrainConfig {
            name,
            seed,
            threads,
            sketch,
            data,
            distributed,
            output,
            ..
        } = self;
        Ok(CheckedTrain {
            name,
            seed,
            threads,
            sketch,
            data,
            loss,
            lambda,
            method,
            variant,
            length,
            step_size,
            eval_every,
            distributed: CheckedDistributed {
                nodes: distributed.nodes,
                sharding: distributed.sharding,
                node_sketches: distributed.node_sketches,
            },
            engine,
            output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> TrainConfig {
        toml::from_str(text).unwrap()
    }

    /// Written to a folder, read back and checked again, a checked config gives
    /// the same typed values and the same canonical config.
    fn round_trip(text: &str) -> CheckedTrain {
        let dir = std::env::temp_dir().join(format!(
            "mast-config-round-trip-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let given = dir.join("given.toml");
        std::fs::write(&given, text).unwrap();
        let checked = TrainConfig::load(&given).unwrap().check().unwrap();
        let written = checked.to_config();
        let path = dir.join("config.toml");
        std::fs::write(&path, written.to_toml().unwrap()).unwrap();
        let read = TrainConfig::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read, written, "{text}");
        let again = read.check().unwrap();
        assert_eq!(again, checked, "{text}");
        assert_eq!(again.to_config(), written, "{text}");
        checked
    }

    #[test]
    fn a_checked_config_round_trips_through_its_canonical_form() {
        let c =
            round_trip("name = \"plain\"\n[data]\ntrain = \"/d/a5a\"\n[algorithm]\nsteps = 50\n");
        assert_eq!(c.length, RunLength::Steps(50));
        assert_eq!(c.lambda, LambdaRule::OneOverN);

        // Algorithm 2 with per-node sketches, the mpi engine where built, epochs.
        let engine = if cfg!(feature = "mpi") {
            "mpi"
        } else {
            "in-process"
        };
        let c = round_trip(&format!(
            "seed = 7\nthreads = 2\nsketch = \"rand-k:0.5\"\n\
             [data]\ntrain = \"/d/train\"\ntest = \"/d/test\"\nval_fraction = 0.2\nn_features = 30\n\
             [objective]\nloss = \"ls\"\nlambda = \"0.25\"\n\
             [algorithm]\nmethod = \"algorithm2\"\nvariant = \"II\"\nbatch = 8\nepochs = 2.5\n\
             step_size = \"decreasing\"\nstep_multiplier = 0.5\ndecay_t0 = 20.0\neval_every = 3\n\
             [distributed]\nnodes = 2\nsharding = \"by-label\"\n\
             node_sketches = [\"bernoulli:0.5\", \"identity\"]\nengine = \"{engine}\"\n\
             [output]\ndir = \"/r/run\"\ncheckpoint_every_s = 0.5\nfd_samples = 9\n"
        ));
        assert_eq!(c.method, Method::Distributed);
        assert_eq!(c.length, RunLength::Epochs(2.5));
        assert_eq!(c.lambda, LambdaRule::Fixed(0.25));
        assert_eq!(c.loss, LossKind::LeastSquares);
        assert_eq!(c.variant, Variant::Minibatch(8));
        assert_eq!(c.steps(100), 32);
        assert_eq!(c.distributed.nodes, 2);
        let written = c.to_config();
        assert_eq!(written.algorithm.method, "distributed");
        assert_eq!(written.objective.loss, "least-squares");
        assert_eq!(written.algorithm.variant, "minibatch");

        // L-SVRDSG's defaults are written out; steps win over epochs.
        let c = round_trip(
            "[data]\ntrain = \"/d/a5a\"\n[objective]\nlambda = 0.01\n\
             [algorithm]\nmethod = \"lsvrdsg\"\nn_sketches = 10\nsteps = 5\nepochs = 3.0\n\
             step_size = 0.125\n",
        );
        assert_eq!(
            c.method,
            Method::Lsvrdsg {
                n_sketches: 10,
                ref_batch: 10,
                rho: 0.1
            }
        );
        assert_eq!(c.length, RunLength::Steps(5));
        assert_eq!(c.step_size, StepSize::Constant { gamma: 0.125 });
        assert_eq!(c.to_config().algorithm.rho, Some(0.1));
        assert_eq!(c.to_config().algorithm.epochs, None);

        // The non-convex rule.
        round_trip(
            "[data]\ntrain = \"/d/a5a\"\n[algorithm]\nmethod = \"gd\"\nsteps = 9\n\
             step_size = \"non-convex\"\nstep_multiplier = 2.0\n",
        );
    }

    #[test]
    fn lambda_is_checked_before_the_data() {
        let mut cfg = parse("[data]\ntrain = \"/d/a5a\"\n[algorithm]\nsteps = 1\n");
        cfg.objective.lambda = Lambda::Value(-1.0);
        let e = cfg.clone().check().unwrap_err().to_string();
        assert!(e.contains("lambda"), "{e}");
        cfg.objective.lambda = Lambda::Rule("half".into());
        assert!(cfg.check().is_err());
    }
}
