//! The figures and the report of a curves experiment.

use std::path::{Path, PathBuf};

use mast::run::config::StepSetting;
use mast_report::{BandCurves, Figure, HtmlReport};

use super::{BandKind, CurveMethod, CurvesConfig, FinalRow, MethodRuns, Stat, QUANTITIES};
use crate::common::{self, ExpError, Result};

/// Draws the figures into `out/figures` and writes `out/index.html`; returns
/// the PNG paths and the index path.
pub(super) fn write_report(
    cfg: &CurvesConfig,
    methods: &[MethodRuns],
    table: &[FinalRow],
    out: &Path,
    config: &Path,
) -> Result<(Vec<PathBuf>, PathBuf)> {
    let s0 = &methods[0].summaries[0];
    let report = HtmlReport::new(format!("{}: training curves over {} seeds", cfg.name, cfg.seeds.len()))
        .paragraph(format!(
            "{} methods × {} seeds ({:?}), {} steps, evaluated every {} steps. Data: {} ({} train / {} \
             validation / {} test, d = {}, λ = {:.4e} for seed {}; the validation split depends on the \
             seed). Lines are means over seeds; shaded: {}.",
            cfg.methods.len(), cfg.seeds.len(), cfg.seeds, cfg.steps, cfg.eval_every(),
            cfg.data.train.file_name().unwrap_or_default().to_string_lossy(), s0.n_train, s0.n_val, s0.n_test, s0.dim, s0.lambda, s0.seed,
            band_name(cfg.band),
        ))
        .section("Final values")
        .paragraph(format!(
            "Mean ± sample standard deviation over the {} seeds (curves_final.csv). The best \
             iterate is the one with the highest validation accuracy, as in the paper.",
            cfg.seeds.len()
        ))
        .table(FinalRow::HEADER, table.iter().map(FinalRow::cells).collect());
    let (figures, report) = draw(cfg, methods, out, report)?;
    let report = report
        .section("Methods")
        .table(
            ["method", "algorithm", "sketch", "variant", "step size"],
            cfg.methods.iter().map(describe).collect(),
        )
        .section("Reproduce")
        .paragraph(
            "Every run is deterministic for its seed: the same config reproduces curves.csv and \
             curves_summary.csv byte for byte. config.toml in this folder is the experiment's \
             config; each training's own run folder is under runs/.",
        )
        .code(common::command_line(&[
            "experiment",
            "curves",
            "--config",
            &config.display().to_string(),
        ]));
    let index = out.join("index.html");
    report.write(&index)?;
    Ok((figures, index))
}

/// The methods table of the report.
fn describe(m: &CurveMethod) -> Vec<String> {
    let alg = match m.method.as_str() {
        "dsgd" => "Algorithm 1 (double sketched (S)GD)".to_string(),
        "gd" => "(S)GD on f".to_string(),
        "distributed" => format!(
            "Algorithm 2, {} nodes",
            m.nodes.or(m.sketch.nodes()).unwrap_or(4)
        ),
        other => format!("{other} (Algorithm 3)"),
    };
    let variant = match m.variant.as_str() {
        "minibatch" => format!("(II) minibatch {}", m.batch),
        _ => "(I) full data".into(),
    };
    let step = match &m.step_size {
        StepSetting::Value(g) => format!("γ = {g}"),
        StepSetting::Rule(r) if m.step_multiplier == 1.0 => r.clone(),
        StepSetting::Rule(r) => format!("{} × {r}", m.step_multiplier),
    };
    vec![m.label.clone(), alg, m.sketch.to_string(), variant, step]
}

/// Indices where every drawn series has a value; the series restricted to them.
fn aligned(series: Vec<(String, Vec<Option<Stat>>)>) -> (Vec<usize>, Vec<(String, Vec<Stat>)>) {
    let series: Vec<_> = series
        .into_iter()
        .filter(|s| s.1.iter().any(Option::is_some))
        .collect();
    let n = series.iter().map(|s| s.1.len()).min().unwrap_or(0);
    let keep: Vec<usize> = (0..n)
        .filter(|&k| series.iter().all(|s| s.1[k].is_some()))
        .collect();
    let series = series
        .into_iter()
        .map(|(l, v)| (l, keep.iter().map(|&k| v[k].expect("kept")).collect()))
        .collect();
    (keep, series)
}

