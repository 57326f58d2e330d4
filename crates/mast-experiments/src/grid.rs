//! Step size × sparsity grids: for Algorithm 1 (Rand-K, Bernoulli) and
//! Algorithm 2 (Perm-K over M nodes, Bernoulli on each node), one run per
//! (sparsity, γ) cell at a constant step γ; the final loss of each cell drawn
//! as a heatmap with the theory step and the largest stable step per sparsity
//! level on it.
//!
//! **Diverged cells.** A cell is `diverged` when its run stopped on a blow-up
//! (the trainer's rule: a non-finite loss, or `f(x) > f(x₀) + 10⁴(|f(x₀)| + 1)`),
//! or when it ended with a non-finite final loss or one above the starting loss
//! `f(x₀)`: it made no progress on the original loss. Otherwise it is
//! `converged`.
//!
//! **Largest stable γ** of a sparsity level: scanning γ upwards, the last γ
//! before the first diverged cell (none when the smallest γ already diverges).
//!
//! Output folder: `config.toml`, `grid.csv` (one row per cell, full precision),
//! `grid_stable.csv` (the per-panel tables), `figures/<panel>.png|svg`,
//! `index.html`, and each cell's run folder under `runs/`.

use std::path::{Path, PathBuf};

use mast::run::config::StepSetting;
use mast::run::{RunStatus, TrainConfig};
use mast::sketch::SketchSpec;
use mast_report::format_sci;

use crate::common::{self, cell, DataSettings, ExpError, Progress, Result};
use crate::curves::{absolute_data, load_toml, slug, write_toml};

mod report;

/// One heatmap: a method, a sketch family, its sparsity levels.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridPanel {
    /// Heading and figure name.
    pub label: String,
    /// `dsgd` (Algorithm 1) or `distributed` (Algorithm 2).
    #[serde(default = "default_method")]
    pub method: String,
    /// A registered sketch (see `mast::sketch::registry`): `rand-k` (q = K/d),
    /// `bernoulli` (keep probability q), any other sketch given by a kept
    /// fraction, or, for `distributed`, `perm-k` (sparsity = the node count M).
    pub sketch_kind: String,
    /// The sparsity levels: q for rand-k and bernoulli, M for perm-k.
    pub sparsities: Vec<f64>,
}

fn default_method() -> String {
    "dsgd".into()
}
fn default_seed() -> u64 {
    1
}
fn default_loss() -> String {
    "logistic".into()
}
fn default_nodes() -> usize {
    4
}

/// The default γ grid: 10⁻² … 10³, two values per decade.
pub fn default_gammas() -> Vec<f64> {
    (0..=10)
        .map(|k| 10f64.powf(-2.0 + 0.5 * k as f64))
        .collect()
}

/// A step size × sparsity experiment (TOML; see `examples/grid-a5a.toml`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Experiment name (report title).
    pub name: String,
    /// The data.
    pub data: DataSettings,
    /// Seed of every cell.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Steps of every cell.
    pub steps: u64,
    /// Evaluate every this many steps (default: steps/20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    /// The loss (`logistic`).
    #[serde(default = "default_loss")]
    pub loss: String,
    /// The step sizes (any order; drawn ascending).
    #[serde(default = "default_gammas")]
    pub gammas: Vec<f64>,
    /// Nodes M of Algorithm 2 with Bernoulli sketches.
    #[serde(default = "default_nodes")]
    pub nodes: usize,
    /// The heatmaps.
    pub panels: Vec<GridPanel>,
}

