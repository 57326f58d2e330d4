//! The step size × sparsity grid on a tiny data set.

use std::path::{Path, PathBuf};

use mast::run::config::Lambda;
use mast_experiments::common::{DataSettings, Silent};
use mast_experiments::grid::{run_grid, CellStatus, GridConfig, GridPanel};

mod common;

fn tiny_data(dir: &Path) -> (PathBuf, PathBuf) {
    common::tiny_data(dir, 777)
}

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("grid", name)
}

fn config(dir: &Path) -> GridConfig {
    let (train, test) = tiny_data(dir);
    let mut data = DataSettings::new(train, test);
    data.lambda = Lambda::Value(0.1);
    GridConfig {
        name: "tiny".into(),
        data,
        seed: 3,
        steps: 60,
        eval_every: None,
        loss: "logistic".into(),
        // Unsorted on purpose: drawn and reported ascending.
        gammas: vec![1e6, 0.01, 0.1, 1e5],
        nodes: 2,
        panels: vec![
            GridPanel {
                label: "Algorithm 1, Rand-K".into(),
                method: "dsgd".into(),
                sketch_kind: "rand-k".into(),
                sparsities: vec![0.5, 1.0],
            },
            GridPanel {
                label: "Algorithm 2, Perm-K".into(),
                method: "distributed".into(),
                sketch_kind: "perm-k".into(),
                sparsities: vec![2.0],
            },
            GridPanel {
                label: "Algorithm 2, Bernoulli".into(),
                method: "distributed".into(),
                sketch_kind: "bernoulli".into(),
                sparsities: vec![0.5],
            },
        ],
    }
}

#[test]
fn statuses_stable_gamma_reproducibility_and_theory() {
    let dir = temp_dir("main");
    let cfg = config(&dir);
    let a = run_grid(&cfg, &dir.join("a"), &Silent).unwrap();
    assert_eq!(a.cells.len(), 4 * 4);
    for c in &a.cells {
        let expect = if c.gamma >= 1e5 {
            CellStatus::Diverged
        } else {
            CellStatus::Converged
        };
        assert_eq!(c.status, expect, "{c:?}");
    }
    for t in &a.tables {
        for r in &t.rows {
            assert_eq!(r.largest_stable_gamma, Some(0.1), "{}: {r:?}", t.label);
            assert_eq!(r.ratio, Some(0.1 / r.theory_gamma));
            assert!(r.best.is_some());
        }
    }
    // Same seed, same grid.csv.
    let b = run_grid(&cfg, &dir.join("b"), &Silent).unwrap();
    let text = std::fs::read_to_string(&a.grid_csv).unwrap();
    assert_eq!(text, std::fs::read_to_string(&b.grid_csv).unwrap());
    assert_eq!(
        std::fs::read(&a.stable_csv).unwrap(),
        std::fs::read(&b.stable_csv).unwrap()
    );
    // The theory γ in grid.csv is `mast theory`'s for the cell's config.
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 16);
    for (p, panel) in cfg.panels.iter().enumerate() {
        for &q in &panel.sparsities {
            let row = rows
                .iter()
                .find(|r| r[0] == *panel.label && r[3].parse::<f64>().unwrap() == q)
                .unwrap();
            let theory: f64 = row[8].parse().unwrap();
            let checked = cfg.cell_config(p, q, 0.1, &dir).unwrap().check().unwrap();
            let o = mast::run::theory_overview(&checked).unwrap();
            let expect = match &o.distributed {
                Some(d) => d.gamma_strongly_convex,
                None => o.report.theory_gamma,
            };
            assert_eq!(theory, expect, "{} q = {q}", panel.label);
            assert_eq!(&row[5], "converged");
        }
    }
    assert!(rows.iter().any(|r| &r[5] == "diverged"));
    // Figures and the report.
    assert_eq!(a.figures.len(), 3);
    for f in &a.figures {
        assert!(f.exists() && f.with_extension("svg").exists());
    }
    let html = std::fs::read_to_string(&a.index).unwrap();
    assert!(html.contains("experiment grid --config"));
    assert_eq!(GridConfig::load(&a.config).unwrap(), cfg);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_grids_name_the_setting() {
    let dir = temp_dir("bad");
    let mut cfg = config(&dir);
    let err = |c: &GridConfig| c.check().unwrap_err().to_string();
    cfg.panels[0].sketch_kind = "perm-k".into();
    assert!(err(&cfg).contains("panels[0].sketch_kind"), "{}", err(&cfg));
    cfg = config(&dir);
    cfg.panels[1].sparsities = vec![2.5];
    assert!(err(&cfg).contains("panels[1].sparsities"), "{}", err(&cfg));
    cfg = config(&dir);
    cfg.panels[0].sparsities = vec![1.5];
    assert!(err(&cfg).contains("panels[0].sparsities"), "{}", err(&cfg));
    cfg = config(&dir);
    cfg.panels[0].method = "adam".into();
    assert!(err(&cfg).contains("panels[0].method"), "{}", err(&cfg));
    cfg = config(&dir);
    cfg.gammas = vec![0.1, -1.0];
    assert!(err(&cfg).contains("gammas"), "{}", err(&cfg));
    cfg = config(&dir);
    cfg.panels.clear();
    assert!(err(&cfg).contains("panels"), "{}", err(&cfg));
    let p = dir.join("g.toml");
    std::fs::write(
        &p,
        "name = \"g\"\nsteps = 5\nstep = 3\n[data]\ntrain = \"train.svm\"\ntest = \"test.svm\"\n",
    )
    .unwrap();
    let e = GridConfig::load(&p).unwrap_err().to_string();
    assert!(e.contains("step"), "{e}");
    std::fs::write(
        &p,
        "name = \"g\"\nsteps = 5\n[data]\ntrain = \"train.svm\"\ntest = \"test.svm\"\n[[panels]]\nlabel = \"a\"\nsketch_kind = \"rand-k\"\nsparsities = [0.5]\n",
    )
    .unwrap();
    let g = GridConfig::load(&p).unwrap();
    assert_eq!(g.data.train, dir.join("train.svm"));
    assert_eq!(g.gammas.len(), 11);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_all_diverged_panel_has_no_heatmap_and_no_stable_step() {
    let dir = temp_dir("all-diverged");
    let mut cfg = config(&dir);
    cfg.gammas = vec![1e6];
    cfg.panels.truncate(1);
    cfg.panels[0].sparsities = vec![0.5];
    let out = run_grid(&cfg, &dir.join("out"), &Silent).unwrap();
    assert_eq!(out.cells.len(), 1);
    assert_eq!(out.cells[0].status, CellStatus::Diverged);
    assert!(out.figures.is_empty());
    assert_eq!(out.tables[0].rows[0].largest_stable_gamma, None);
    assert_eq!(out.tables[0].rows[0].best, None);
    assert!(std::fs::read_to_string(&out.index)
        .unwrap()
        .contains("Every cell diverged"));
    std::fs::remove_dir_all(&dir).unwrap();
}
