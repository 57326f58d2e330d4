//! Figures and `index.html` of the `nn-prune` experiment, in the same format as
//! the linear-model experiments (`mast_report::prune_figures`): pruning box plots
//! and medians, training curves over seeds (mean and min–max band), tables, and
//! the command that reproduces the run.

use std::path::Path;

use mast_report::prune_figures;
use mast_report::{Band, BandCurves, HtmlReport};

use crate::config::NnPruneConfig;
use crate::error::Result;
use crate::experiment::ExperimentSummary;
use crate::report::{CurveRow, PruneRow};

/// Per method, one run (a series over epochs) per seed of `value`.
fn runs_by_method(
    curves: &[CurveRow],
    value: impl Fn(&CurveRow) -> f64,
) -> Vec<(String, Vec<f64>, Vec<Vec<f64>>)> {
    let mut out: Vec<(String, Vec<f64>, Vec<Vec<f64>>)> = Vec::new();
    for row in curves.iter().filter(|r| r.metrics.epoch > 0) {
        let i = match out.iter().position(|m| m.0 == row.method) {
            Some(i) => i,
            None => {
                out.push((row.method.clone(), Vec::new(), Vec::new()));
                out.len() - 1
            }
        };
        let entry = &mut out[i];
        let seed_runs = &mut entry.2;
        // A new seed starts when the epoch goes back to 1.
        if row.metrics.epoch == 1 {
            seed_runs.push(Vec::new());
        }
        if let Some(run) = seed_runs.last_mut() {
            run.push(value(row));
        }
        if seed_runs.len() == 1 {
            entry.1.push(row.metrics.epoch as f64);
        }
    }
    // Curves cut to the epochs every seed reached.
    for (_, x, runs) in &mut out {
        let n = runs.iter().map(Vec::len).min().unwrap_or(0);
        x.truncate(n);
        for r in runs.iter_mut() {
            r.truncate(n);
        }
    }
    out
}

fn curve_figure(
    title: &str,
    y_label: &str,
    curves: &[CurveRow],
    value: impl Fn(&CurveRow) -> f64,
) -> Option<BandCurves> {
    let series = runs_by_method(curves, value);
    let x = series.first()?.1.clone();
    if x.len() < 2 || series.iter().any(|s| s.1 != x) {
        return None;
    }
    let mut fig = BandCurves::new(title)
        .x_label("epoch")
        .y_label(y_label)
        .x_values(x);
    for (name, _, runs) in series {
        fig = fig.series_from_runs(name, runs, Band::MinMax);
    }
    Some(fig)
}

/// Writes `figures/*.png|svg` and `index.html` into the experiment folder.
pub fn write_index(
    dir: &Path,
    cfg: &NnPruneConfig,
    summary: &ExperimentSummary,
    curves: &[CurveRow],
    pruned: &[PruneRow],
) -> Result<()> {
    let figures = dir.join("figures");
    let rows: Vec<(f64, String, f64)> = pruned
        .iter()
        .map(|r| (r.result.q, r.method.clone(), r.result.test_accuracy))
        .collect();
    let erm = summary
        .methods
        .iter()
        .find(|m| m.method == "erm")
        .map(|m| m.accuracy.mean);
    let title = format!("{}: pruning robustness", summary.name);
    let mut html = HtmlReport::new(format!("{} — MAST on neural networks", summary.name))
        .paragraph(format!(
            "{} ({} train / {} test images), {} parameters, seeds {:?}, {} epochs, batch {}, \
             learning rate {}, momentum {}{}. Pruning keeps a random fraction q of {} \
             ({} masks per q and seed{}).",
            summary.dataset,
            summary.n_train,
            summary.n_test,
            summary.num_params,
            summary.seeds,
            cfg.train.epochs,
            cfg.train.batch,
            cfg.train.lr,
            cfg.train.momentum,
            if summary.shifted {
                ", fine-tuned from a pre-trained shift v"
            } else {
                ""
            },
            if summary.shifted {
                "the update x − v over all weights (dropped entries fall back to v)"
            } else {
                "all weights"
            },
            cfg.prune.masks,
            if cfg.prune.rescale {
                ", kept weights scaled by 1/q"
            } else {
                ", unscaled"
            },
        ));
    if !rows.is_empty() {
        let (boxes, medians) =
            prune_figures(&title, &rows, erm.map(|a| (a, "unpruned ERM (mean)")))?;
        html = html
            .section("Pruned test accuracy")
            .saved_figure(
                &boxes,
                &figures,
                "prune_boxplot",
                "Test accuracy of pruned models over seeds × masks.",
            )?
            .saved_figure(
                &medians,
                &figures,
                "prune_medians",
                "Median with the interquartile band.",
            )?
            .table(
                ["q", "method", "n", "median", "q1", "q3", "min", "max"],
                summary
                    .prune
                    .iter()
                    .map(|p| {
                        vec![
                            format!("{}", p.q),
                            p.method.clone(),
                            p.accuracy.n.to_string(),
                            format!("{:.4}", p.accuracy.median),
                            format!("{:.4}", p.accuracy.q1),
                            format!("{:.4}", p.accuracy.q3),
                            format!("{:.4}", p.accuracy.min),
                            format!("{:.4}", p.accuracy.max),
                        ]
                    })
                    .collect(),
            );
    }
    html = html.section("Training curves over seeds (mean, min–max band)");
    let figs = [
        ("curves_test_accuracy", "test accuracy", "accuracy", 0),
        ("curves_test_loss", "test loss", "cross-entropy", 1),
        (
            "curves_train_loss",
            "training loss (at the masked model)",
            "cross-entropy",
            2,
        ),
    ];
    for (stem, title, y, which) in figs {
        let fig = curve_figure(title, y, curves, |r| match which {
            0 => r.metrics.test_accuracy,
            1 => r.metrics.test_loss,
            _ => r.metrics.train_loss,
        });
        if let Some(fig) = fig {
            html = html.saved_figure(&fig, &figures, stem, title)?;
        }
    }
    html = html
        .section("Final test accuracy")
        .table(
            ["method", "mean", "std", "ms/step"],
            summary
                .methods
                .iter()
                .map(|m| {
                    vec![
                        m.method.clone(),
                        format!("{:.4}", m.accuracy.mean),
                        format!("{:.4}", m.accuracy.std),
                        format!("{:.2}", m.step_ms),
                    ]
                })
                .collect(),
        )
        .section("Reproduce")
        .code(format!(
            "cargo run --release -p mast-cli -- experiment nn-prune --config {} --out {} --force",
            dir.join("config.toml").display(),
            dir.display()
        ))
        .paragraph("Files: config.toml, curves.csv, curves_summary.csv, prune.csv, prune_summary.csv/.md, summary.json, report.md, figures/, runs/<method>/seed-<s>/.");
    html.write(&dir.join("index.html"))?;
    Ok(())
}
