//! Pruning robustness (the paper's Figure 1): do MAST models stay accurate when
//! pruned, where ERM models do not?
//!
//! For each sparsity level q: the exact ERM optimum, and a MAST model trained by
//! Algorithm 1 (I) with Rand-K(q) (or Bernoulli(q)), keeping its best-validation
//! iterate. Then R random masks keeping a fraction q of the weights (drawn with
//! the same sketch, seeded) are applied to both models — the same masks to both,
//! a paired comparison — and the test accuracy of every pruned model is recorded.
//!
//! **Rescaling.** By default a pruned model keeps its weights unchanged on the
//! mask (`x ∘ m`, the plain mask). With `rescale = true` the kept weights are
//! multiplied by the sketch's scale (1/q for Bernoulli, d/K for Rand-K), as the
//! unbiased sketch `S x` would. For a linear classifier without a bias the two
//! give the same predictions (a positive factor does not change the sign of
//! `aᵀx`); they differ once a bias or a non-linearity is involved.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mast::algorithm::erm::{solve_erm, ErmOptions};
use mast::data::{load_libsvm_pair, split::holdout, Dataset};
use mast::objective::{LogisticRegression, Objective};
use mast::rng::{stream, Stream};
use mast::sketch::{SketchDraw, SketchSpec};
use mast_report::{HtmlReport, Quartiles};
use rayon::prelude::*;

use crate::common::{self, cell, parallel, write_csv, DataSettings, ExpError, Progress, Result};

/// The masks used for training and pruning: a registered sketch (see
/// `mast::sketch::registry`) that takes a kept fraction, by name —
/// `rand-k` (K = round(q d): exactly a fraction q kept, the default),
/// `bernoulli` (each weight kept with probability q), or one of the user's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PruneSketch(String);

impl PruneSketch {
    /// Rand-K with K = round(q d).
    pub fn rand_k() -> Self {
        PruneSketch("rand-k".into())
    }

    /// Bernoulli(q).
    pub fn bernoulli() -> Self {
        PruneSketch("bernoulli".into())
    }

    /// The registered sketch `kind` (its canonical name, or an alias); an error
    /// when it is not registered or does not take a kept fraction.
    pub fn new(kind: &str) -> Result<Self> {
        let spec = SketchSpec::with_fraction(kind.trim(), 0.5)
            .map_err(|e| ExpError::setting("sketch", e.to_string()))?;
        Ok(PruneSketch(spec.kind().to_string()))
    }

    /// The registered name.
    pub fn kind(&self) -> &str {
        &self.0
    }

    /// The sketch at sparsity level q (q = fraction kept).
    pub fn spec(&self, q: f64) -> Result<SketchSpec> {
        SketchSpec::with_fraction(&self.0, q)
            .map_err(|e| ExpError::setting("sketch", e.to_string()))
    }

    /// How the report names the sketch at level q.
    fn label(&self) -> String {
        match self.0.as_str() {
            "rand-k" => "Rand-K(q)".into(),
            "bernoulli" => "Bernoulli(q)".into(),
            other => format!("{other}(q)"),
        }
    }
}

impl Default for PruneSketch {
    fn default() -> Self {
        PruneSketch::rand_k()
    }
}

impl TryFrom<String> for PruneSketch {
    type Error = ExpError;
    fn try_from(s: String) -> Result<Self> {
        PruneSketch::new(&s)
    }
}

impl From<PruneSketch> for String {
    fn from(s: PruneSketch) -> String {
        s.0
    }
}

/// The pruning experiment's settings (`mast experiment prune --config F`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneConfig {
    /// A name for the report.
    #[serde(default = "default_name")]
    pub name: String,
    /// The data.
    pub data: DataSettings,
    /// Sparsity levels q (fraction of weights KEPT), each in (0, 1].
    #[serde(default = "default_q")]
    pub q: Vec<f64>,
    /// Random masks per level.
    #[serde(default = "default_masks")]
    pub masks: usize,
    /// Rand-K or Bernoulli, for both training and pruning.
    #[serde(default)]
    pub sketch: PruneSketch,
    /// Whether pruning rescales the kept weights (see the module docs).
    #[serde(default)]
    pub rescale: bool,
    /// Master seed (training and masks).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Steps of Algorithm 1 per MAST model.
    #[serde(default = "default_steps")]
    pub steps: u64,
    /// Evaluate (and track the best validation iterate) every this many steps.
    #[serde(default = "default_eval_every")]
    pub eval_every: u64,
    /// Multiplier of the theory step `1/(L_f L_S^max)`.
    #[serde(default = "default_multiplier")]
    pub step_multiplier: f64,
    /// More MAST models to compare at every level q, each trained with its own
    /// sketch and pruned by the same masks: spec templates in which `{q}` stands
    /// for the level (`"gaussian:p={q}"`, `"hadamard:bernoulli:{q}"`,
    /// `"importance:sqrt-l:{q}"`). A sketch whose theory step is 0
    /// (`L_S^max = ∞`, as the Gaussian's) takes `step_multiplier/(L_f L_D)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compare: Vec<String>,
}

