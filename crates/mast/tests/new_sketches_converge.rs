//! The quadratic closed form x_D* (MAST.md §2, with E[SᵀAS] as an operator) is
//! reached with the sketches beyond masks (issue 16): Gaussian, randomized
//! Hadamard and importance sampling, by Algorithm 1 (I) (the average of its
//! iterates at a constant step: for a quadratic, the iterates' stationary mean is
//! x_D*) and by Algorithm 3 with b = N (linear convergence to the minimiser of its
//! finite sketch set).

use std::sync::Arc;

use mast::algorithm::Lsvrdsg;
use mast::data::synthetic::{gaussian_planted, Task};
use mast::linalg::{dist, norm};
use mast::prelude::*;
use mast::sketch::{Bernoulli, Gaussian, Hadamard, Sketch};
use mast::sketched::QuadraticMast;

const D: usize = 20;

fn problem() -> (LeastSquares, Quadratic) {
    let data = Arc::new(gaussian_planted(120, D, 0.5, Task::Regression, 31));
    let ls = LeastSquares::new(data, 0.05).unwrap();
    let q = Quadratic::from_least_squares(&ls).unwrap();
    (ls, q)
}

/// The three new sketches (importance weights √L_j from the objective).
fn sketches(ls: &LeastSquares) -> Vec<(&'static str, Box<dyn Sketch>)> {
    let m = D.next_power_of_two();
    let sqrt_l: Vec<f64> = ls
        .coordinate_smoothness()
        .unwrap()
        .iter()
        .map(|l| l.sqrt())
        .collect();
    vec![
        ("gaussian:0.5", Box::new(Gaussian::new(D, 0.5).unwrap())),
        (
            "hadamard:bernoulli:0.5",
            Box::new(Hadamard::new(D, Box::new(Bernoulli::new(m, 0.5).unwrap())).unwrap()),
        ),
        (
            "importance:sqrt-l:0.5",
            Box::new(Bernoulli::importance(&sqrt_l, 0.5).unwrap()),
        ),
    ]
}

#[test]
fn algorithm1_exact_reaches_x_d_star_in_the_mean() {
    let (ls, q) = problem();
    let v = vec![0.1; D];
    let mut errors = Vec::new();
    for (name, sketch) in sketches(&ls) {
        let target = QuadraticMast::new(&q, sketch.as_ref(), v.clone())
            .unwrap()
            .minimizer()
            .unwrap();
        // A constant step well inside 1/(L_f L_D) (the Gaussian's L_S^max is ∞).
        let gamma = 0.3 / (ls.smoothness() * sketch.l_d());
        let mut solver =
            DoubleSketchedSgd::new(sketch, Variant::Exact, StepSize::Constant { gamma }, 5)
                .unwrap();
        let problem = MastProblem::new(&ls, Shift::new(&ls, v.clone()));
        let mut state = solver.init(&problem).unwrap();
        let (burn_in, keep) = (2_000, 800_000);
        let mut mean = vec![0.0; D];
        for t in 0..burn_in + keep {
            solver.next_iter(&problem, &mut state).unwrap();
            if t >= burn_in {
                for (m, x) in mean.iter_mut().zip(&state.x) {
                    *m += x / keep as f64;
                }
            }
        }
        let rel = dist(&mean, &target) / norm(&target);
        let last = dist(&state.x, &target) / norm(&target);
        eprintln!(
            "{name}: Algorithm 1 (I) mean iterate rel. error {rel:.2e} (last iterate {last:.2e})"
        );
        errors.push((name, rel));
    }
    for (name, rel) in errors {
        assert!(rel <= 1e-3, "{name}: relative error {rel:.2e}");
    }
}

#[test]
fn algorithm3_full_reference_reaches_its_finite_sum_minimiser() {
    let (ls, q) = problem();
    let v = vec![0.1; D];
    for (name, sketch) in sketches(&ls) {
        let n = 8;
        // A constant step from the draws' largest possible scale (the theory step
        // 1/(6 L_f L_S^max) is 0 for the Gaussian).
        let gamma = 1.0 / (6.0 * ls.smoothness() * sketch.l_d() * 4.0);
        let mut solver = Lsvrdsg::new(sketch, n, n, 0.1, StepSize::Constant { gamma }, 3).unwrap();
        let problem = MastProblem::new(&ls, Shift::new(&ls, v.clone()));
        let mut state = solver.init(&problem).unwrap();
        let target =
            QuadraticMast::from_sketch_draws(&q, solver.sketch(), solver.draws(), v.clone())
                .unwrap()
                .minimizer()
                .unwrap();
        let start = dist(&state.x, &target) / norm(&target);
        for _ in 0..30_000 {
            solver.next_iter(&problem, &mut state).unwrap();
        }
        let rel = dist(&state.x, &target) / norm(&target);
        eprintln!("{name}: Algorithm 3 (b = N) relative error {start:.2e} → {rel:.2e}");
        assert!(rel <= 1e-6, "{name}: relative error {rel:.2e}");
    }
}
