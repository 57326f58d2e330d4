//! Step cost vs kept coordinates: Algorithm 1 with Rand-K at K = d/100 (or d/10)
//! against K = d, for variant (I) (full data) and (II) (minibatch of 64), on dense
//! synthetic data (d = 10⁵, n = 2,000, as the core issue asks) and on sparse data.
//!
//!     cargo bench -p mast --bench step_scaling            # full size (needs ~3.5 GB)
//!     cargo bench -p mast --bench step_scaling -- --small # a quick check
//!
//! Prints seconds per step and the ratio time(K)/time(d); the physical limits are
//! K/d for (I) with contiguous columns and about 8K/d for (II) (a cache line per
//! kept coordinate per row).

use std::sync::Arc;
use std::time::Instant;

use mast::algorithm::{DoubleSketchedSgd, MastProblem, Solver, StepSize, Variant};
use mast::data::synthetic::{gaussian_planted, sparse_binary_planted, Task};
use mast::data::{load_libsvm_pair, Dataset};
use mast::objective::{LogisticRegression, Shift};
use mast::sketch::RandK;

/// Seconds per step of Algorithm 1 with Rand-K(k), after warm-up, measured over
/// at least `min_time` seconds and 3 steps.
fn time_per_step(f: &LogisticRegression, k: usize, variant: Variant, min_time: f64) -> f64 {
    let d = mast::objective::Objective::dim(f);
    let sketch = Box::new(RandK::new(d, k).unwrap());
    // A small fixed step: the bench measures cost, not progress.
    let mut solver =
        DoubleSketchedSgd::new(sketch, variant, StepSize::Constant { gamma: 1e-3 }, 42).unwrap();
    let problem = MastProblem::new(f, Shift::zero(d));
    let mut state = solver.init(&problem).unwrap();
    for _ in 0..2 {
        solver.next_iter(&problem, &mut state).unwrap();
    }
    let start = Instant::now();
    let mut steps = 0u64;
    while steps < 3 || start.elapsed().as_secs_f64() < min_time {
        solver.next_iter(&problem, &mut state).unwrap();
        steps += 1;
    }
    start.elapsed().as_secs_f64() / steps as f64
}

fn report(label: &str, data: Dataset, k_small: usize, min_time: f64) {
    let d = data.n_features();
    let f = LogisticRegression::new(Arc::new(data), 1e-4).unwrap();
    for (variant, name, limit) in [
        (Variant::Exact, "(I)  full data", k_small as f64 / d as f64),
        (
            Variant::Minibatch(64),
            "(II) batch 64",
            (8.0 * k_small as f64 / d as f64).min(1.0),
        ),
    ] {
        let full = time_per_step(&f, d, variant, min_time);
        let small = time_per_step(&f, k_small, variant, min_time);
        println!(
            "{label:<28} {name:<15} K=d: {:>10.3e} s/step   K={k_small:<6}: {:>10.3e} s/step   ratio {:.4}   (K/d = {:.4}, limit ≈ {:.4})",
            full,
            small,
            small / full,
            k_small as f64 / d as f64,
            limit
        );
    }
}

fn main() {
    let small = std::env::args().any(|a| a == "--small");
    let min_time = if small { 0.2 } else { 1.0 };
    println!("threads: {}", rayon::current_num_threads());
    let (n, d) = if small {
        (500, 20_000)
    } else {
        (2_000, 100_000)
    };
    let t = Instant::now();
    let dense = gaussian_planted(n, d, 0.1, Task::Classification, 1);
    eprintln!(
        "generated dense {n}×{d} in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    report(&format!("dense {n}×{d}"), dense, d / 100, min_time);
    let sparse = sparse_binary_planted(n, d, d / 100, 2);
    report(
        &format!("sparse {n}×{d}, 1% dense"),
        sparse,
        d / 100,
        min_time,
    );
    let a5a = format!("{}/../../data/a5a.gz", env!("CARGO_MANIFEST_DIR"));
    let pair = load_libsvm_pair(&a5a, None::<&str>, Some(123)).unwrap();
    report("a5a 6414×123 (K=d/10)", pair.train, 12, min_time);
}
