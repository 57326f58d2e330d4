#![allow(clippy::needless_range_loop)] // index loops mirror the formulas
//! Algorithm 2 (distributed double sketched SGD): traffic, determinism across
//! thread counts, a sequential reference implementation, convergence to the exact
//! minimiser of the distributed MAST problem for quadratics, and sharding.

use std::sync::Arc;

use mast::algorithm::{DistributedDsgd, NodeSketches};
use mast::data::synthetic::{gaussian_planted, Task};
use mast::data::{Dataset, Sharding};
use mast::engine::{Engine, InProcess};
use mast::linalg::{dist, norm, SymMatrix};
use mast::prelude::*;
use mast::rng::{node_stream, Stream};
use mast::run::{Evaluator, Executor};
use mast::sketched::QuadraticMast;

fn engine(
    data: &Dataset,
    m: usize,
    sharding: Sharding,
    variant: Variant,
    lambda: f64,
    seed: u64,
) -> InProcess<LogisticRegression> {
    let shards = sharding.split(data, m, seed).unwrap();
    let d = data.n_features();
    InProcess::from_shards(
        data,
        &shards,
        |s| LogisticRegression::new(Arc::new(s), lambda),
        &vec![0.0; d],
        variant,
        seed,
    )
    .unwrap()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

#[test]
fn perm_k_moves_d_floats_per_round_not_m_times_d() {
    let data = gaussian_planted(200, 40, 0.1, Task::Classification, 3);
    let f = LogisticRegression::new(Arc::new(data.clone()), 1e-2).unwrap();
    let problem = MastProblem::new(&f, Shift::zero(40));
    for (spec, per_round) in [
        (SketchSpec::perm_k(4), 40.0),
        (SketchSpec::identity(), 160.0),
    ] {
        let eng = engine(&data, 4, Sharding::Iid, Variant::Exact, 1e-2, 1);
        let sketches = NodeSketches::from_spec(&spec, 40, 4).unwrap();
        let mut alg = DistributedDsgd::new(
            sketches,
            Box::new(eng),
            StepSize::Theory { multiplier: 1.0 },
            5,
        )
        .unwrap();
        let mut state = Solver::<LogisticRegression>::init(&mut alg, &problem).unwrap();
        for _ in 0..25 {
            alg.next_iter(&problem, &mut state).unwrap();
        }
        let t = alg.traffic();
        assert_eq!(t.rounds, 25, "{spec}");
        assert_eq!(t.floats_down_per_round(), per_round, "{spec}");
        assert_eq!(t.floats_up, t.floats_down, "{spec}");
        assert_eq!(state.coords, 25 * per_round as u64, "{spec}");
        // 8 bytes per float each way, 4 per index, 16 per node for loss and count.
        assert_eq!(t.bytes_per_round(), 20.0 * per_round + 64.0, "{spec}");
    }
    // Bernoulli(0.5) on each of 4 nodes: about 2d per round (4 · d/2).
    let eng = engine(&data, 4, Sharding::Iid, Variant::Exact, 1e-2, 1);
    let sketches = NodeSketches::from_spec(&SketchSpec::bernoulli(0.5), 40, 4).unwrap();
    let mut alg = DistributedDsgd::new(
        sketches,
        Box::new(eng),
        StepSize::Constant { gamma: 0.1 },
        5,
    )
    .unwrap();
    let mut state = Solver::<LogisticRegression>::init(&mut alg, &problem).unwrap();
    for _ in 0..400 {
        alg.next_iter(&problem, &mut state).unwrap();
    }
    let per_round = alg.traffic().floats_down_per_round();
    assert!((per_round - 80.0).abs() < 2.0, "Bernoulli 0.5: {per_round}");
}

/// Runs Algorithm 2 through the executor on `threads` threads; returns the
/// metrics rows (as CSV text, every digit) and the final iterate.
fn run_with_threads(threads: usize, variant: Variant, spec: &SketchSpec) -> (String, Vec<f64>) {
    pool(threads).install(|| {
        // Enough rows that the objective's own reductions use several chunks.
        let data = gaussian_planted(5000, 30, 0.2, Task::Classification, 11);
        let f = LogisticRegression::new(Arc::new(data.clone()), 1e-3).unwrap();
        let problem = MastProblem::new(&f, Shift::zero(30));
        let eng = engine(&data, 4, Sharding::Dirichlet(0.5), variant, 1e-3, 9);
        let sketches = NodeSketches::from_spec(spec, 30, 4).unwrap();
        let mut alg = DistributedDsgd::new(
            sketches,
            Box::new(eng),
            StepSize::Theory { multiplier: 1.0 },
            9,
        )
        .unwrap();
        let evaluator = Evaluator {
            objective: &f,
            validation: None,
            test: None,
            reference: None,
        };
        let out = Executor::new(&problem, evaluator)
            .max_steps(60)
            .eval_every(10)
            .run(&mut alg, vec![0.0; 30])
            .unwrap();
        let mut rows = String::new();
        for r in &out.rows {
            rows += &format!(
                "{} {} {:?} {:?} {} {}\n",
                r.step, r.epoch, r.loss, r.sketched_loss, r.grad_norm, r.coords_touched
            );
        }
        (rows, out.state.x)
    })
}

#[test]
fn in_process_engine_is_bit_identical_with_one_and_two_threads() {
    for (variant, spec) in [
        (Variant::Exact, SketchSpec::perm_k(4)),
        (Variant::Minibatch(16), SketchSpec::bernoulli(0.3)),
        (Variant::Exact, SketchSpec::rand_k_fraction(0.5)),
    ] {
        let (rows1, x1) = run_with_threads(1, variant, &spec);
        let (rows2, x2) = run_with_threads(2, variant, &spec);
        assert_eq!(rows1, rows2, "{spec} {variant:?}");
        let bits = |x: &[f64]| x.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&x1), bits(&x2), "{spec} {variant:?}");
        assert!(norm(&x1) > 0.0);
    }
}