fn default_name() -> String {
    "prune".into()
}
fn default_q() -> Vec<f64> {
    (1..=9).map(|i| i as f64 / 10.0).collect()
}
fn default_masks() -> usize {
    200
}
fn default_seed() -> u64 {
    mast::rng::DEFAULT_SEED
}
fn default_steps() -> u64 {
    3000
}
fn default_eval_every() -> u64 {
    25
}
fn default_multiplier() -> f64 {
    1.0
}

impl PruneConfig {
    /// The defaults (q = 0.1…0.9, 200 masks, Rand-K, plain masks) on `data`.
    pub fn new(data: DataSettings) -> Self {
        PruneConfig {
            name: default_name(),
            data,
            q: default_q(),
            masks: default_masks(),
            sketch: PruneSketch::default(),
            rescale: false,
            seed: default_seed(),
            steps: default_steps(),
            eval_every: default_eval_every(),
            step_multiplier: default_multiplier(),
            compare: Vec::new(),
        }
    }

    /// The spec of template `t` of [`PruneConfig::compare`] at level q.
    pub fn compare_spec(t: &str, q: f64) -> Result<SketchSpec> {
        t.replace("{q}", &format!("{q:?}"))
            .parse()
            .map_err(|e: mast::MastError| ExpError::setting("compare", format!("`{t}`: {e}")))
    }

    /// The method name of template `t` in the tables (`mast hadamard:bernoulli:q`).
    pub fn compare_method(t: &str) -> String {
        format!("mast {}", t.replace("{q}", "q"))
    }

    /// Reads a TOML config; relative data paths are relative to its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ExpError::file(path, e))?;
        let mut cfg: PruneConfig = toml::from_str(&text).map_err(|e| ExpError::file(path, e))?;
        cfg.data.rebase(path.parent().unwrap_or(Path::new("")));
        Ok(cfg)
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<()> {
        if self.q.is_empty() {
            return Err(ExpError::setting("q", "give at least one sparsity level"));
        }
        if let Some(q) = self.q.iter().find(|q| !(**q > 0.0 && **q <= 1.0)) {
            return Err(ExpError::setting(
                "q",
                format!("{q} is not in (0, 1] (q is the fraction of weights KEPT)"),
            ));
        }
        if self.masks == 0 {
            return Err(ExpError::setting("masks", "must be at least 1"));
        }
        for t in &self.compare {
            if !t.contains("{q}") {
                return Err(ExpError::setting(
                    "compare",
                    format!("`{t}` has no `{{q}}` where the level goes (e.g. `gaussian:p={{q}}`)"),
                ));
            }
            for &q in &self.q {
                Self::compare_spec(t, q)?;
            }
        }
        if self.steps == 0 || self.eval_every == 0 {
            return Err(ExpError::setting(
                "steps",
                "steps and eval_every must be positive",
            ));
        }
        Ok(())
    }
}

/// One pruned model's test accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct PruneRow {
    /// Sparsity level (fraction kept).
    pub q: f64,
    /// `erm`, `mast`, or any method name.
    pub method: String,
    /// Mask index (0-based).
    pub mask: usize,
    /// Weights kept by the mask.
    pub kept: usize,
    /// Test accuracy of the pruned model.
    pub test_accuracy: f64,
}

/// A trained model of the experiment, before pruning.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    /// Method.
    pub method: String,
    /// Sparsity level it was trained for (None for ERM).
    pub q: Option<f64>,
    /// Its test accuracy unpruned.
    pub test_accuracy: f64,
    /// Its validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Its training loss.
    pub train_loss: f64,
    /// The step of the best-validation iterate (None for ERM).
    pub step: Option<u64>,
}

/// What the experiment produced.
#[derive(Debug, Clone)]
pub struct PruneOutcome {
    /// Every pruned model.
    pub rows: Vec<PruneRow>,
    /// The unpruned models.
    pub models: Vec<ModelRow>,
    /// Per (q, method): quartiles of the pruned test accuracy.
    pub summary: Vec<(f64, String, Quartiles)>,
    /// `prune.csv`, `prune_summary.csv`, `models.csv`, figures, `index.html`.
    pub files: Vec<PathBuf>,
}

