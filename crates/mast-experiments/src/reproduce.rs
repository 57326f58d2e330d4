//! `mast reproduce paper`: the paper's a5a suite end to end — pruning robustness,
//! training curves over seeds, and step size × sparsity grids — into one folder
//! with a top-level `index.html`.
//!
//! The settings are the example configs shipped in `examples/` (`prune-a5a.toml`,
//! `curves-a5a.toml`, `grid-a5a.toml`), compiled into the binary, with the data
//! files taken from the given data folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use mast_report::HtmlReport;

use crate::common::{command_line, ExpError, Progress, Result};
use crate::curves::{run_curves, CurvesConfig, CurvesOutcome, FinalRow};
use crate::grid::{run_grid, GridConfig, GridOutcome, PanelTable};
use crate::prune::{run_prune, PruneConfig, PruneOutcome};

const PRUNE: &str = include_str!("../../../examples/prune-a5a.toml");
const CURVES: &str = include_str!("../../../examples/curves-a5a.toml");
const GRID: &str = include_str!("../../../examples/grid-a5a.toml");

/// What the suite produced.
#[derive(Debug)]
pub struct PaperOutcome {
    /// The pruning experiment.
    pub prune: PruneOutcome,
    /// The training curves.
    pub curves: CurvesOutcome,
    /// The step size × sparsity grids.
    pub grid: GridOutcome,
    /// Wall time of each part, in seconds.
    pub timings: Vec<(String, f64)>,
    /// The top-level `index.html`.
    pub index: PathBuf,
}

/// Medians of the pruned test accuracy per q: `(q, erm, mast)`.
pub fn prune_medians(p: &PruneOutcome) -> Vec<(f64, f64, f64)> {
    let mut out: Vec<(f64, f64, f64)> = Vec::new();
    for (q, method, s) in &p.summary {
        let row = match out.iter_mut().find(|r| r.0 == *q) {
            Some(r) => r,
            None => {
                out.push((*q, f64::NAN, f64::NAN));
                out.last_mut().expect("just pushed")
            }
        };
        match method.as_str() {
            "erm" => row.1 = s.median,
            "mast" => row.2 = s.median,
            _ => {}
        }
    }
    out
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, name: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| ExpError::setting(name, e.to_string()))
}

/// Runs the suite on `data/a5a.gz` and `data/a5a.t.gz` into `out`.
pub fn reproduce_paper(data: &Path, out: &Path, progress: &dyn Progress) -> Result<PaperOutcome> {
    let (train, test) = (data.join("a5a.gz"), data.join("a5a.t.gz"));
    for f in [&train, &test] {
        if !f.exists() {
            return Err(ExpError::file(
                f,
                "not found: give the folder holding a5a.gz and a5a.t.gz with --data",
            ));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| ExpError::file(out, e))?;
    let mut prune: PruneConfig = parse(PRUNE, "examples/prune-a5a.toml")?;
    let mut curves: CurvesConfig = parse(CURVES, "examples/curves-a5a.toml")?;
    let mut grid: GridConfig = parse(GRID, "examples/grid-a5a.toml")?;
    for d in [&mut prune.data, &mut curves.data, &mut grid.data] {
        d.train = train.clone();
        d.test = test.clone();
    }
    let mut timings = Vec::new();
    let t = Instant::now();
    let prune_out = run_prune(&prune, &out.join("prune"), progress)?;
    timings.push(("pruning robustness".to_string(), t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let curves_out = run_curves(&curves, &out.join("curves"), progress)?;
    timings.push(("training curves".to_string(), t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let grid_out = run_grid(&grid, &out.join("grid"), progress)?;
    timings.push((
        "step size × sparsity".to_string(),
        t.elapsed().as_secs_f64(),
    ));
    let index = out.join("index.html");
    write_index(
        &index,
        data,
        out,
        &prune_out,
        &curves_out,
        &grid_out,
        &timings,
    )?;
    Ok(PaperOutcome {
        prune: prune_out,
        curves: curves_out,
        grid: grid_out,
        timings,
        index,
    })
}

fn write_index(
    index: &Path,
    data: &Path,
    out: &Path,
    prune: &PruneOutcome,
    curves: &CurvesOutcome,
    grid: &GridOutcome,
    timings: &[(String, f64)],
) -> Result<()> {
    let medians = prune_medians(prune);
    let mut html = HtmlReport::new("MAST on a5a: the paper's experiments")
        .paragraph(
            "Logistic regression on LIBSVM a5a (λ = 1/n, v = 0, x⁰ = 0). Each part below has its \
             own folder with its config, CSVs, figures (PNG and SVG) and index.html; every \
             trained model has an ordinary run folder under runs/.",
        )
        .section("1. Pruning robustness (Figure 1)")
        .paragraph(
            "ERM optimum vs MAST (Algorithm 1 (I), Rand-K(q), best validation iterate), pruned by \
             the same 200 random masks per level. Details: prune/index.html.",
        )
        .figure_file(
            &out.join("prune/figures/prune_boxplot.png"),
            "Test accuracy of pruned models.",
        )?
        .table(
            ["q", "median ERM", "median MAST", "MAST − ERM"],
            medians
                .iter()
                .map(|(q, e, m)| {
                    vec![
                        format!("{q}"),
                        format!("{e:.4}"),
                        format!("{m:.4}"),
                        format!("{:+.4}", m - e),
                    ]
                })
                .collect(),
        )
        .section("2. Training curves over seeds")
        .paragraph("Mean and min–max band over 5 seeds. Details: curves/index.html.");
    for fig in curves.figures.iter().take(4) {
        html = html.figure_file(fig, "")?;
    }
    html = html
        .table(
            FinalRow::HEADER,
            curves.table.iter().map(FinalRow::cells).collect(),
        )
        .section("3. Step size × sparsity")
        .paragraph(
            "Final loss after a fixed number of steps at a constant γ; crossed cells diverged; \
             the line is the theory step. Details: grid/index.html.",
        );
    for (fig, table) in grid.figures.iter().zip(&grid.tables) {
        html = html
            .figure_file(fig, table.label.clone())?
            .table(PanelTable::HEADER, table.cells());
    }
    let total: f64 = timings.iter().map(|t| t.1).sum();
    html = html
        .section("Timing")
        .table(
            ["part", "wall time (s)"],
            timings
                .iter()
                .map(|(n, s)| vec![n.clone(), format!("{s:.1}")])
                .chain(std::iter::once(vec!["total".into(), format!("{total:.1}")]))
                .collect(),
        )
        .section("Reproduce")
        .code(command_line(&[
            "reproduce",
            "paper",
            "--data",
            &data.display().to_string(),
            "--out",
            &out.display().to_string(),
        ]));
    html.write(index)?;
    Ok(())
}
