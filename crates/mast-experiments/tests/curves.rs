//! The training-curves experiment on a tiny data set.

use std::path::{Path, PathBuf};

use mast_experiments::common::{DataSettings, Silent};
use mast_experiments::curves::{run_curves, BandKind, CurveMethod, CurvesConfig};

mod common;

fn tiny_data(dir: &Path) -> (PathBuf, PathBuf) {
    common::tiny_data(dir, 12345)
}

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("curves", name)
}

fn method(label: &str, method: &str, sketch: &str) -> CurveMethod {
    toml::from_str(&format!(
        "label = \"{label}\"\nmethod = \"{method}\"\nsketch = \"{sketch}\""
    ))
    .unwrap()
}

fn config(dir: &Path) -> CurvesConfig {
    let (train, test) = tiny_data(dir);
    let mut m3 = method("Alg. 1 (II) Rand-K 0.5", "dsgd", "rand-k:0.5");
    m3.variant = "minibatch".into();
    m3.batch = 8;
    CurvesConfig {
        name: "tiny".into(),
        data: DataSettings::new(train, test),
        seeds: vec![1, 2, 3],
        steps: 40,
        eval_every: Some(10),
        band: BandKind::MinMax,
        methods: vec![
            method("GD", "gd", "identity"),
            method("Alg. 1 (I) Rand-K 0.5", "dsgd", "rand-k:0.5"),
            m3,
            method("Alg. 2 Perm-K M=2", "distributed", "perm-k:2"),
        ],
    }
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

#[test]
fn same_config_same_csvs_and_summary_is_the_mean() {
    let dir = temp_dir("repro");
    let cfg = config(&dir);
    let a = run_curves(&cfg, &dir.join("a"), &Silent).unwrap();
    let b = run_curves(&cfg, &dir.join("b"), &Silent).unwrap();
    for (x, y) in [
        (&a.curves_csv, &b.curves_csv),
        (&a.summary_csv, &b.summary_csv),
        (&a.final_csv, &b.final_csv),
    ] {
        assert_eq!(
            std::fs::read(x).unwrap(),
            std::fs::read(y).unwrap(),
            "{}",
            x.display()
        );
    }
    // 4 methods × 3 seeds × 5 evaluations (steps 0, 10, .., 40).
    let rows = read_csv(&a.curves_csv);
    assert_eq!(rows.len(), 4 * 3 * 5);
    let summary = read_csv(&a.summary_csv);
    assert_eq!(summary.len(), 4 * 5);
    // The summary's mean, lower and upper of the loss (columns 3 + 3·1 ..) at step 20.
    for label in cfg.methods.iter().map(|m| &m.label) {
        let losses: Vec<f64> = rows
            .iter()
            .filter(|r| &r[0] == label && r[2] == "20")
            .map(|r| r[4].parse().unwrap())
            .collect();
        assert_eq!(losses.len(), 3);
        let s = summary
            .iter()
            .find(|r| &r[0] == label && r[1] == "20")
            .unwrap();
        let mean: f64 = s[6].parse().unwrap();
        let (lo, hi): (f64, f64) = (s[7].parse().unwrap(), s[8].parse().unwrap());
        let expect = losses.iter().sum::<f64>() / 3.0;
        assert!(
            (mean - expect).abs() <= 1e-15 * expect.abs(),
            "{label}: {mean} vs {expect}"
        );
        assert_eq!(lo, losses.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(hi, losses.iter().copied().fold(f64::NEG_INFINITY, f64::max));
    }
    // Figures (PNG + SVG) and the report.
    let stems: Vec<String> = a
        .figures
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for stem in [
        "loss",
        "fd_estimate",
        "grad_norm",
        "test_accuracy",
        "loss_vs_coords",
        "test_accuracy_vs_coords",
    ] {
        assert!(
            stems.iter().any(|s| s == stem),
            "missing figure {stem}: {stems:?}"
        );
    }
    for p in &a.figures {
        assert!(
            p.exists() && p.with_extension("svg").exists(),
            "{}",
            p.display()
        );
    }
    let html = std::fs::read_to_string(&a.index).unwrap();
    assert!(html.contains("experiment curves --config"));
    assert!(html.contains("data:image/png;base64,"));
    assert_eq!(a.table.len(), 4);
    assert!(a.table.iter().all(|r| r.runs == 3 && r.diverged == 0));
    assert!(a.config.exists());
    let back = CurvesConfig::load(&a.config).unwrap();
    assert_eq!(back, cfg);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn std_band_is_mean_plus_minus_one_std() {
    let dir = temp_dir("std");
    let mut cfg = config(&dir);
    cfg.band = BandKind::Std;
    cfg.methods.truncate(2);
    cfg.steps = 10;
    let out = run_curves(&cfg, &dir.join("out"), &Silent).unwrap();
    let summary = read_csv(&out.summary_csv);
    let s = summary
        .iter()
        .find(|r| r[0] == cfg.methods[1].label && r[1] == "10")
        .unwrap();
    let (m, lo, hi): (f64, f64, f64) = (
        s[6].parse().unwrap(),
        s[7].parse().unwrap(),
        s[8].parse().unwrap(),
    );
    assert!(lo < m && m < hi && ((m - lo) - (hi - m)).abs() < 1e-12);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_configs_name_the_setting() {
    let dir = temp_dir("bad");
    let (train, test) = tiny_data(&dir);
    let base = format!(
        "name = \"x\"\nsteps = 10\n[data]\ntrain = \"{}\"\ntest = \"{}\"\n",
        train.display(),
        test.display()
    );
    let load = |extra_top: &str, methods: &str| {
        let p = dir.join("c.toml");
        std::fs::write(&p, format!("{extra_top}{base}{methods}")).unwrap();
        CurvesConfig::load(&p).unwrap_err().to_string()
    };
    let ok_method = "[[methods]]\nlabel = \"a\"\n";
    let e = load("colour = 3\n", ok_method);
    assert!(e.contains("colour"), "{e}");
    let e = load("methods = []\n", "");
    assert!(e.contains("methods"), "{e}");
    let e = load("", "[[methods]]\nlabel = \"a\"\nmethod = \"adam\"\n");
    assert!(e.contains("methods[0].method") && e.contains("adam"), "{e}");
    let e = load("", "[[methods]]\nlabel = \"a\"\nsketch = \"rand-k:7.5\"\n");
    assert!(e.contains("sketch") || e.contains("rand-k"), "{e}");
    let e = load("band = \"iqr\"\n", ok_method);
    assert!(e.contains("band") || e.contains("iqr"), "{e}");
    let e = load("seeds = []\n", ok_method);
    assert!(e.contains("seeds"), "{e}");
    let e = load(
        "",
        "[[methods]]\nlabel = \"a\"\n[[methods]]\nlabel = \"A\"\n",
    );
    assert!(e.contains("methods[1].label"), "{e}");
    let e = load(
        "",
        "[[methods]]\nlabel = \"a\"\nmethod = \"distributed\"\nsketch = \"perm-k:3\"\nnodes = 2\n",
    );
    assert!(e.contains("methods[0]"), "{e}");
    // Relative data paths resolve against the config's folder.
    let p = dir.join("rel.toml");
    std::fs::write(&p, format!("name = \"x\"\nsteps = 10\n[data]\ntrain = \"train.svm\"\ntest = \"test.svm\"\n{ok_method}")).unwrap();
    let cfg = CurvesConfig::load(&p).unwrap();
    assert_eq!(cfg.data.train, dir.join("train.svm"));
    assert_eq!(cfg.seeds, vec![1, 2, 3, 4, 5]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_diverging_method_stays_in_the_tables_but_not_the_figures() {
    let dir = temp_dir("diverge");
    let mut cfg = config(&dir);
    cfg.methods.truncate(2);
    cfg.methods[1].step_size = mast::run::config::StepSetting::Value(1e7);
    cfg.seeds = vec![1, 2];
    let out = run_curves(&cfg, &dir.join("out"), &Silent).unwrap();
    assert_eq!(out.table[0].diverged, 0);
    assert_eq!(out.table[1].diverged, 2);
    assert!(!out.figures.is_empty());
    let html = std::fs::read_to_string(&out.index).unwrap();
    assert!(
        html.contains("Not drawn"),
        "the report names the left-out method"
    );
    // Its rows are in curves.csv up to where every seed stopped.
    let rows = read_csv(&out.curves_csv);
    assert!(rows.iter().any(|r| r[0] == cfg.methods[1].label));
    std::fs::remove_dir_all(&dir).unwrap();
}