#[test]
fn matches_a_sequential_reference_implementation() {
    // The textbook loop: for each node, the dense sketched model, the dense
    // gradient of its shard, S_iᵀ of it, averaged.
    let data = gaussian_planted(90, 12, 0.2, Task::Classification, 4);
    let (m, d, lambda, seed, gamma) = (3, 12, 1e-2, 21, 0.3);
    let v: Vec<f64> = (0..d).map(|j| 0.05 * j as f64 - 0.2).collect();
    let shards = Sharding::ByLabel.split(&data, m, seed).unwrap();
    let locals: Vec<LogisticRegression> = shards
        .iter()
        .map(|rows| LogisticRegression::new(Arc::new(data.select_rows(rows, "s")), lambda).unwrap())
        .collect();
    let eng = InProcess::from_shards(
        &data,
        &shards,
        |s| LogisticRegression::new(Arc::new(s), lambda),
        &v,
        Variant::Exact,
        seed,
    )
    .unwrap();
    let f = LogisticRegression::new(Arc::new(data.clone()), lambda).unwrap();
    let problem = MastProblem::new(&f, Shift::new(&f, v.clone()));
    let spec = SketchSpec::rand_k(5);
    let mut alg = DistributedDsgd::new(
        NodeSketches::from_spec(&spec, d, m).unwrap(),
        Box::new(eng),
        StepSize::Constant { gamma },
        seed,
    )
    .unwrap();
    let mut state = Solver::<LogisticRegression>::init(&mut alg, &problem).unwrap();
    let sketch = spec.build(d).unwrap();
    let mut rngs: Vec<_> = (0..m)
        .map(|i| node_stream(seed, Stream::Sketch, i))
        .collect();
    let mut x = vec![0.0; d];
    let mut draw = SketchDraw::new();
    for _ in 0..50 {
        alg.next_iter(&problem, &mut state).unwrap();
        let mut update = vec![0.0; d];
        for i in 0..m {
            sketch.draw(&mut rngs[i], &mut draw);
            let s = draw.to_dense(d);
            let y: Vec<f64> = (0..d).map(|j| v[j] + s[j] * (x[j] - v[j])).collect();
            let mut g = vec![0.0; d];
            locals[i].loss_grad(&y, Rows::All, &mut g);
            for j in 0..d {
                update[j] += s[j] * g[j] / m as f64;
            }
        }
        for j in 0..d {
            x[j] -= gamma * update[j];
        }
        assert!(dist(&x, &state.x) <= 1e-12 * (1.0 + norm(&x)));
    }
    assert!(norm(&x) > 0.1);
}

