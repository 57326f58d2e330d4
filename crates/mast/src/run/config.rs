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

/// A validated [`TrainConfig`]: enums resolved, ranges checked.
#[derive(Debug, Clone)]
pub struct CheckedTrain {
    /// The configuration it came from.
    pub config: TrainConfig,
    /// The loss.
    pub loss: LossKind,
    /// The method.
    pub method: Method,
    /// The variant.
    pub variant: Variant,
    /// The step-size rule.
    pub step_size: StepSize,
    /// Algorithm 2's engine (in-process for the other methods).
    pub engine: EngineKind,
}

impl CheckedTrain {
    /// The number of steps for `n` training samples (`steps`, or `epochs` converted).
    pub fn steps(&self, n: usize) -> u64 {
        let a = &self.config.algorithm;
        match (a.steps, a.epochs, self.variant) {
            (Some(s), _, _) => s,
            (None, Some(e), Variant::Exact) => e.ceil() as u64,
            (None, Some(e), Variant::Minibatch(b)) => (e * n as f64 / b as f64).ceil() as u64,
            (None, None, _) => 1, // `check` requires one of them
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

    /// Validates everything that can be checked before loading data.
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
        if self.algorithm.steps.is_none() && self.algorithm.epochs.is_none() {
            return Err(MastError::param("algorithm.steps", "give steps or epochs"));
        }
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
        Ok(CheckedTrain {
            config: self,
            loss,
            method,
            variant,
            step_size,
            engine,
        })
    }
}
