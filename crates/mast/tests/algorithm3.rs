//! Algorithm 3 (L-SVRDSG) reaches the exact minimiser of its finite sketch set;
//! Algorithm 1 at a constant step stalls in a neighbourhood that shrinks with γ.

use std::sync::Arc;

use mast::algorithm::Lsvrdsg;
use mast::data::synthetic::{gaussian_planted, Task};
use mast::linalg::{dist, norm};
use mast::prelude::*;
use mast::sketched::QuadraticMast;

fn problem() -> (LeastSquares, Quadratic) {
    let data = Arc::new(gaussian_planted(200, 50, 0.5, Task::Regression, 31));
    let ls = LeastSquares::new(data, 0.02).unwrap();
    let q = Quadratic::from_least_squares(&ls).unwrap();
    (ls, q)
}

#[test]
fn lsvrdsg_with_full_reference_reaches_the_finite_sum_minimiser() {
    let (ls, q) = problem();
    let d = 50;
    for spec in ["bernoulli:0.5", "rand-k:0.5"] {
        let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
        let mut solver =
            Lsvrdsg::new(sketch, 10, 10, 0.1, StepSize::Theory { multiplier: 1.0 }, 3).unwrap();
        let problem = MastProblem::new(&ls, Shift::zero(d));
        let mut state = solver.init(&problem).unwrap();
        let target = QuadraticMast::from_draws(&q, solver.draws(), vec![0.0; d])
            .unwrap()
            .minimizer()
            .unwrap();
        let start = dist(&state.x, &target) / norm(&target);
        for _ in 0..20_000 {
            solver.next_iter(&problem, &mut state).unwrap();
        }
        let rel = dist(&state.x, &target) / norm(&target);
        eprintln!("{spec}: L-SVRDSG relative error {start:.2e} → {rel:.2e}");
        assert!(rel <= 1e-8, "{spec}: relative error {rel:.2e}");
    }
}

#[test]
fn lsvrdsg_rejects_bad_parameters() {
    let s = || SketchSpec::rand_k_fraction(0.5).build(10).unwrap();
    let step = StepSize::Theory { multiplier: 1.0 };
    assert!(Lsvrdsg::new(s(), 0, 1, 0.1, step, 1)
        .unwrap_err()
        .to_string()
        .contains("n_sketches"));
    assert!(Lsvrdsg::new(s(), 5, 6, 0.1, step, 1)
        .unwrap_err()
        .to_string()
        .contains("ref_batch"));
    assert!(Lsvrdsg::new(s(), 5, 5, 0.0, step, 1)
        .unwrap_err()
        .to_string()
        .contains("rho"));
}

/// Mean squared distance to x_D* over the last iterates of Algorithm 1 at constant γ.
fn alg1_neighbourhood(ls: &LeastSquares, target: &[f64], multiplier: f64) -> f64 {
    let d = 50;
    let sketch = SketchSpec::rand_k_fraction(0.5).build(d).unwrap();
    let mut solver =
        DoubleSketchedSgd::new(sketch, Variant::Exact, StepSize::Theory { multiplier }, 8).unwrap();
    let problem = MastProblem::new(ls, Shift::zero(d));
    let mut state = solver.init(&problem).unwrap();
    let (burn_in, keep) = (20_000, 20_000);
    let mut acc = 0.0;
    for t in 0..burn_in + keep {
        solver.next_iter(&problem, &mut state).unwrap();
        if t >= burn_in {
            acc += dist(&state.x, target).powi(2);
        }
    }
    acc / keep as f64
}

#[test]
fn algorithm1_neighbourhood_shrinks_with_the_step() {
    let (ls, q) = problem();
    let sketch = RandK::with_fraction(50, 0.5).unwrap();
    let target = QuadraticMast::new(&q, &sketch, vec![0.0; 50])
        .unwrap()
        .minimizer()
        .unwrap();
    let big = alg1_neighbourhood(&ls, &target, 1.0);
    let small = alg1_neighbourhood(&ls, &target, 0.25);
    eprintln!("E‖x − x_D*‖²: γ_theory {big:.3e}, γ_theory/4 {small:.3e}");
    // The neighbourhood is about proportional to γ: a quarter of the step, about a quarter of the radius².
    assert!(
        small < 0.5 * big && small > 0.1 * big,
        "{big:e} vs {small:e}"
    );
    assert!(big > 1e-8, "Algorithm 1 does stall at a neighbourhood");
}

/// The finite-set closed forms against a direct average over the set (S̄ ≠ I there).
#[test]
fn finite_set_closed_forms_match_the_average() {
    let (_, q) = problem();
    let d = 50;
    let sketch = RandK::with_fraction(d, 0.3).unwrap();
    let mut rng = mast::rng::stream(4, mast::rng::Stream::Sketch);
    let draws: Vec<SketchDraw> = (0..7)
        .map(|_| {
            let mut s = SketchDraw::new();
            sketch.draw(&mut rng, &mut s);
            s
        })
        .collect();
    let v: Vec<f64> = (0..d).map(|j| 0.01 * j as f64).collect();
    let x: Vec<f64> = (0..d).map(|j| 0.5 - 0.02 * j as f64).collect();
    let exact = QuadraticMast::from_draws(&q, &draws, v.clone()).unwrap();
    let shift = Shift::new(&q, v);
    let (mut f, mut g) = (0.0, vec![0.0; d]);
    for draw in &draws {
        let (fi, gi) = mast::sketched::sketched_value_grad(&q, &shift, &x, draw);
        f += fi / 7.0;
        for j in 0..d {
            g[j] += gi[j] / 7.0;
        }
    }
    assert!((exact.value(&x) - f).abs() < 1e-12 * f.abs().max(1.0));
    assert!(dist(&exact.gradient(&x), &g) < 1e-12);
}