/// The affine gradient map of a quadratic `x ↦ H x − c`, recovered exactly.
fn affine_parts(grad: impl Fn(&[f64]) -> Vec<f64>, d: usize) -> (SymMatrix, Vec<f64>) {
    let g0 = grad(&vec![0.0; d]);
    let h = SymMatrix::from_fn(d, |i, j| {
        let mut e = vec![0.0; d];
        e[j] = 1.0;
        grad(&e)[i] - g0[i]
    });
    (h, g0.iter().map(|t| -t).collect())
}

#[test]
fn converges_to_the_exact_minimiser_of_the_distributed_mast_problem() {
    // Least squares shards; the distributed MAST objective (1/M) Σ E f_i(v + S_i(x − v))
    // is a quadratic whose exact gradient is the average of the nodes' QuadraticMast
    // gradients (with each node's marginal sketch).
    let (n, d, m) = (60, 8, 4);
    let data = gaussian_planted(n, d, 0.5, Task::Regression, 8);
    let v: Vec<f64> = (0..d).map(|j| 0.1 * (j as f64 - 3.0)).collect();
    for (spec, sharding) in [
        (SketchSpec::perm_k(4), Sharding::Iid),
        (SketchSpec::bernoulli(0.6), Sharding::Dirichlet(0.3)),
    ] {
        let shards = sharding.split(&data, m, 2).unwrap();
        let quads: Vec<Quadratic> = shards
            .iter()
            .map(|rows| {
                let ls = LeastSquares::new(Arc::new(data.select_rows(rows, "s")), 0.05).unwrap();
                Quadratic::from_least_squares(&ls).unwrap()
            })
            .collect();
        let sketches = NodeSketches::from_spec(&spec, d, m).unwrap();
        let marginals: Vec<Box<dyn Sketch>> = match &sketches {
            NodeSketches::Joint(p) => (0..m)
                .map(|i| Box::new(p.node_marginal(i)) as Box<dyn Sketch>)
                .collect(),
            NodeSketches::Independent(_) => (0..m).map(|_| spec.build(d).unwrap()).collect(),
        };
        let masts: Vec<QuadraticMast> = quads
            .iter()
            .zip(&marginals)
            .map(|(q, s)| QuadraticMast::new(q, s.as_ref(), v.clone()).unwrap())
            .collect();
        let grad = |x: &[f64]| {
            let mut g = vec![0.0; d];
            for q in &masts {
                for (gj, t) in g.iter_mut().zip(q.gradient(x)) {
                    *gj += t / m as f64;
                }
            }
            g
        };
        let (h, c) = affine_parts(grad, d);
        let target = h.solve_spd(&c).unwrap();
        assert!(norm(&grad(&target)) < 1e-10);

        let eng = InProcess::from_shards(
            &data,
            &shards,
            |s| LeastSquares::new(Arc::new(s), 0.05),
            &v,
            Variant::Exact,
            3,
        )
        .unwrap();
        let f = LeastSquares::new(Arc::new(data.clone()), 0.05).unwrap();
        let problem = MastProblem::new(&f, Shift::new(&f, v.clone()));
        let mut alg = DistributedDsgd::new(
            sketches,
            Box::new(eng),
            StepSize::Decreasing {
                multiplier: 1.0,
                t0: 200.0,
            },
            3,
        )
        .unwrap();
        let mut state = Solver::<LeastSquares>::init(&mut alg, &problem).unwrap();
        let mut avg = vec![0.0; d];
        let (steps, tail) = (120_000, 60_000);
        for t in 0..steps {
            alg.next_iter(&problem, &mut state).unwrap();
            if t >= steps - tail {
                for j in 0..d {
                    avg[j] += state.x[j] / tail as f64;
                }
            }
        }
        let rel = dist(&avg, &target) / norm(&target);
        println!("{spec} {sharding}: relative error {rel:.2e}");
        assert!(rel < 1e-2, "{spec}: {rel}");
    }
}

