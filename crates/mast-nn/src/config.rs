//! The `nn-prune` experiment's configuration (TOML). Relative paths inside a
//! config file are relative to the file's folder.

use std::path::{Path, PathBuf};

use crate::data::{default_data_root, DatasetName};
use crate::error::{NnError, Result};
use crate::mask::Method;
use crate::model::ArchConfig;
use crate::prune::PruneSettings;
use crate::train::TrainSettings;

/// Where the images come from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// `mnist`, `fashion-mnist` or `digits`.
    pub dataset: DatasetName,
    /// The folder holding `images/` (default: `../shared/data` relative to the project root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Use only the first this many training images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
}

/// The shift `v`: a pre-trained model to fine-tune from (MAST's `v ≠ 0` setting).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftSection {
    /// Pre-train `v` by plain training on this data set (default: the experiment's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetName>,
    /// Epochs of pre-training.
    #[serde(default = "default_pretrain_epochs")]
    pub epochs: usize,
    /// Learning rate of pre-training (default: `train.lr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Use this model file (`model.bin` of an earlier run) as `v` instead of pre-training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
}

fn default_pretrain_epochs() -> usize {
    1
}

/// Where results go.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// Run folder (default: `runs/<name>` under the current folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Save every trained model as `model.bin`.
    #[serde(default = "default_true")]
    pub save_models: bool,
}

fn default_true() -> bool {
    true
}

impl Default for OutputSection {
    fn default() -> Self {
        OutputSection {
            dir: None,
            save_models: true,
        }
    }
}

/// The `nn-prune` experiment: every method × seed is trained with the same
/// budget, then every trained model is pruned at every `q`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NnPruneConfig {
    /// Experiment name (the default run folder is `runs/<name>`).
    pub name: String,
    /// Seeds: each seed fixes the initialisation, data order, masks and pruning masks.
    pub seeds: Vec<u64>,
    /// Methods, e.g. `["erm", "dropout:0.5", "dropconnect:0.5", "bernoulli:0.5",
    /// "rand-k:0.5", "neuron:0.5"]` (dropout takes the DROP probability; the
    /// others the KEEP probability or fraction).
    pub methods: Vec<Method>,
    /// The data.
    pub data: DataSection,
    /// The network.
    #[serde(default)]
    pub model: ArchConfig,
    /// Optimisation, the same for every method.
    pub train: TrainSettings,
    /// Pruning.
    #[serde(default)]
    pub prune: PruneSettings,
    /// Optional shift `v` (fine-tuning from a pre-trained model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<ShiftSection>,
    /// Output.
    #[serde(default)]
    pub output: OutputSection,
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    std::path::absolute(&joined).unwrap_or(joined)
}

impl NnPruneConfig {
    /// Parses TOML text; `path` names the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let cfg: NnPruneConfig = toml::from_str(text).map_err(|e| NnError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(cfg)
    }

    /// Reads a config file and resolves its relative paths against its folder
    /// (and a missing data root to the project's `../shared/data`).
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| NnError::io(path, "cannot read", e))?;
        let mut cfg = Self::from_toml(&text, path)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        cfg.resolve_paths(base);
        cfg.check()?;
        Ok(cfg)
    }

    /// Makes every path absolute, relative to `base`; fills in the data root.
    pub fn resolve_paths(&mut self, base: &Path) {
        self.data.root = Some(match &self.data.root {
            Some(r) => absolute(base, r),
            None => default_data_root(base),
        });
        if let Some(d) = &self.output.dir {
            self.output.dir = Some(absolute(base, d));
        }
        if let Some(s) = &mut self.shift {
            if let Some(c) = &s.checkpoint {
                s.checkpoint = Some(absolute(base, c));
            }
        }
    }

    /// Checks the values.
    pub fn check(&self) -> Result<()> {
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return Err(NnError::param("name", "must be a non-empty folder name"));
        }
        if self.seeds.is_empty() {
            return Err(NnError::param("seeds", "give at least one seed"));
        }
        if self.methods.is_empty() {
            return Err(NnError::param("methods", "give at least one method"));
        }
        let mut labels: Vec<String> = self.methods.iter().map(Method::to_string).collect();
        labels.sort();
        if labels.windows(2).any(|w| w[0] == w[1]) {
            return Err(NnError::param("methods", "a method is listed twice"));
        }
        if let Some(lr) = self.shift.as_ref().and_then(|s| s.lr) {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(NnError::param(
                    "shift.lr",
                    format!("must be > 0 and finite, got {lr}"),
                ));
            }
        }
        self.train.check()?;
        self.prune.check()
    }

    /// The data root (after [`NnPruneConfig::resolve_paths`]).
    pub fn data_root(&self) -> PathBuf {
        self.data
            .root
            .clone()
            .unwrap_or_else(|| default_data_root(Path::new(".")))
    }
}