/// Loads the data exactly as `mast train` does for the same seed (same hold-out).
fn load(cfg: &PruneConfig) -> Result<(Arc<Dataset>, Option<Dataset>, Dataset, f64)> {
    let pair = load_libsvm_pair(&cfg.data.train, Some(&cfg.data.test), None)?;
    let (train, val) = holdout(&pair.train, cfg.data.val_fraction, cfg.seed)?;
    let lambda = cfg.data.lambda.resolve(train.n_samples())?;
    let test = pair
        .test
        .ok_or_else(|| ExpError::setting("data.test", "a test file is required"))?;
    Ok((Arc::new(train), val, test, lambda))
}

/// Runs the pruning experiment into `out` (run folders under `out/runs/`).
pub fn run_prune(cfg: &PruneConfig, out: &Path, progress: &dyn Progress) -> Result<PruneOutcome> {
    cfg.check()?;
    std::fs::create_dir_all(out).map_err(|e| ExpError::file(out, e))?;
    let toml =
        toml::to_string_pretty(cfg).map_err(|e| ExpError::setting("config", e.to_string()))?;
    mast::run::io::write_atomic(&out.join("config.toml"), toml.as_bytes())?;
    let (train, val, test, lambda) = load(cfg)?;
    let d = train.n_features().max(test.n_features());
    progress.phase(
        "prune: training",
        (cfg.q.len() * (1 + cfg.compare.len())) as u64 + 1,
    );

    // The exact ERM optimum.
    let f = LogisticRegression::new(train.clone(), lambda)?;
    let erm = solve_erm(&f, &ErmOptions::default())?;
    let mut erm_x = erm.x.clone();
    erm_x.resize(d, 0.0);
    progress.done("ERM optimum");
    let mut models = vec![ModelRow {
        method: "erm".into(),
        q: None,
        test_accuracy: test.accuracy(&erm_x),
        val_accuracy: val.as_ref().map(|v| v.accuracy(&erm_x)),
        train_loss: erm.loss,
        step: None,
    }];

    // MAST models, one per q and sketch, in parallel: the configured sketch
    // (`mast`), then each template of `compare`.
    let l_f = f.smoothness();
    let jobs: Vec<(f64, Option<&String>)> = cfg
        .q
        .iter()
        .flat_map(|&q| {
            std::iter::once((q, None)).chain(cfg.compare.iter().map(move |t| (q, Some(t))))
        })
        .collect();
    let trained = parallel(
        &jobs,
        progress,
        |(q, t)| match t {
            None => format!("MAST q = {q}"),
            Some(t) => format!("{} at q = {q}", PruneConfig::compare_method(t)),
        },
        |&(q, t)| {
            let (name, folder, spec) = match t {
                None => (
                    "mast".to_string(),
                    format!("mast-q{q}"),
                    cfg.sketch.spec(q)?,
                ),
                Some(t) => {
                    let spec = PruneConfig::compare_spec(t, q)?;
                    let slug: String = t
                        .replace("{q}", "")
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                        .collect();
                    (
                        PruneConfig::compare_method(t),
                        format!("{}-q{q}", slug.trim_matches('-')),
                        spec,
                    )
                }
            };
            let dir = out.join("runs").join(folder);
            let mut tc = cfg.data.train_config(dir, cfg.seed, cfg.steps);
            tc.data.n_features = Some(d);
            tc.algorithm.step_multiplier = cfg.step_multiplier;
            tc.algorithm.eval_every = cfg.eval_every;
            // An unbounded sketch (L_S^max = ∞) has no theory step: 1/(L_f L_D).
            if let Ok(sketch) = spec.build(d) {
                if !sketch.l_s_max().is_finite() {
                    tc.algorithm.step_size = mast::run::config::StepSetting::Value(
                        cfg.step_multiplier / (l_f * sketch.l_d()),
                    );
                }
            }
            tc.sketch = spec;
            let report = common::run_config(&tc)?;
            let best = report.outcome.best.clone().ok_or_else(|| {
                ExpError::setting(
                    "steps",
                    format!("the {name} run at q = {q} produced no best iterate (diverged?)"),
                )
            })?;
            Ok((q, name, best))
        },
    )?;
    for (q, name, best) in &trained {
        models.push(ModelRow {
            method: name.clone(),
            q: Some(*q),
            test_accuracy: test.accuracy(&best.x),
            val_accuracy: best.val_accuracy,
            train_loss: f.loss(&best.x[..train.n_features()]),
            step: Some(best.step),
        });
    }

    // Prune: the same R masks for both models at each q.
    progress.phase("prune: masks", cfg.q.len() as u64);
    let per_q: Vec<Vec<PruneRow>> = cfg
        .q
        .par_iter()
        .map(|&q| {
            let mut models: Vec<(&str, &Vec<f64>)> = vec![("erm", &erm_x)];
            models.extend(
                trained
                    .iter()
                    .filter(|(tq, _, _)| *tq == q)
                    .map(|(_, name, best)| (name.as_str(), &best.x)),
            );
            let rows = prune_models(&models, q, cfg, d, &test);
            progress.done(&format!("masks at q = {q}"));
            rows
        })
        .collect::<Result<_>>()?;
    let rows: Vec<PruneRow> = per_q.into_iter().flatten().collect();
    let erm_acc = models[0].test_accuracy;
    let config_path = out.join("config.toml").display().to_string();
    let out_path = out.display().to_string();
    let commands = vec![common::command_line(&[
        "experiment",
        "prune",
        "--config",
        &config_path,
        "--out",
        &out_path,
    ])];
    let report = write_prune_report(
        out,
        &format!("{}: pruning robustness", cfg.name),
        &rows,
        &models,
        Some((erm_acc, "unpruned ERM")),
        &describe(cfg, lambda, d),
        &commands,
    )?;
    Ok(PruneOutcome {
        rows,
        models,
        summary: report.0,
        files: report.1,
    })
}

