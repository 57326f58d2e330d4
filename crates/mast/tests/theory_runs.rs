//! Every run records its theory next to the observed rate; the theory step is
//! stable across sketches and sparsity levels; Algorithm 2 through the run folder.

use std::path::PathBuf;
use std::sync::Arc;

use mast::algorithm::{DistributedDsgd, NodeSketches};
use mast::data::{load_libsvm_pair, Sharding};
use mast::engine::InProcess;
use mast::prelude::*;
use mast::run::config::{DataConfig, TrainConfig};
use mast::run::{theory_overview, train, FolderMode};

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR")))
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mast-theory-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn config(name: &str, loss: &str, sketch: &str, method: &str, steps: u64) -> TrainConfig {
    let mut cfg = TrainConfig {
        name: None,
        seed: 3,
        threads: Some(2),
        sketch: sketch.parse().unwrap(),
        data: DataConfig {
            train: shipped("a5a.gz"),
            test: None,
            val_fraction: 0.0,
            n_features: None,
        },
        objective: Default::default(),
        algorithm: Default::default(),
        distributed: Default::default(),
        output: Default::default(),
    };
    cfg.objective.loss = loss.into();
    cfg.objective.lambda = mast::run::config::Lambda::Value(0.05);
    cfg.algorithm.method = method.into();
    cfg.algorithm.steps = Some(steps);
    cfg.algorithm.eval_every = steps / 40;
    cfg.output.dir = tmp(name);
    cfg.output.fd_samples = 50;
    cfg.output.checkpoint_every_s = 0.0;
    cfg
}

fn s_first_dist(dir: &std::path::Path) -> f64 {
    let rows = mast::run::read_csv(&dir.join("metrics.csv")).unwrap();
    rows[0].dist_to_ref.unwrap()
}

#[test]
fn summaries_carry_theory_and_an_observed_rate_no_slower_than_predicted() {
    // Strongly convex problems at the theory step, with an exactly known limit:
    // least squares (x_D* in closed form) and GD on logistic (x* by Newton).
    for (loss, sketch, method) in [
        ("least-squares", "rand-k:0.5", "dsgd"),
        ("least-squares", "bernoulli:0.3", "dsgd"),
        ("logistic", "identity", "gd"),
        ("least-squares", "rand-k:0.3", "lsvrdsg"),
    ] {
        let mut cfg = config(&format!("{loss}-{method}"), loss, sketch, method, 1000);
        cfg.algorithm.n_sketches = Some(40);
        // Evaluate often enough to see the linear phase before the neighbourhood.
        cfg.algorithm.eval_every = 2;
        let report = train(&cfg.check().unwrap(), &mut [], FolderMode::Fresh).unwrap();
        let s = &report.summary;
        let t = &s.theory;
        for v in [
            t.l_f,
            t.mu_f,
            t.l_d,
            t.mu_d,
            t.l_s_max,
            t.theory_gamma,
            t.nonconvex_gamma,
        ] {
            assert!(v.is_finite() && v > 0.0, "{loss} {sketch}: {t:?}");
        }
        assert!(t.f_star.is_finite() && t.fd_gap_bound >= 0.0 && t.neighbourhood >= 0.0);
        let rate = s
            .observed_rate
            .as_ref()
            .unwrap_or_else(|| panic!("{loss} {sketch}: no rate"));
        eprintln!(
            "{loss} {sketch} {method}: observed {:.6} vs predicted {:.6} over {} points, final ‖x − ref‖² {:.2e} ({})",
            rate.contraction, rate.predicted_contraction, rate.points, rate.final_dist_sq, rate.reference
        );
        assert!(rate.contraction < 1.0, "{loss} {sketch}: {rate:?}");
        if method != "lsvrdsg" {
            assert_eq!(
                rate.no_slower_than_predicted,
                Some(true),
                "{loss} {sketch}: {rate:?}"
            );
        } else {
            // b = N: heading to the finite-sum minimiser itself (linearly; the
            // 1e-8 oracle test on a well-conditioned quadratic is in algorithm3.rs).
            let first = s_first_dist(&report.dir);
            assert!(rate.final_dist_sq < 0.1 * first * first, "{rate:?}");
        }
        let sw = s.sandwich.as_ref().expect("sandwich");
        assert!(sw.holds, "{loss} {sketch}: {sw:?}");
        // The summary on disk says the same.
        let text = std::fs::read_to_string(report.dir.join("summary.json")).unwrap();
        assert!(text.contains("\"observed_rate\"") && text.contains("\"predicted_contraction\""));
    }
    // Too few sketches to keep every coordinate: the finite sum has no unique
    // minimiser, so no reference and no rate (but the run completes).
    let mut cfg = config(
        "lsvrdsg-singular",
        "least-squares",
        "rand-k:k=2",
        "lsvrdsg",
        50,
    );
    cfg.algorithm.n_sketches = Some(3);
    let report = train(&cfg.check().unwrap(), &mut [], FolderMode::Fresh).unwrap();
    assert!(report.summary.observed_rate.is_none());
    // Logistic with a sketch: no exact reference, so no rate — said explicitly.
    let cfg = config("logistic-randk", "logistic", "rand-k:0.5", "dsgd", 200);
    let report = train(&cfg.check().unwrap(), &mut [], FolderMode::Fresh).unwrap();
    assert!(report.summary.observed_rate.is_none());
    assert!(report.summary.last.dist_to_ref.is_none());
}