/// Where a single network run (`mast train` on a network config) writes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOutput {
    /// Run folder.
    #[serde(default = "default_run_dir")]
    pub dir: PathBuf,
    /// Seconds between checkpoints (checked between steps; also written at the
    /// end of the run and on Ctrl-C).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every_s: f64,
}

fn default_run_dir() -> PathBuf {
    PathBuf::from("runs/nn")
}

fn default_checkpoint_every() -> f64 {
    60.0
}

impl Default for RunOutput {
    fn default() -> Self {
        RunOutput {
            dir: default_run_dir(),
            checkpoint_every_s: default_checkpoint_every(),
        }
    }
}

/// One network training run (`mast train --config FILE` where the file has a
/// `[model]` table): one method, one seed, checkpoints and `--resume`.
///
/// ```
/// use mast_nn::config::NnTrainConfig;
/// let text = r#"
/// method = "bernoulli:0.5"
/// seed = 3
/// [data]
/// dataset = "digits"
/// [model]
/// arch = "mlp"
/// hidden = [32]
/// [train]
/// epochs = 2
/// lr = 0.05
/// "#;
/// assert!(NnTrainConfig::is_network_config(text));
/// let cfg = NnTrainConfig::from_toml(text, std::path::Path::new("run.toml")).unwrap();
/// assert_eq!(cfg.seed, 3);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NnTrainConfig {
    /// Run name (default: the folder's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seed of the initialisation, data order and masks.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The method, e.g. `erm`, `dropout:0.5`, `bernoulli:0.5`, `neuron:0.5`.
    pub method: Method,
    /// The data.
    pub data: DataSection,
    /// The network.
    pub model: ArchConfig,
    /// Optimisation.
    pub train: TrainSettings,
    /// Output.
    #[serde(default)]
    pub output: RunOutput,
}

fn default_seed() -> u64 {
    mast::rng::DEFAULT_SEED
}

impl NnTrainConfig {
    /// Whether TOML text is a network run config (it has a `[model]` table)
    /// rather than a linear one.
    pub fn is_network_config(text: &str) -> bool {
        text.parse::<toml::Table>()
            .is_ok_and(|t| t.get("model").is_some_and(toml::Value::is_table))
    }

    /// Parses TOML text; `path` names the file in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        toml::from_str(text).map_err(|e| NnError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Reads a config file, resolves its relative paths against its folder and
    /// checks the values.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|e| NnError::io(path, "cannot read", e))?;
        let mut cfg = Self::from_toml(&text, path)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        cfg.data.root = Some(match &cfg.data.root {
            Some(r) => absolute(base, r),
            None => default_data_root(base),
        });
        cfg.output.dir = absolute(base, &cfg.output.dir);
        cfg.check()?;
        Ok(cfg)
    }

    /// Checks the values.
    pub fn check(&self) -> Result<()> {
        if self.output.checkpoint_every_s.is_nan() || self.output.checkpoint_every_s < 0.0 {
            return Err(NnError::param(
                "output.checkpoint_every_s",
                format!("must be ≥ 0, got {}", self.output.checkpoint_every_s),
            ));
        }
        self.train.check()
    }

    /// The configuration as TOML (what the run folder's `config.toml` holds).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self)
            .map_err(|e| NnError::param("config", format!("cannot serialise: {e}")))
    }
}