impl GridConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let mut cfg: GridConfig = load_toml(path)?;
        cfg.data.rebase(path.parent().unwrap_or(Path::new("")));
        cfg.check()?;
        Ok(cfg)
    }

    /// The evaluation interval.
    pub fn eval_every(&self) -> u64 {
        self.eval_every.unwrap_or((self.steps / 20).max(1))
    }

    /// The step sizes, ascending.
    pub fn sorted_gammas(&self) -> Vec<f64> {
        let mut g = self.gammas.clone();
        g.sort_by(f64::total_cmp);
        g
    }

    /// Checks every setting (without loading data); errors name the setting.
    pub fn check(&self) -> Result<()> {
        if self.panels.is_empty() {
            return Err(ExpError::setting("panels", "give at least one panel"));
        }
        if self.steps == 0 {
            return Err(ExpError::setting("steps", "must be at least 1"));
        }
        if self.eval_every == Some(0) {
            return Err(ExpError::setting("eval_every", "must be at least 1"));
        }
        if self.nodes == 0 {
            return Err(ExpError::setting("nodes", "must be at least 1"));
        }
        let g = self.sorted_gammas();
        if g.is_empty() {
            return Err(ExpError::setting("gammas", "give at least one step size"));
        }
        if let Some(bad) = g.iter().find(|g| !(g.is_finite() && **g > 0.0)) {
            return Err(ExpError::setting(
                "gammas",
                format!("{bad} is not a positive number"),
            ));
        }
        if g.windows(2).any(|w| w[0] == w[1]) {
            return Err(ExpError::setting("gammas", "step sizes must differ"));
        }
        let mut slugs = Vec::new();
        for (p, panel) in self.panels.iter().enumerate() {
            let name = |f: &str| format!("panels[{p}].{f}");
            let s = slug(&panel.label);
            if panel.label.trim().is_empty() || slugs.contains(&s) {
                return Err(ExpError::setting(
                    &name("label"),
                    "labels must be non-empty and differ",
                ));
            }
            slugs.push(s);
            if panel.sparsities.is_empty() {
                return Err(ExpError::setting(
                    &name("sparsities"),
                    "give at least one level",
                ));
            }
            for (k, &q) in panel.sparsities.iter().enumerate() {
                if panel.sparsities[..k].contains(&q) {
                    return Err(ExpError::setting(
                        &name("sparsities"),
                        format!("{q} appears twice"),
                    ));
                }
                self.sketch(p, q)?;
            }
            let tc = self.cell_config(p, panel.sparsities[0], g[0], Path::new("."))?;
            tc.check().map_err(|e| {
                ExpError::setting(&format!("panels[{p}] ({})", panel.label), e.to_string())
            })?;
        }
        Ok(())
    }

    /// The sketch and node count of panel `p` at sparsity `q`.
    fn sketch(&self, p: usize, q: f64) -> Result<(SketchSpec, usize)> {
        let panel = &self.panels[p];
        let name = |f: &str| format!("panels[{p}].{f}");
        let fraction = || {
            if q > 0.0 && q <= 1.0 {
                Ok(q)
            } else {
                Err(ExpError::setting(
                    &name("sparsities"),
                    format!("{q} is not a fraction in (0, 1]"),
                ))
            }
        };
        let (method, kind) = (panel.method.as_str(), panel.sketch_kind.as_str());
        if !matches!(method, "dsgd" | "distributed") {
            return Err(ExpError::setting(
                &name("method"),
                format!("unknown method `{method}`: use dsgd or distributed"),
            ));
        }
        // Any registered sketch: one drawn jointly over M nodes (perm-k) takes
        // the node count as its sparsity, the others a kept fraction.
        let joint = |m: usize| {
            format!("{kind}:{m}")
                .parse::<SketchSpec>()
                .ok()
                .filter(|s| s.nodes().is_some())
        };
        if joint(1).is_some() {
            if method != "distributed" {
                return Err(ExpError::setting(
                    &name("sketch_kind"),
                    format!("`{kind}` is drawn jointly over the nodes: use it with distributed, not {method}"),
                ));
            }
            return match (q >= 1.0 && q.fract() == 0.0 && q <= 1e6)
                .then(|| joint(q as usize))
                .flatten()
            {
                Some(spec) => Ok((spec, q as usize)),
                None => Err(ExpError::setting(
                    &name("sparsities"),
                    format!("{kind} takes node counts M, not {q}"),
                )),
            };
        }
        let q = fraction()?;
        let spec = SketchSpec::with_fraction(kind, q).map_err(|e| {
            let kinds: Vec<&str> = mast::sketch::registry::registered().iter().map(|e| e.name).collect();
            ExpError::setting(
                &name("sketch_kind"),
                format!("`{kind}` is not available with {method} ({e}): use a registered sketch that takes a kept fraction ({})", kinds.join(", ")),
            )
        })?;
        // (Algorithm 1 ignores the node count; Rand-K cells have always recorded 1.)
        let nodes = if method == "dsgd" && spec.kind() == "rand-k" {
            1
        } else {
            self.nodes
        };
        Ok((spec, nodes))
    }

    /// The training configuration of one cell (panel `p`, sparsity `q`, step
    /// `gamma`), writing to `out/runs/<panel>/<q>-g<γ>` (full precision).
    pub fn cell_config(&self, p: usize, q: f64, gamma: f64, out: &Path) -> Result<TrainConfig> {
        let (sketch, nodes) = self.sketch(p, q)?;
        let dir = out
            .join("runs")
            .join(slug(&self.panels[p].label))
            .join(format!("{q}-g{gamma:e}"));
        let mut tc = self.data.train_config(dir, self.seed, self.steps);
        tc.sketch = sketch;
        tc.objective.loss = self.loss.clone();
        tc.algorithm.method = self.panels[p].method.clone();
        tc.algorithm.step_size = StepSetting::Value(gamma);
        tc.algorithm.eval_every = self.eval_every();
        tc.distributed.nodes = nodes;
        tc.output.fd_samples = 20;
        Ok(tc)
    }
}

