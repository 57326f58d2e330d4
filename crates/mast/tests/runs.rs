#![allow(clippy::needless_range_loop)] // index loops mirror the formulas
//! Run-level guarantees: same seed ⇒ same metrics (across runs and thread counts),
//! checkpoint + resume ⇒ the uninterrupted run, divergence stops and keeps the files.

use std::path::PathBuf;

use mast::run::config::{DataConfig, Lambda, StepSetting, TrainConfig};
use mast::run::{read_csv, train, FolderMode, MetricsRow, RunStatus, SavedModel};
use mast::MastError;

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR")))
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mast-runs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn config(out: PathBuf, sketch: &str, variant: &str, steps: u64, threads: usize) -> TrainConfig {
    let mut cfg = TrainConfig {
        name: None,
        seed: 5,
        threads: Some(threads),
        sketch: sketch.parse().unwrap(),
        data: DataConfig {
            train: shipped("a5a.gz"),
            test: Some(shipped("a5a.t.gz")),
            val_fraction: 0.1,
            n_features: None,
        },
        objective: Default::default(),
        algorithm: Default::default(),
        distributed: Default::default(),
        output: Default::default(),
    };
    cfg.algorithm.variant = variant.into();
    cfg.algorithm.batch = 32;
    cfg.algorithm.steps = Some(steps);
    cfg.algorithm.eval_every = 20;
    cfg.output.dir = out;
    cfg.output.fd_samples = 20;
    cfg.output.checkpoint_every_s = 0.0;
    cfg
}

fn without_time(rows: &[MetricsRow]) -> Vec<MetricsRow> {
    rows.iter()
        .cloned()
        .map(|mut r| {
            r.wall_time_s = 0.0;
            r
        })
        .collect()
}

fn bits(rows: &[MetricsRow]) -> Vec<String> {
    // Debug of f64 prints the shortest round-trip form: equal strings ⇔ equal bits.
    without_time(rows)
        .iter()
        .map(|r| format!("{r:?}"))
        .collect()
}