#[test]
fn sharding_partitions_the_rows_reproducibly() {
    let data = gaussian_planted(101, 3, 0.0, Task::Classification, 5);
    for sharding in [Sharding::Iid, Sharding::ByLabel, Sharding::Dirichlet(0.2)] {
        let shards = sharding.split(&data, 4, 7).unwrap();
        assert_eq!(shards, sharding.split(&data, 4, 7).unwrap(), "{sharding}");
        assert_ne!(shards, sharding.split(&data, 4, 8).unwrap(), "{sharding}");
        let mut all: Vec<usize> = shards.concat();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>(), "{sharding}");
        assert!(shards.iter().all(|s| !s.is_empty()), "{sharding}");
        assert!(shards.iter().all(|s| s.windows(2).all(|w| w[0] < w[1])));
        if sharding != Sharding::Dirichlet(0.2) {
            let sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
            assert_eq!(sizes, vec![26, 25, 25, 25], "{sharding}");
        }
    }
    // Label heterogeneity: fraction of +1 labels per node.
    let frac = |shards: &[Vec<usize>]| -> Vec<f64> {
        shards
            .iter()
            .map(|s| s.iter().filter(|&&i| data.labels[i] > 0.0).count() as f64 / s.len() as f64)
            .collect()
    };
    let spread =
        |f: Vec<f64>| f.iter().copied().fold(0.0, f64::max) - f.iter().copied().fold(1.0, f64::min);
    let by_label = frac(&Sharding::ByLabel.split(&data, 2, 1).unwrap());
    assert!(spread(by_label.clone()) > 0.9, "{by_label:?}");
    let iid = frac(&Sharding::Iid.split(&data, 2, 1).unwrap());
    assert!(spread(iid.clone()) < 0.3, "{iid:?}");
    let dir = frac(&Sharding::Dirichlet(0.05).split(&data, 4, 1).unwrap());
    assert!(spread(dir.clone()) > 0.5, "{dir:?}");
}

#[test]
fn bad_distributed_settings_are_errors() {
    let data = gaussian_planted(5, 3, 0.0, Task::Classification, 5);
    let err = Sharding::Iid.split(&data, 6, 1).unwrap_err().to_string();
    assert!(
        err.contains("6 nodes") && err.contains("5 training samples"),
        "{err}"
    );
    assert!(Sharding::Dirichlet(0.0).split(&data, 2, 1).is_err());
    assert!(Sharding::Iid.split(&data, 0, 1).is_err());
    for bad in ["dirichlet:x", "random", "dirichlet"] {
        let err = bad.parse::<Sharding>().unwrap_err().to_string();
        assert!(err.contains("sharding"), "{bad}: {err}");
    }
    assert_eq!("by-label".parse::<Sharding>().unwrap(), Sharding::ByLabel);
    let err = NodeSketches::from_spec(&SketchSpec::perm_k(3), 12, 4)
        .unwrap_err()
        .to_string();
    assert!(err.contains("perm-k:3") && err.contains("4 nodes"), "{err}");
    let err = "dropout:0.5".parse::<SketchSpec>().unwrap_err().to_string();
    assert!(
        err.contains("ambiguous") && err.contains("dropconnect"),
        "{err}"
    );
    // A node whose shard is smaller than the batch.
    let shards = Sharding::Iid.split(&data, 2, 1).unwrap();
    let err = InProcess::from_shards(
        &data,
        &shards,
        |s| LogisticRegression::new(Arc::new(s), 0.1),
        &[0.0; 3],
        Variant::Minibatch(4),
        1,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("batch size 4"), "{err}");
    // Node sketch count vs engine nodes.
    let eng = InProcess::from_shards(
        &data,
        &shards,
        |s| LogisticRegression::new(Arc::new(s), 0.1),
        &[0.0; 3],
        Variant::Exact,
        1,
    )
    .unwrap();
    assert_eq!(eng.nodes(), 2);
    let sk = NodeSketches::from_spec(&SketchSpec::bernoulli(0.5), 3, 3).unwrap();
    assert!(DistributedDsgd::new(sk, Box::new(eng), StepSize::Constant { gamma: 0.1 }, 1).is_err());
}
