#![allow(clippy::needless_range_loop)] // index loops mirror the formulas
//! Exact oracles: finite differences, the fast sketched path against the dense
//! definition, quadratic closed forms (MAST.md §2), Algorithm 1 convergence to x_D*,
//! Identity sketch = plain (S)GD, the ERM optimum on a5a.

use std::sync::Arc;

use mast::algorithm::erm::{solve_erm, ErmOptions};
use mast::data::synthetic::{gaussian_planted, sparse_binary_planted, Task};
use mast::data::{load_libsvm_pair, CsrMatrix, Dataset, Design};
use mast::linalg::dist;
use mast::objective::{Workspace, *};
use mast::prelude::*;
use mast::rng::{stream, Stream};
use mast::sketched::{estimate_fd, sketched_value_grad, QuadraticMast};
use rand::Rng;

fn shipped(name: &str) -> String {
    format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn random_vec(d: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut rng = stream(seed, Stream::Init);
    (0..d)
        .map(|_| scale * (2.0 * rng.random::<f64>() - 1.0))
        .collect()
}

fn datasets() -> Vec<Arc<Dataset>> {
    vec![
        Arc::new(gaussian_planted(37, 9, 0.3, Task::Classification, 1)),
        Arc::new(sparse_binary_planted(45, 12, 4, 2)),
        Arc::new(sparse_real(41, 10, 3)),
    ]
}

/// Sparse data with real values (the binary-feature fast path does not apply):
/// a Gaussian design with its small entries dropped.
fn sparse_real(n: usize, d: usize, seed: u64) -> Dataset {
    let dense = gaussian_planted(n, d, 0.3, Task::Classification, seed);
    let (mut indptr, mut indices, mut values) = (vec![0usize], Vec::new(), Vec::new());
    for i in 0..n {
        for j in 0..d {
            let a = match &dense.features {
                Design::Dense(m) => m.get(i, j),
                Design::Sparse(_) => unreachable!(),
            };
            if a.abs() > 0.6 {
                indices.push(j as u32);
                values.push(a);
            }
        }
        indptr.push(indices.len());
    }
    let csr = CsrMatrix::new(n, d, indptr, indices, values);
    assert!(!csr.is_binary());
    Dataset::new("sparse-real", Design::Sparse(csr), dense.labels)
}

fn fd_check<O: Objective>(f: &O, x: &[f64]) {
    let mut g = vec![0.0; f.dim()];
    let val = f.loss_grad(x, Rows::All, &mut g);
    assert!((val - f.loss(x)).abs() <= 1e-12 * val.abs().max(1.0));
    for j in 0..f.dim() {
        let h = 1e-6;
        let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
        xp[j] += h;
        xm[j] -= h;
        let num = (f.loss(&xp) - f.loss(&xm)) / (2.0 * h);
        assert!(
            (num - g[j]).abs() <= 1e-7 * (1.0 + g[j].abs()),
            "coord {j}: finite difference {num} vs gradient {}",
            g[j]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    for data in datasets() {
        let d = data.n_features();
        let x = random_vec(d, 3, 1.0);
        fd_check(&LogisticRegression::new(data.clone(), 0.03).unwrap(), &x);
        fd_check(&LeastSquares::new(data.clone(), 0.03).unwrap(), &x);
    }
}

#[test]
fn minibatch_gradient_is_the_batch_average() {
    for data in datasets() {
        let f = LogisticRegression::new(data.clone(), 0.01).unwrap();
        let d = f.dim();
        let x = random_vec(d, 4, 1.0);
        let batch = [3usize, 7, 7, 11];
        let mut g = vec![0.0; d];
        let loss = f.loss_grad(&x, Rows::Batch(&batch), &mut g);
        // Reference: the single-row objectives.
        let mut want = vec![0.0; d];
        let mut want_loss = 0.0;
        for &i in &batch {
            let single = Arc::new(data.select_rows(&[i], "one"));
            let fi = LogisticRegression::new(single, 0.01).unwrap();
            let mut gi = vec![0.0; d];
            want_loss += fi.loss_grad(&x, Rows::All, &mut gi) / 4.0;
            for j in 0..d {
                want[j] += gi[j] / 4.0;
            }
        }
        assert!((loss - want_loss).abs() < 1e-12);
        assert!(dist(&g, &want) < 1e-12);
    }
}

/// The fast path of linear models against the definition S ∇f(v + S(x − v)).
#[test]
fn sketched_fast_path_equals_definition() {
    for data in datasets() {
        let f = LogisticRegression::new(data.clone(), 0.02).unwrap();
        let d = f.dim();
        let n = f.num_samples();
        let x = random_vec(d, 5, 1.0);
        for v in [vec![0.0; d], random_vec(d, 6, 0.5)] {
            let shift = Shift::new(&f, v.clone());
            let mut ws = Workspace::new(d, n);
            let mut rng = stream(9, Stream::Sketch);
            for spec in [
                "bernoulli:0.4",
                "rand-k:0.3",
                "rand-k:k=1",
                "identity",
                "perm-k:3",
            ] {
                let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
                let mut draw = SketchDraw::new();
                for rep in 0..5 {
                    sketch.draw(&mut rng, &mut draw);
                    let batch: Vec<usize> = (0..7).map(|t| (t * 5 + rep) % n).collect();
                    for rows in [Rows::All, Rows::Batch(&batch)] {
                        let mut out = vec![0.0; d];
                        let got = f.sketched_loss_grad(&shift, &x, &draw, rows, &mut ws, &mut out);
                        let mut y = vec![0.0; d];
                        draw.apply_shifted(&x, &v, &mut y);
                        let mut g = vec![0.0; d];
                        let want = f.loss_grad(&y, rows, &mut g);
                        assert!(
                            (got - want).abs() < 1e-12 * want.abs().max(1.0),
                            "{spec}: loss {got} vs {want}"
                        );
                        for (k, (j, c)) in draw.iter().enumerate() {
                            assert!(
                                (out[k] - c * g[j]).abs() < 1e-12 * (1.0 + g[j].abs()),
                                "{spec}: grad coord {j}"
                            );
                        }
                    }
                }
            }
            // The workspace invariants hold: the zero buffers are zero again.
            assert!(ws.g.iter().all(|&t| t == 0.0) && ws.w.iter().all(|&t| t == 0.0));
        }
    }
}

fn least_squares_quadratic(seed: u64) -> (LeastSquares, Quadratic) {
    let data = Arc::new(gaussian_planted(60, 8, 0.5, Task::Regression, seed));
    let ls = LeastSquares::new(data, 0.05).unwrap();
    let q = Quadratic::from_least_squares(&ls).unwrap();
    (ls, q)
}

#[test]
fn least_squares_is_its_quadratic() {
    let (ls, q) = least_squares_quadratic(11);
    for s in 0..3 {
        let x = random_vec(8, 20 + s, 2.0);
        assert!((ls.loss(&x) - q.loss(&x)).abs() < 1e-12);
        let (mut g1, mut g2) = (vec![0.0; 8], vec![0.0; 8]);
        ls.loss_grad(&x, Rows::All, &mut g1);
        q.loss_grad(&x, Rows::All, &mut g2);
        assert!(dist(&g1, &g2) < 1e-12);
    }
    // Smoothness by power iteration matches the largest eigenvalue.
    let eig = q.a().eigenvalues().unwrap();
    assert!((ls.smoothness() - eig[7]).abs() < 1e-8 * eig[7]);
}

/// MAST.md §2: f_D, ∇f_D and x_D* in closed form against exact enumeration of the sketch.
#[test]
fn quadratic_closed_forms_match_enumeration() {
    let (_, q) = least_squares_quadratic(12);
    let d = 8;
    let v = random_vec(d, 13, 0.7);
    let x = random_vec(d, 14, 1.5);
    for spec in [
        "bernoulli:0.3",
        "bernoulli:0.8",
        "rand-k:k=3",
        "rand-k:k=8",
        "perm-k:3",
        "identity",
    ] {
        let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
        let exact = QuadraticMast::new(&q, sketch.as_ref(), v.clone()).unwrap();
        let draws = sketch.enumerate().expect("small d enumerates");
        let shift = Shift::new(&q, v.clone());
        let (mut fd, mut gd) = (0.0, vec![0.0; d]);
        for (p, draw) in &draws {
            let (f, g) = sketched_value_grad(&q, &shift, &x, draw);
            fd += p * f;
            for j in 0..d {
                gd[j] += p * g[j];
            }
        }
        assert!(
            (exact.value(&x) - fd).abs() < 1e-10 * fd.abs().max(1.0),
            "{spec}: f_D"
        );
        assert!(dist(&exact.gradient(&x), &gd) < 1e-10, "{spec}: ∇f_D");
        // x_D* makes the enumerated gradient vanish.
        let xs = exact.minimizer().unwrap();
        let mut g_at = vec![0.0; d];
        for (p, draw) in &draws {
            let (_, g) = sketched_value_grad(&q, &shift, &xs, draw);
            for j in 0..d {
                g_at[j] += p * g[j];
            }
        }
        assert!(
            g_at.iter().all(|t| t.abs() < 1e-10),
            "{spec}: ∇f_D(x_D*) = {g_at:?}"
        );
        // Sandwich f ≤ f_D (f convex, E[S] = I).
        assert!(q.loss(&x) <= exact.value(&x) + 1e-12);
    }
    // Bernoulli: E[SᵀAS] = A + Diag(A)(P⁻¹ − I).
    let p = 0.3;
    let m = QuadraticMast::new(&q, &Bernoulli::new(d, p).unwrap(), v.clone()).unwrap();
    for j in 0..d {
        for l in 0..d {
            let a = q.a().get(j, l);
            let want = if j == l { a / p } else { a };
            assert!((m.expected_sas().get(j, l) - want).abs() < 1e-12);
        }
    }
}

/// Monte-Carlo f_D agrees with the exact value within its standard error.
#[test]
fn fd_estimate_is_unbiased() {
    let (_, q) = least_squares_quadratic(15);
    let d = 8;
    let v = random_vec(d, 16, 0.3);
    let x = random_vec(d, 17, 1.0);
    let sketch = RandK::new(d, 3).unwrap();
    let exact = QuadraticMast::new(&q, &sketch, v.clone())
        .unwrap()
        .value(&x);
    let est = estimate_fd(
        &q,
        &Shift::new(&q, v),
        &sketch,
        &x,
        20_000,
        &mut stream(1, Stream::Estimate),
    );
    assert!(
        (est.mean - exact).abs() < 5.0 * est.std_err,
        "{est:?} vs {exact}"
    );
    assert!(est.std_err > 0.0);
}

fn run_dsgd<O: Objective>(
    f: &O,
    v: Vec<f64>,
    spec: &str,
    variant: Variant,
    step: StepSize,
    steps: u64,
    seed: u64,
) -> Vec<f64> {
    let d = f.dim();
    let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
    let mut solver = DoubleSketchedSgd::new(sketch, variant, step, seed).unwrap();
    let problem = MastProblem::new(f, Shift::new(f, v));
    let mut state = solver.init(&problem).unwrap();
    for _ in 0..steps {
        solver.next_iter(&problem, &mut state).unwrap();
    }
    state.x
}

/// Acceptance 2 of the core issue: Algorithm 1 with a decreasing step converges to the
/// closed-form x_D* (relative error ≤ 1e-3), on the fast linear path and the generic one.
#[test]
fn algorithm1_converges_to_closed_form_minimiser() {
    let (ls, q) = least_squares_quadratic(21);
    let d = 8;
    for v in [vec![0.0; d], random_vec(d, 22, 0.5)] {
        for spec in ["bernoulli:0.5", "rand-k:0.5"] {
            let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
            let xs = QuadraticMast::new(&q, sketch.as_ref(), v.clone())
                .unwrap()
                .minimizer()
                .unwrap();
            let x_star = q.minimizer().unwrap();
            assert!(
                dist(&xs, &x_star) > 1e-2,
                "x_D* differs from x*: the test has teeth"
            );
            let step = StepSize::Decreasing {
                multiplier: 1.0,
                t0: 20.0,
            };
            for (which, x) in [
                (
                    "linear fast path",
                    run_dsgd(&ls, v.clone(), spec, Variant::Exact, step, 400_000, 1),
                ),
                (
                    "generic quadratic",
                    run_dsgd(&q, v.clone(), spec, Variant::Exact, step, 400_000, 1),
                ),
            ] {
                let rel = dist(&x, &xs) / mast::linalg::norm(&xs);
                eprintln!("{spec} ({which}): relative error {rel:.2e}");
                assert!(rel <= 1e-3, "{spec} ({which}): relative error {rel:.2e}");
            }
        }
    }
}

/// With the Identity sketch, Algorithm 1 is plain GD / SGD step for step.
#[test]
fn identity_sketch_is_plain_sgd() {
    for data in datasets() {
        let f = LogisticRegression::new(data, 0.01).unwrap();
        let d = f.dim();
        for variant in [Variant::Exact, Variant::Minibatch(5)] {
            let step = StepSize::Theory { multiplier: 1.0 };
            let problem = MastProblem::new(&f, Shift::zero(d));
            let mut a =
                DoubleSketchedSgd::new(Box::new(Identity::new(d)), variant, step, 3).unwrap();
            let mut b = GradientDescent::new(variant, step, 3);
            let mut sa = a.init(&problem).unwrap();
            let mut sb = Solver::<LogisticRegression>::init(&mut b, &problem).unwrap();
            assert_eq!(
                Solver::<LogisticRegression>::theory_gamma(&a),
                Solver::<LogisticRegression>::theory_gamma(&b)
            );
            for t in 0..200 {
                a.next_iter(&problem, &mut sa).unwrap();
                b.next_iter(&problem, &mut sb).unwrap();
                let gap = dist(&sa.x, &sb.x);
                assert!(
                    gap <= 1e-13 * (1.0 + mast::linalg::norm(&sb.x)),
                    "step {t}: {gap:e}"
                );
                assert_eq!(sa.samples, sb.samples);
            }
        }
    }
}

/// Acceptance 1 of the core issue: f* on a5a with λ = 1/n.
#[test]
fn erm_optimum_on_a5a() {
    let pair = load_libsvm_pair(shipped("a5a.gz"), Some(shipped("a5a.t.gz")), None).unwrap();
    let n = pair.train.n_samples();
    let f = LogisticRegression::new(Arc::new(pair.train), 1.0 / n as f64).unwrap();
    let sol = solve_erm(&f, &ErmOptions::default()).unwrap();
    assert_eq!(sol.method, "newton");
    assert!(sol.grad_norm <= 1e-10, "‖∇f‖ = {:e}", sol.grad_norm);
    assert!(
        (sol.loss - 0.3236212822).abs() <= 1e-9,
        "f* = {:.12}",
        sol.loss
    );
    let test_acc = pair.test.unwrap().accuracy(&sol.x);
    assert_eq!(format!("{test_acc:.4}"), "0.8455");
    assert_eq!(format!("{:.4}", f.accuracy(&sol.x).unwrap()), "0.8495");
    // L-BFGS reaches the same optimum.
    let lb = solve_erm(
        &f,
        &ErmOptions {
            solver: mast::algorithm::erm::ErmSolver::Lbfgs,
            tol: 1e-9,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(lb.method, "lbfgs");
    assert!(lb.converged, "L-BFGS stopped at ‖∇f‖ = {:e}", lb.grad_norm);
    assert!((lb.loss - sol.loss).abs() < 1e-12);
}
