//! The heatmaps and the report of a grid experiment.

use std::path::{Path, PathBuf};

use mast_report::{format_sci, fractional_index, Figure, Heatmap, HtmlReport, OverlayStyle};

use super::{column, CellStatus, GridCell, GridConfig, GridPanel, PanelTable};
use crate::common::{self, ExpError, Result};
use crate::curves::slug;

/// Draws one heatmap per panel into `out/figures` and writes `out/index.html`;
/// returns the PNG paths and the index path.
pub(super) fn write_report(
    cfg: &GridConfig,
    cells: &[GridCell],
    tables: &[PanelTable],
    gammas: &[f64],
    out: &Path,
    config: &Path,
) -> Result<(Vec<PathBuf>, PathBuf)> {
    let runs = cells.len();
    let mut report = HtmlReport::new(format!("{}: step size × sparsity", cfg.name)).paragraph(format!(
        "{runs} runs: every panel × sparsity level × step size γ ({} values from {} to {}), {} steps at a \
         constant γ, seed {}, data {}. Each cell shows the final training loss f(x_T) (log colour scale). \
         × marks a diverged cell: its run blew up (a non-finite loss or f(x) > f(x₀) + 10⁴(|f(x₀)| + 1)), \
         or it ended above the starting loss f(x₀). The circles joined by a line mark the theory step \
         (Algorithm 1: 1/(L_f L_S^max); Algorithm 2: 1/max_i L_(f_i) L_(S_i)^max), placed between the grid's \
         γ values on the log scale; diamonds mark the largest stable γ (the last γ, going up, before the \
         first diverged cell).",
        gammas.len(),
        format_sci(gammas[0]),
        format_sci(gammas[gammas.len() - 1]),
        cfg.steps,
        cfg.seed,
        cfg.data.train.file_name().unwrap_or_default().to_string_lossy(),
    ));
    let dir = out.join("figures");
    let mut figures = Vec::new();
    for (panel, table) in cfg.panels.iter().zip(tables) {
        let stem = slug(&panel.label);
        report = report.section(panel.label.clone());
        let all_diverged = cells
            .iter()
            .filter(|c| c.panel == panel.label)
            .all(|c| c.status == CellStatus::Diverged);
        if all_diverged {
            report = report.paragraph("Every cell diverged: no heatmap (nothing to colour).");
        } else {
            let paths = heatmap(cfg, panel, table, cells, gammas).save(&dir, &stem)?;
            let png = std::fs::read(&paths[0]).map_err(|e| ExpError::file(&paths[0], e))?;
            figures.push(paths[0].clone());
            report = report.figure_png(
                png,
                Some(format!("figures/{stem}.svg")),
                format!(
                    "{}: final loss f(x_T) after {} steps per (sparsity, γ); × = diverged.",
                    panel.label, cfg.steps
                ),
            )?;
        }
        report = report.table(PanelTable::HEADER, table.cells());
    }
    let report = report.section("Reproduce").paragraph(
        "Every cell is deterministic for its seed: the same config reproduces grid.csv byte for byte. \
         config.toml in this folder is the experiment's config; each cell's run folder is under runs/.",
    );
    let report = report.code(common::command_line(&[
        "experiment",
        "grid",
        "--config",
        &config.display().to_string(),
    ]));
    let index = out.join("index.html");
    report.write(&index)?;
    Ok((figures, index))
}

fn heatmap(
    cfg: &GridConfig,
    panel: &GridPanel,
    table: &PanelTable,
    cells: &[GridCell],
    gammas: &[f64],
) -> Heatmap {
    let values = gammas
        .iter()
        .map(|&g| {
            panel
                .sparsities
                .iter()
                .map(|&q| {
                    column(panel, q, cells)
                        .find(|c| c.gamma == g)
                        .filter(|c| c.status == CellStatus::Converged)
                        .map(|c| c.final_loss)
                })
                .collect()
        })
        .collect();
    let x_label = match panel.sketch_kind.as_str() {
        "perm-k" => "nodes M (Perm-K: each node keeps 1/M of the coordinates)".to_string(),
        "bernoulli" if panel.method == "distributed" => {
            format!(
                "keep probability q on each of {} nodes (smaller = sparser)",
                cfg.nodes
            )
        }
        "bernoulli" => "keep probability q (smaller = sparser)".to_string(),
        _ => "kept fraction q = K/d (smaller = sparser)".to_string(),
    };
    let index = |g: f64| gammas.iter().position(|&v| v == g).map(|i| i as f64);
    Heatmap::new(format!(
        "{}: final loss after {} steps",
        panel.label, cfg.steps
    ))
    .x_label(x_label)
    .y_label("step size γ")
    .x_categories(panel.sparsities.iter().map(|q| format!("{q}")))
    .y_categories(gammas.iter().map(|&g| format_sci(g)))
    .values(values)
    .log_color(true)
    .color_label("final loss f(x_T)")
    .annotate(true)
    .overlay(
        "theory γ",
        table
            .rows
            .iter()
            .map(|r| fractional_index(r.theory_gamma, gammas, true))
            .collect(),
        OverlayStyle::LineMarkers,
    )
    .overlay(
        "largest stable γ",
        table
            .rows
            .iter()
            .map(|r| r.largest_stable_gamma.and_then(index))
            .collect(),
        OverlayStyle::Markers,
    )
}