/// A band figure; log y when every line and band value is positive and `log`.
fn band_figure(
    title: &str,
    x_label: &str,
    y_label: &str,
    x: Vec<f64>,
    series: Vec<(String, Vec<Stat>)>,
    log: bool,
) -> BandCurves {
    let positive = series.iter().all(|s| s.1.iter().all(|v| v.mean > 0.0));
    let mut fig = BandCurves::new(title)
        .x_label(x_label)
        .y_label(if log && positive {
            format!("{y_label} (log scale)")
        } else {
            y_label.to_string()
        })
        .x_values(x)
        .log_y(log && positive);
    for (label, stats) in series {
        let (m, l, u) = (
            stats.iter().map(|s| s.mean),
            stats.iter().map(|s| s.lower),
            stats.iter().map(|s| s.upper),
        );
        fig = fig.series(label, m.collect(), l.collect(), u.collect());
    }
    fig
}

/// Linear interpolation of `(xs, ys)` at `x` (xs nondecreasing).
fn interpolate(xs: &[f64], ys: &[Option<f64>], x: f64) -> Option<f64> {
    let j = xs.iter().position(|&v| v >= x)?;
    if xs[j] == x || j == 0 {
        return ys[j];
    }
    let (x0, x1, y0, y1) = (xs[j - 1], xs[j], ys[j - 1]?, ys[j]?);
    Some(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
}

/// A figure: file stem, quantity, title, y label, log y, first evaluation
/// drawn, and whether f* (the seed's ERM optimum) is subtracted.
type Spec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    usize,
    bool,
);

/// Against iterations. Accuracy figures start at the first evaluation after
/// step 0 (at x₀ = 0 every prediction is the same), so their y axes zoom in.
const STEP_FIGURES: [Spec; 6] = [
    (
        "loss",
        "loss",
        "training loss f(x_t)",
        "f(x)",
        true,
        0,
        false,
    ),
    (
        "suboptimality",
        "loss",
        "suboptimality f(x_t) − f*",
        "f(x) − f*",
        true,
        0,
        true,
    ),
    (
        "fd_estimate",
        "sketched_loss",
        "f_D estimate: sketched loss f_S(x_t) of the steps",
        "f_S(x)",
        true,
        0,
        false,
    ),
    (
        "grad_norm",
        "grad_norm",
        "gradient norm ‖∇f(x_t)‖",
        "‖∇f(x)‖",
        true,
        0,
        false,
    ),
    (
        "val_accuracy",
        "val_accuracy",
        "validation accuracy",
        "accuracy",
        false,
        1,
        false,
    ),
    (
        "test_accuracy",
        "test_accuracy",
        "test accuracy",
        "accuracy",
        false,
        1,
        false,
    ),
];

/// Against coordinates touched.
const COORD_FIGURES: [Spec; 2] = [
    (
        "loss_vs_coords",
        "loss",
        "training loss f(x) vs coordinates touched",
        "f(x)",
        true,
        0,
        false,
    ),
    (
        "test_accuracy_vs_coords",
        "test_accuracy",
        "test accuracy vs coordinates touched",
        "accuracy",
        false,
        1,
        false,
    ),
];

/// Seed s's value of quantity `q` at evaluation k, less f* when `sub`.
fn value(m: &MethodRuns, q: usize, k: usize, s: usize, sub: bool) -> Option<f64> {
    let v = m.values[q][k][s]?;
    Some(if sub {
        v - m.summaries[s].theory.f_star
    } else {
        v
    })
}

fn q_index(name: &str) -> usize {
    QUANTITIES
        .iter()
        .position(|q| q.0 == name)
        .expect("known quantity")
}