fn describe(cfg: &PruneConfig, lambda: f64, d: usize) -> String {
    format!(
        "Logistic regression (λ = {lambda:.4e}, d = {d}) on {}. For each sparsity level q, the \
         exact ERM optimum and a MAST model (Algorithm 1 (I), {} sketch, {} steps at {} × the \
         theory step, best validation iterate) are pruned by the same {} random masks keeping a \
         fraction q of the weights ({}). Boxes show the test accuracy of the pruned models.",
        cfg.data.train.display(),
        cfg.sketch.label(),
        cfg.steps,
        cfg.step_multiplier,
        cfg.masks,
        if cfg.rescale {
            "kept weights rescaled by the sketch's scale"
        } else {
            "plain masks, no rescaling"
        }
    )
}

/// Applies the R masks of level `q` to each model. The masks depend only on the
/// seed and q (not on the other levels of the grid).
fn prune_models(
    models: &[(&str, &Vec<f64>)],
    q: f64,
    cfg: &PruneConfig,
    d: usize,
    test: &Dataset,
) -> Result<Vec<PruneRow>> {
    let sketch = cfg.sketch.spec(q)?.build(d)?;
    let mut rng = stream(cfg.seed ^ q.to_bits().rotate_left(17), Stream::Prune);
    let mut draw = SketchDraw::new();
    let mut pruned = vec![0.0; d];
    let mut rows = Vec::with_capacity(cfg.masks * models.len());
    for mask in 0..cfg.masks {
        sketch.draw(&mut rng, &mut draw);
        for (name, x) in models {
            pruned.fill(0.0);
            for (j, c) in draw.iter() {
                pruned[j] = if cfg.rescale { c * x[j] } else { x[j] };
            }
            rows.push(PruneRow {
                q,
                method: name.to_string(),
                mask,
                kept: draw.len(),
                test_accuracy: test.accuracy(&pruned),
            });
        }
    }
    Ok(rows)
}

/// The pruning figures, for any methods: [`mast_report::prune_figures`]
/// (they live in the report crate, so the neural-network experiments draw
/// them without depending on this crate).
pub use mast_report::prune_figures;

impl mast_report::PrunedModel for PruneRow {
    fn q(&self) -> f64 {
        self.q
    }
    fn method(&self) -> &str {
        &self.method
    }
    fn test_accuracy(&self) -> f64 {
        self.test_accuracy
    }
}