/// How a cell ended (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStatus {
    /// Finished with a final loss at most f(x₀).
    Converged,
    /// Blew up, or ended above f(x₀).
    Diverged,
}

impl CellStatus {
    /// `converged` or `diverged`.
    pub fn as_str(self) -> &'static str {
        match self {
            CellStatus::Converged => "converged",
            CellStatus::Diverged => "diverged",
        }
    }
}

/// One cell of a grid: a row of `grid.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct GridCell {
    /// Panel label.
    pub panel: String,
    /// `dsgd` or `distributed`.
    pub method: String,
    /// The sketch (spec string).
    pub sketch: String,
    /// The sparsity level (q, or M for perm-k).
    pub sparsity: f64,
    /// The step size.
    pub gamma: f64,
    /// How it ended.
    pub status: CellStatus,
    /// f(x_T), or the last loss seen before a blow-up.
    pub final_loss: f64,
    /// Final test accuracy.
    pub final_test_accuracy: Option<f64>,
    /// The theory step of this cell: 1/(L_f L_S^max) for Algorithm 1,
    /// 1/max_i(L_{f_i} L_{S_i}^max) for Algorithm 2.
    pub theory_gamma: f64,
}

/// One sparsity level of a panel's table.
#[derive(Debug, Clone, PartialEq)]
pub struct StableRow {
    /// The sparsity level.
    pub sparsity: f64,
    /// The theory step.
    pub theory_gamma: f64,
    /// The largest stable γ of the grid (see the module docs).
    pub largest_stable_gamma: Option<f64>,
    /// Largest stable γ / theory γ.
    pub ratio: Option<f64>,
    /// The γ with the lowest final loss among converged cells, and that loss.
    pub best: Option<(f64, f64)>,
}

/// One panel's table.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelTable {
    /// Panel label.
    pub label: String,
    /// One row per sparsity level.
    pub rows: Vec<StableRow>,
}

impl PanelTable {
    /// Column names of [`PanelTable::cells`].
    pub const HEADER: [&'static str; 6] = [
        "sparsity",
        "theory γ",
        "largest stable γ",
        "ratio",
        "best γ",
        "best final loss",
    ];

    /// The rows as text cells.
    pub fn cells(&self) -> Vec<Vec<String>> {
        let sci = |v: Option<f64>| v.map_or("–".into(), format_sci);
        self.rows
            .iter()
            .map(|r| {
                vec![
                    format!("{}", r.sparsity),
                    format_sci(r.theory_gamma),
                    sci(r.largest_stable_gamma),
                    r.ratio.map_or("–".into(), |v| format!("{v:.3}")),
                    sci(r.best.map(|b| b.0)),
                    r.best.map_or("–".into(), |b| format!("{:.6}", b.1)),
                ]
            })
            .collect()
    }
}

/// What [`run_grid`] wrote.
#[derive(Debug, Clone)]
pub struct GridOutcome {
    /// The output folder.
    pub dir: PathBuf,
    /// `config.toml`.
    pub config: PathBuf,
    /// `grid.csv`.
    pub grid_csv: PathBuf,
    /// `grid_stable.csv`.
    pub stable_csv: PathBuf,
    /// The heatmap PNGs (each with an SVG beside it).
    pub figures: Vec<PathBuf>,
    /// `index.html`.
    pub index: PathBuf,
    /// Every cell, by panel, sparsity, then ascending γ.
    pub cells: Vec<GridCell>,
    /// One table per panel.
    pub tables: Vec<PanelTable>,
}