/// Draws the figures into `out/figures` and adds them to the report.
fn draw(
    cfg: &CurvesConfig,
    methods: &[MethodRuns],
    out: &Path,
    mut report: HtmlReport,
) -> Result<(Vec<PathBuf>, HtmlReport)> {
    let dir = out.join("figures");
    let drawn: Vec<&MethodRuns> = methods
        .iter()
        .filter(|m| m.complete && !m.steps.is_empty())
        .collect();
    let band = band_name(cfg.band);
    let left_out: Vec<&str> = methods
        .iter()
        .filter(|m| !m.complete)
        .map(|m| m.label.as_str())
        .collect();
    if !left_out.is_empty() {
        report = report.paragraph(format!(
            "Not drawn (a seed diverged; see the CSVs and the table): {}.",
            left_out.join(", ")
        ));
    }
    let mut figures = Vec::new();
    if drawn.is_empty() {
        let report = report.paragraph("No method completed on every seed: no figures.");
        return Ok((figures, report));
    }
    let stat = |m: &MethodRuns, q: usize, k: usize, sub: bool| {
        let v: Option<Vec<f64>> = (0..m.summaries.len())
            .map(|s| value(m, q, k, s, sub))
            .collect();
        v.filter(|v| v.iter().all(|x| x.is_finite()))
            .map(|v| Stat::of(&v, cfg.band))
    };
    report = report.section("Against iterations");
    for (stem, q, title, y_label, log, from, sub) in STEP_FIGURES {
        let q = q_index(q);
        let series = drawn
            .iter()
            .map(|m| {
                (
                    m.label.clone(),
                    (from..m.steps.len()).map(|k| stat(m, q, k, sub)).collect(),
                )
            })
            .collect();
        let (keep, series) = aligned(series);
        if keep.len() < 2 {
            continue;
        }
        let x = keep
            .iter()
            .map(|&k| drawn[0].steps[k + from] as f64)
            .collect();
        let caption = match stem {
            "fd_estimate" => format!(
                "The sketched loss f_S(x_t) that each step sees (one sketch draw per step, so an \
                 unbiased estimate of f_D(x_t)), averaged over the steps since the previous \
                 evaluation; for variant (II) on the step's minibatch; {band}."
            ),
            "suboptimality" => format!(
                "{title}, where f* is the ERM optimum of each seed's training split (solved to \
                 ‖∇f‖ ≤ 1e-10); {band}. Sketched methods level off at their own optimum x_D*, \
                 not at x*."
            ),
            _ => format!("{title} against iterations; {band}."),
        };
        let fig = band_figure(title, "iteration", y_label, x, series, log);
        report = save(&fig, &dir, stem, caption, &mut figures, report)?;
    }

    // Against coordinates touched: a common x grid (see the module docs).
    report = report.section("Against coordinates touched");
    let coords: Vec<Vec<f64>> = drawn.iter().map(|m| m.coords()).collect();
    let budget = |c: &Vec<f64>| c.last().copied().unwrap_or(0.0);
    let r = (0..drawn.len())
        .min_by(|&a, &b| budget(&coords[a]).total_cmp(&budget(&coords[b])))
        .unwrap_or(0);
    let mut grid: Vec<f64> = Vec::new();
    for &c in &coords[r] {
        if c.is_finite() && grid.last().is_none_or(|&l| c > l) {
            grid.push(c);
        }
    }
    for (stem, q, title, y_label, log, from, sub) in COORD_FIGURES {
        let q = q_index(q);
        let at = |m: &MethodRuns, xs: &[f64], x: f64| {
            if xs.get(from).is_none_or(|&first| x < first) {
                return None; // before this method's first drawn evaluation
            }
            let v: Option<Vec<f64>> = (0..m.summaries.len())
                .map(|s| {
                    let ys: Vec<Option<f64>> =
                        (0..m.steps.len()).map(|k| value(m, q, k, s, sub)).collect();
                    interpolate(xs, &ys, x)
                })
                .collect();
            v.filter(|v| v.iter().all(|x| x.is_finite()))
                .map(|v| Stat::of(&v, cfg.band))
        };
        let series = drawn
            .iter()
            .zip(&coords)
            .map(|(m, xs)| {
                (
                    m.label.clone(),
                    grid[from.min(grid.len())..]
                        .iter()
                        .map(|&x| at(m, xs, x))
                        .collect(),
                )
            })
            .collect();
        let (keep, series) = aligned(series);
        if keep.len() < 2 {
            continue;
        }
        let x = keep.iter().map(|&k| grid[k + from]).collect();
        let caption = format!(
            "{title}; x is the mean over seeds of Σ|Ω_t| (kept coordinates summed over steps), cut at \
             the smallest budget among the methods ({}, {}) with every curve interpolated linearly \
             onto that method's evaluations; {band}.",
            drawn[r].label,
            mast_report::format_sci(budget(&coords[r]))
        );
        let fig = band_figure(title, "coordinates touched Σ|Ω_t|", y_label, x, series, log);
        report = save(&fig, &dir, stem, caption, &mut figures, report)?;
    }
    Ok((figures, report))
}

fn band_name(band: BandKind) -> &'static str {
    match band {
        BandKind::MinMax => "min–max band over seeds",
        BandKind::Std => "band: mean ± 1 std over seeds",
    }
}

/// Saves a figure (PNG + SVG) and adds it to the report.
fn save(
    fig: &BandCurves,
    dir: &Path,
    stem: &str,
    caption: String,
    figures: &mut Vec<PathBuf>,
    report: HtmlReport,
) -> Result<HtmlReport> {
    let paths = fig.save(dir, stem)?;
    let png = std::fs::read(&paths[0]).map_err(|e| ExpError::file(&paths[0], e))?;
    figures.push(paths[0].clone());
    Ok(report.figure_png(png, Some(format!("figures/{stem}.svg")), caption)?)
}