#[test]
fn theory_step_never_diverges_across_sketches_and_sparsity() {
    let pair = load_libsvm_pair(shipped("a5a.gz"), None::<&PathBuf>, None).unwrap();
    let data = Arc::new(pair.train);
    let d = data.n_features();
    let specs = [
        "bernoulli:0.02",
        "bernoulli:0.1",
        "bernoulli:0.5",
        "bernoulli:0.9",
        "rand-k:k=1",
        "rand-k:0.1",
        "rand-k:0.5",
        "rand-k:0.9",
        "perm-k:2",
        "perm-k:8",
        "perm-k:64",
    ];
    let lr = LogisticRegression::new(data.clone(), 1.0 / data.n_samples() as f64).unwrap();
    let ls = LeastSquares::new(data.clone(), 1e-3).unwrap();
    let objectives: [(&str, &dyn Objective); 2] = [("logistic", &lr), ("least squares", &ls)];
    for (name, f) in objectives {
        let f0 = f.loss(&vec![0.0; d]);
        for spec in specs {
            for variant in [Variant::Exact, Variant::Minibatch(16)] {
                let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
                let mut alg = DoubleSketchedSgd::new(
                    sketch,
                    variant,
                    StepSize::Theory { multiplier: 1.0 },
                    11,
                )
                .unwrap();
                let problem = MastProblem::new(f, Shift::zero(d));
                let mut state = alg.init(&problem).unwrap();
                for _ in 0..300 {
                    alg.next_iter(&problem, &mut state)
                        .unwrap_or_else(|e| panic!("{name} {spec} {variant:?}: {e}"));
                }
                let fx = f.loss(&state.x);
                assert!(
                    fx.is_finite() && fx < f0,
                    "{name} {spec} {variant:?}: f went from {f0} to {fx}"
                );
            }
        }
        // Algorithm 2 at its theory step, heterogeneous shards.
        for spec in ["perm-k:4", "bernoulli:0.1", "rand-k:0.25"] {
            let spec: SketchSpec = spec.parse().unwrap();
            let shards = Sharding::ByLabel.split(&data, 4, 2).unwrap();
            let lambda = if name == "logistic" {
                1.0 / data.n_samples() as f64
            } else {
                1e-3
            };
            let sketches = NodeSketches::from_spec(&spec, d, 4).unwrap();
            let step = StepSize::Theory { multiplier: 1.0 };
            let mut alg = if name == "logistic" {
                let eng = InProcess::from_shards(
                    &data,
                    &shards,
                    |s| LogisticRegression::new(Arc::new(s), lambda),
                    &vec![0.0; d],
                    Variant::Exact,
                    2,
                )
                .unwrap();
                DistributedDsgd::new(sketches, Box::new(eng), step, 2).unwrap()
            } else {
                let eng = InProcess::from_shards(
                    &data,
                    &shards,
                    |s| LeastSquares::new(Arc::new(s), lambda),
                    &vec![0.0; d],
                    Variant::Exact,
                    2,
                )
                .unwrap();
                DistributedDsgd::new(sketches, Box::new(eng), step, 2).unwrap()
            };
            let problem = MastProblem::new(f, Shift::zero(d));
            let mut state = Solver::<dyn Objective>::init(&mut alg, &problem).unwrap();
            for _ in 0..300 {
                alg.next_iter(&problem, &mut state)
                    .unwrap_or_else(|e| panic!("{name} distributed {spec}: {e}"));
            }
            let fx = f.loss(&state.x);
            assert!(
                fx.is_finite() && fx < f0,
                "{name} distributed {spec}: {f0} → {fx}"
            );
        }
    }
}

#[test]
fn distributed_runs_write_traffic_and_node_theory() {
    let mut cfg = config("dist", "logistic", "perm-k:4", "distributed", 100);
    cfg.distributed.nodes = 4;
    cfg.distributed.sharding = Sharding::Dirichlet(0.5);
    let checked = cfg.check().unwrap();
    let report = train(&checked, &mut [], FolderMode::Fresh).unwrap();
    let s = &report.summary;
    let t = s.traffic.expect("traffic");
    assert_eq!((t.rounds, t.floats_down_per_round()), (100, s.dim as f64));
    let dt = s.distributed.as_ref().expect("node theory");
    assert_eq!(dt.nodes, 4);
    assert_eq!(dt.shard_sizes.iter().sum::<usize>(), s.n_train);
    assert!(dt.d_max > 0.0 && dt.gamma_strongly_convex > 0.0);
    assert!(s.solver.contains("distributed") && s.sketch == "perm-k:4");
    // The theory overview of the same config agrees on the step it would use.
    let ov = theory_overview(&checked).unwrap();
    assert_eq!(ov.gamma, s.theory.gamma);
    assert_eq!(ov.distributed.as_ref().unwrap().d_max, dt.d_max);
    let text = ov.to_text();
    assert!(text.contains("D_max") && text.contains("κ_D"), "{text}");
    // Bad distributed configs name the setting.
    let mut bad = config("bad", "logistic", "perm-k:3", "distributed", 10);
    bad.distributed.nodes = 4;
    let err = bad.check().unwrap_err().to_string();
    assert!(err.contains("perm-k:3") && err.contains("nodes"), "{err}");
    let mut bad = config("bad2", "logistic", "bernoulli:0.5", "distributed", 10);
    bad.distributed.node_sketches = Some(vec!["bernoulli:0.5".parse().unwrap()]);
    let err = bad.check().unwrap_err().to_string();
    assert!(err.contains("node_sketches"), "{err}");
}