/// Runs every cell (in parallel) and writes the CSVs, heatmaps and report
/// into `out` (see the module docs).
pub fn run_grid(cfg: &GridConfig, out: &Path, progress: &dyn Progress) -> Result<GridOutcome> {
    cfg.check()?;
    std::fs::create_dir_all(out).map_err(|e| ExpError::file(out, e))?;
    let config = out.join("config.toml");
    let cfg = &GridConfig {
        data: absolute_data(&cfg.data),
        ..cfg.clone()
    };
    write_toml(&config, cfg)?;
    let gammas = cfg.sorted_gammas();
    let mut jobs = Vec::new();
    for (p, panel) in cfg.panels.iter().enumerate() {
        for &q in &panel.sparsities {
            for &g in &gammas {
                jobs.push((p, q, g, cfg.cell_config(p, q, g, out)?));
            }
        }
    }
    progress.phase("grid", jobs.len() as u64);
    let cells = common::parallel(
        &jobs,
        progress,
        |j| {
            j.3.output
                .dir
                .strip_prefix(out)
                .unwrap_or(&j.3.output.dir)
                .display()
                .to_string()
        },
        |(p, q, g, tc)| {
            let r = common::run_config(tc)?;
            let s = &r.summary;
            let f0 = r.outcome.rows.first().map_or(f64::NAN, |r| r.loss);
            let loss = s.last.loss;
            let bad = s.status != RunStatus::Completed || !loss.is_finite() || loss > f0;
            Ok(GridCell {
                panel: cfg.panels[*p].label.clone(),
                method: cfg.panels[*p].method.clone(),
                sketch: tc.sketch.to_string(),
                sparsity: *q,
                gamma: *g,
                status: if bad {
                    CellStatus::Diverged
                } else {
                    CellStatus::Converged
                },
                final_loss: loss,
                final_test_accuracy: s.last.test_accuracy,
                theory_gamma: match &s.distributed {
                    Some(d) => d.gamma_strongly_convex,
                    None => s.theory.theory_gamma,
                },
            })
        },
    )?;
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|c| {
            vec![
                c.panel.clone(),
                c.method.clone(),
                c.sketch.clone(),
                cell(Some(c.sparsity)),
                cell(Some(c.gamma)),
                c.status.as_str().into(),
                cell(Some(c.final_loss)),
                cell(c.final_test_accuracy),
                cell(Some(c.theory_gamma)),
            ]
        })
        .collect();
    let grid_csv = out.join("grid.csv");
    common::write_csv(
        &grid_csv,
        &[
            "panel",
            "method",
            "sketch",
            "sparsity",
            "gamma",
            "status",
            "final_loss",
            "final_test_accuracy",
            "theory_gamma",
        ],
        &rows,
    )?;

    let tables: Vec<PanelTable> = cfg.panels.iter().map(|p| panel_table(p, &cells)).collect();
    let mut rows = Vec::new();
    for t in &tables {
        for r in &t.rows {
            rows.push(vec![
                t.label.clone(),
                cell(Some(r.sparsity)),
                cell(Some(r.theory_gamma)),
                cell(r.largest_stable_gamma),
                cell(r.ratio),
                cell(r.best.map(|b| b.0)),
                cell(r.best.map(|b| b.1)),
            ]);
        }
    }
    let stable_csv = out.join("grid_stable.csv");
    common::write_csv(
        &stable_csv,
        &[
            "panel",
            "sparsity",
            "theory_gamma",
            "largest_stable_gamma",
            "ratio",
            "best_gamma",
            "best_final_loss",
        ],
        &rows,
    )?;

    let (figures, index) = report::write_report(cfg, &cells, &tables, &gammas, out, &config)?;
    Ok(GridOutcome {
        dir: out.to_path_buf(),
        config,
        grid_csv,
        stable_csv,
        figures,
        index,
        cells,
        tables,
    })
}

/// The cells of one sparsity level, ascending γ.
fn column<'a>(
    panel: &'a GridPanel,
    q: f64,
    cells: &'a [GridCell],
) -> impl Iterator<Item = &'a GridCell> {
    cells
        .iter()
        .filter(move |c| c.panel == panel.label && c.sparsity == q)
}

fn panel_table(panel: &GridPanel, cells: &[GridCell]) -> PanelTable {
    let rows = panel
        .sparsities
        .iter()
        .map(|&q| {
            let col: Vec<&GridCell> = column(panel, q, cells).collect();
            let theory_gamma = col.first().map_or(f64::NAN, |c| c.theory_gamma);
            let largest = col
                .iter()
                .take_while(|c| c.status == CellStatus::Converged)
                .last()
                .map(|c| c.gamma);
            let best = col
                .iter()
                .filter(|c| c.status == CellStatus::Converged)
                .min_by(|a, b| a.final_loss.total_cmp(&b.final_loss))
                .map(|c| (c.gamma, c.final_loss));
            StableRow {
                sparsity: q,
                theory_gamma,
                largest_stable_gamma: largest,
                ratio: largest.map(|g| g / theory_gamma),
                best,
            }
        })
        .collect();
    PanelTable {
        label: panel.label.clone(),
        rows,
    }
}