/// Acceptance 4 of the core issue.
#[test]
fn same_seed_same_metrics_across_runs_and_threads() {
    for (sketch, variant) in [("rand-k:0.3", "exact"), ("bernoulli:0.5", "minibatch")] {
        let mut seen: Vec<Vec<String>> = Vec::new();
        for (k, threads) in [1usize, 2, 1].into_iter().enumerate() {
            let dir = tmp(&format!("repro-{variant}-{k}"));
            let cfg = config(dir.clone(), sketch, variant, 300, threads);
            let report = train(&cfg.check().unwrap(), &mut [], FolderMode::Fresh).unwrap();
            assert_eq!(report.summary.threads, threads);
            let rows = read_csv(&dir.join("metrics.csv")).unwrap();
            assert_eq!(rows.len(), 16);
            assert_eq!(without_time(&rows), without_time(&report.outcome.rows));
            seen.push(bits(&rows));
            std::fs::remove_dir_all(&dir).unwrap();
        }
        assert_eq!(seen[0], seen[1], "{sketch} {variant}: 1 vs 2 threads");
        assert_eq!(seen[0], seen[2], "{sketch} {variant}: run vs rerun");
    }
    // A different seed gives different metrics (the comparison has teeth).
    let dir = tmp("repro-other-seed");
    let mut cfg = config(dir.clone(), "rand-k:0.3", "exact", 40, 1);
    cfg.seed = 6;
    let a = train(&cfg.clone().check().unwrap(), &mut [], FolderMode::Fresh).unwrap();
    cfg.seed = 5;
    let b = train(&cfg.check().unwrap(), &mut [], FolderMode::Overwrite).unwrap();
    assert_ne!(bits(&a.outcome.rows), bits(&b.outcome.rows));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_continues_exactly() {
    // Two threads: the minibatch solver draws its sketches ahead on a helper
    // thread, and the checkpoint falls inside a chunk of draws.
    for (variant, threads) in [("exact", 1), ("minibatch", 1), ("minibatch", 2)] {
        let full_dir = tmp(&format!("full-{variant}-{threads}"));
        let full = train(
            &config(full_dir.clone(), "rand-k:0.2", variant, 200, threads)
                .check()
                .unwrap(),
            &mut [],
            FolderMode::Fresh,
        )
        .unwrap();
        let part_dir = tmp(&format!("part-{variant}-{threads}"));
        train(
            &config(part_dir.clone(), "rand-k:0.2", variant, 100, threads)
                .check()
                .unwrap(),
            &mut [],
            FolderMode::Fresh,
        )
        .unwrap();
        // A fresh start refuses to clobber the folder.
        let err = train(
            &config(part_dir.clone(), "rand-k:0.2", variant, 200, threads)
                .check()
                .unwrap(),
            &mut [],
            FolderMode::Fresh,
        )
        .unwrap_err();
        assert!(err.to_string().contains("already holds a run"), "{err}");
        let resumed = train(
            &config(part_dir.clone(), "rand-k:0.2", variant, 200, threads)
                .check()
                .unwrap(),
            &mut [],
            FolderMode::Resume,
        )
        .unwrap();
        assert_eq!(
            bits(&full.outcome.rows),
            bits(&resumed.outcome.rows),
            "{variant}, {threads} threads"
        );
        let m1: SavedModel = mast::run::io::read_json(&full_dir.join("model_final.json")).unwrap();
        let m2: SavedModel = mast::run::io::read_json(&part_dir.join("model_final.json")).unwrap();
        assert_eq!(m1, m2);
        let b1: SavedModel = mast::run::io::read_json(&full_dir.join("model_best.json")).unwrap();
        let b2: SavedModel = mast::run::io::read_json(&part_dir.join("model_best.json")).unwrap();
        assert_eq!(b1, b2);
        std::fs::remove_dir_all(&full_dir).unwrap();
        std::fs::remove_dir_all(&part_dir).unwrap();
    }
}

#[test]
fn divergence_stops_names_the_theory_step_and_keeps_files() {
    let dir = tmp("diverge");
    let mut cfg = config(dir.clone(), "rand-k:0.5", "exact", 2000, 1);
    cfg.objective.loss = "least-squares".into();
    cfg.objective.lambda = Lambda::Value(0.0);
    cfg.algorithm.step_size = StepSetting::Value(50.0);
    let report = train(&cfg.check().unwrap(), &mut [], FolderMode::Fresh).unwrap();
    assert!(report.diverged() && matches!(report.status(), RunStatus::Diverged { .. }));
    let err = report.into_result().unwrap_err();
    match &err {
        MastError::Diverged {
            gamma,
            theory_gamma,
            step,
            ..
        } => {
            assert_eq!(*gamma, 50.0);
            assert!(*theory_gamma < 1.0 && *step < 2000);
        }
        other => panic!("expected divergence, got {other}"),
    }
    assert!(err.to_string().contains("theory step size"), "{err}");
    let rows = read_csv(&dir.join("metrics.csv")).unwrap();
    assert!(rows.len() >= 2);
    let summary: mast::run::Summary = mast::run::io::read_json(&dir.join("summary.json")).unwrap();
    assert!(matches!(summary.status, RunStatus::Diverged { .. }));
    assert!(dir.join("model_best.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn theory_step_is_stable_on_a5a() {
    for sketch in [
        "identity",
        "bernoulli:0.1",
        "bernoulli:0.5",
        "rand-k:0.1",
        "rand-k:0.5",
        "perm-k:4",
    ] {
        for variant in ["exact", "minibatch"] {
            let dir = tmp(&format!("stable-{sketch}-{variant}").replace(':', "_"));
            let cfg = config(dir.clone(), sketch, variant, 150, 1);
            let r = train(&cfg.check().unwrap(), &mut [], FolderMode::Fresh).unwrap();
            let first = r.outcome.rows.first().unwrap().loss;
            let last = r.outcome.rows.last().unwrap().loss;
            assert!(last < first, "{sketch} {variant}: {first} → {last}");
            assert_eq!(r.outcome.status, RunStatus::Completed);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn bad_configs_are_rejected_with_names() {
    let cfg = |f: &dyn Fn(&mut TrainConfig)| {
        let mut c = config(tmp("bad"), "identity", "exact", 10, 1);
        f(&mut c);
        c.check().map(|_| ()).unwrap_err().to_string()
    };
    assert!(cfg(&|c| c.algorithm.variant = "sideways".into()).contains("algorithm.variant"));
    assert!(cfg(&|c| c.algorithm.method = "adam".into()).contains("algorithm.method"));
    assert!(cfg(&|c| c.objective.loss = "hinge".into()).contains("objective.loss"));
    assert!(cfg(&|c| c.algorithm.step_size = StepSetting::Value(-1.0)).contains("step_size"));
    assert!(cfg(&|c| c.algorithm.steps = None).contains("steps"));
    assert!(cfg(&|c| c.data.val_fraction = 1.0).contains("val_fraction"));
    let text = "seed = 1\n[data]\ntrain = \"x\"\nbogus = 3\n";
    let p = std::env::temp_dir().join(format!("mast-bad-{}.toml", std::process::id()));
    std::fs::write(&p, text).unwrap();
    let e = TrainConfig::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("bogus") && e.contains(&p.display().to_string()),
        "{e}"
    );
    std::fs::remove_file(&p).unwrap();
}

/// A resume may change the length of the run and the thread count (the result
/// equals the uninterrupted run's, bit for bit), but no other setting:
/// [`MastError::ResumeChanged`] names each changed key, and nothing is written.
#[test]
fn resume_refuses_changed_settings_and_allows_threads() {
    let full_dir = tmp("resume-threads-full");
    let full = train(
        &config(full_dir.clone(), "bernoulli:0.5", "minibatch", 120, 1)
            .check()
            .unwrap(),
        &mut [],
        FolderMode::Fresh,
    )
    .unwrap();
    let dir = tmp("resume-threads-part");
    train(
        &config(dir.clone(), "bernoulli:0.5", "minibatch", 60, 1)
            .check()
            .unwrap(),
        &mut [],
        FolderMode::Fresh,
    )
    .unwrap();
    let metrics = std::fs::read(dir.join("metrics.csv")).unwrap();
    let mut changed = config(dir.clone(), "bernoulli:0.3", "minibatch", 120, 2);
    changed.objective.lambda = Lambda::Value(0.5);
    let err = train(&changed.check().unwrap(), &mut [], FolderMode::Resume).unwrap_err();
    match &err {
        MastError::ResumeChanged { changes, .. } => {
            let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
            assert_eq!(keys, ["objective.lambda", "sketch"], "{err}");
            assert_eq!(changes[0].saved, "\"1/n\"");
            assert_eq!(changes[0].given, "0.5");
        }
        other => panic!("{other}"),
    }
    assert_eq!(std::fs::read(dir.join("metrics.csv")).unwrap(), metrics);
    let resumed = train(
        &config(dir.clone(), "bernoulli:0.5", "minibatch", 120, 2)
            .check()
            .unwrap(),
        &mut [],
        FolderMode::Resume,
    )
    .unwrap();
    assert_eq!(bits(&full.outcome.rows), bits(&resumed.outcome.rows));
    std::fs::remove_dir_all(&full_dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