/// Writes `prune.csv`, `models.csv`, `prune_summary.csv` (and `.md`), the box
/// plot and the median-vs-q figure, and `index.html` into `out`. Any methods
/// (in the order they first appear in `rows`); reusable by other experiments
/// (e.g. neural networks). Returns the summary and the files written.
#[allow(clippy::type_complexity)]
pub fn write_prune_report(
    out: &Path,
    title: &str,
    rows: &[PruneRow],
    models: &[ModelRow],
    reference: Option<(f64, &str)>,
    description: &str,
    commands: &[String],
) -> Result<(Vec<(f64, String, Quartiles)>, Vec<PathBuf>)> {
    if rows.is_empty() {
        return Err(ExpError::setting("masks", "no pruned models to report"));
    }
    let mut files = Vec::new();
    let mut qs: Vec<f64> = rows.iter().map(|r| r.q).collect();
    qs.sort_by(f64::total_cmp);
    qs.dedup();
    let mut methods: Vec<String> = Vec::new();
    for r in rows {
        if !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
    }
    let samples = |q: f64, m: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.q == q && r.method == m)
            .map(|r| r.test_accuracy)
            .collect()
    };

    let path = out.join("prune.csv");
    write_csv(
        &path,
        &["q", "method", "mask", "kept", "test_accuracy"],
        &rows
            .iter()
            .map(|r| {
                vec![
                    format!("{}", r.q),
                    r.method.clone(),
                    r.mask.to_string(),
                    r.kept.to_string(),
                    format!("{:?}", r.test_accuracy),
                ]
            })
            .collect::<Vec<_>>(),
    )?;
    files.push(path);
    let path = out.join("models.csv");
    write_csv(
        &path,
        &[
            "method",
            "q",
            "test_accuracy",
            "val_accuracy",
            "train_loss",
            "best_step",
        ],
        &models
            .iter()
            .map(|m| {
                vec![
                    m.method.clone(),
                    m.q.map_or(String::new(), |q| q.to_string()),
                    format!("{:?}", m.test_accuracy),
                    cell(m.val_accuracy),
                    format!("{:?}", m.train_loss),
                    m.step.map_or(String::new(), |s| s.to_string()),
                ]
            })
            .collect::<Vec<_>>(),
    )?;
    files.push(path);

    let mut summary = Vec::new();
    let mut table = Vec::new();
    for &q in &qs {
        for m in &methods {
            let s = samples(q, m);
            if s.is_empty() {
                continue;
            }
            let quart = Quartiles::from_samples(&s)?;
            let unpruned = models
                .iter()
                .find(|r| r.method == *m && (r.q == Some(q) || r.q.is_none()))
                .map(|r| r.test_accuracy);
            table.push(vec![
                format!("{q}"),
                m.clone(),
                quart.n.to_string(),
                format!("{:.4}", quart.min),
                format!("{:.4}", quart.q1),
                format!("{:.4}", quart.median),
                format!("{:.4}", quart.q3),
                format!("{:.4}", quart.max),
                unpruned.map_or(String::new(), |a| format!("{a:.4}")),
            ]);
            summary.push((q, m.clone(), quart));
        }
    }
    let header = [
        "q", "method", "masks", "min", "q1", "median", "q3", "max", "unpruned",
    ];
    let path = out.join("prune_summary.csv");
    write_csv(&path, &header, &table)?;
    files.push(path);
    let md = mast_report::markdown_table(&header, &table);
    let path = out.join("prune_summary.md");
    mast::run::io::write_atomic(&path, md.as_bytes())?;
    files.push(path);

    let figures = out.join("figures");
    std::fs::create_dir_all(&figures).map_err(|e| ExpError::file(&figures, e))?;
    let (boxes, medians) = prune_figures(title, rows, reference)?;
    let mut html = HtmlReport::new(title)
        .paragraph(description)
        .section("Pruned test accuracy")
        .saved_figure(&boxes, &figures, "prune_boxplot", "Test accuracy of pruned models per sparsity level: boxes are quartiles, whiskers 1.5 IQR.")?
        .saved_figure(&medians, &figures, "prune_medians", "Median with the interquartile band.")?
        .section("Summary")
        .table(header, table)
        .section("Unpruned models")
        .table(
            ["method", "q", "test accuracy", "validation accuracy", "training loss", "best step"],
            models
                .iter()
                .map(|m| {
                    vec![
                        m.method.clone(),
                        m.q.map_or("-".into(), |q| q.to_string()),
                        format!("{:.4}", m.test_accuracy),
                        m.val_accuracy.map_or("-".into(), |a| format!("{a:.4}")),
                        format!("{:.6}", m.train_loss),
                        m.step.map_or("-".into(), |s| s.to_string()),
                    ]
                })
                .collect(),
        )
        .section("Reproduce");
    for c in commands {
        html = html.code(c.clone());
    }
    html = html.paragraph("Files: prune.csv (every pruned model), prune_summary.csv, models.csv, figures/*.png|svg, runs/ (one run folder per trained model).");
    for stem in ["prune_boxplot", "prune_medians"] {
        files.push(figures.join(format!("{stem}.png")));
        files.push(figures.join(format!("{stem}.svg")));
    }
    let path = out.join("index.html");
    html.write(&path)?;
    files.push(path);
    Ok((summary, files))
}
