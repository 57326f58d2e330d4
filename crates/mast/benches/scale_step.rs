//! The cost of one step of Algorithm 1 (II) at LIBSVM scale: a news20-shaped
//! sparse problem (n = 20,000, d = 1,355,191, about 450 real-valued nonzeros a
//! row, unit-norm rows, power-law column frequencies) built in memory from a fixed
//! seed, or a LIBSVM file named by `MAST_SCALE_DATA`; and a5a (`data/a5a.gz`, the
//! bit-row kernels) for the no-regression check.
//!
//!     cargo bench -p mast --bench scale_step
//!     MAST_SCALE_DATA=news20.svm cargo bench -p mast --bench scale_step
//!     cargo bench -p mast --bench scale_step -- --min-time 3 --only news20
//!     cargo bench -p mast --bench scale_step -- --only news20 --sketch rand-k:0.05
//!     cargo bench -p mast --bench scale_step -- --only hadamard
//!
//! Prints microseconds per step (best of 5 timed blocks after a warm-up, and the
//! median) for batch 32 at `rand-k:0.5`, `rand-k:0.01` and `bernoulli:0.5`, and
//! for a5a at K = d/2 and K = d/10; and the cost of a sketch draw alone (with
//! two or more threads the solver draws ahead on a helper thread). The a5a file
//! can be given by `MAST_A5A`.

use std::sync::Arc;
use std::time::Instant;

use mast::algorithm::{DoubleSketchedSgd, MastProblem, Solver, StepSize, Variant};
use mast::data::{load_libsvm_pair, CsrMatrix, Dataset, Design};
use mast::objective::{LogisticRegression, Objective, Shift};
use mast::rng::{stream, Stream};
use mast::sketch::{fwht, Sketch, SketchDraw, SketchSpec};
use rand::Rng;

/// A news20-shaped problem: `n` rows of about `per_row` distinct columns of `d`,
/// column j drawn with probability ∝ 1/(j + 1) (a power law: few columns in
/// almost every row, most in a handful), positive values scaled to unit rows,
/// labels from a planted model.
fn news20_like(n: usize, d: usize, per_row: usize, seed: u64) -> Dataset {
    let mut rng = stream(seed, Stream::Synthetic);
    let ln_d = (d as f64).ln();
    let planted: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
    let mut indptr = Vec::with_capacity(n + 1);
    indptr.push(0usize);
    let mut indices: Vec<u32> = Vec::with_capacity(n * per_row);
    let mut values: Vec<f64> = Vec::with_capacity(n * per_row);
    let mut labels = Vec::with_capacity(n);
    let mut row: Vec<u32> = Vec::with_capacity(2 * per_row);
    for _ in 0..n {
        row.clear();
        // j + 1 = e^{u ln d}: log-uniform over 1..=d, P(j) ∝ 1/(j + 1); drawn
        // until the row has `per_row` distinct columns.
        while row.len() < per_row {
            for _ in row.len()..per_row {
                let j = ((rng.random::<f64>() * ln_d).exp() as usize).clamp(1, d) - 1;
                row.push(j as u32);
            }
            row.sort_unstable();
            row.dedup();
        }
        let start = values.len();
        for &j in &row {
            indices.push(j);
            values.push(0.1 + rng.random::<f64>());
        }
        let norm = values[start..].iter().map(|a| a * a).sum::<f64>().sqrt();
        values[start..].iter_mut().for_each(|a| *a /= norm);
        let margin: f64 = row
            .iter()
            .zip(&values[start..])
            .map(|(&j, a)| planted[j as usize] * a)
            .sum();
        labels.push(if margin >= 0.0 { 1.0 } else { -1.0 });
        indptr.push(indices.len());
    }
    let csr = CsrMatrix::new(n, d, indptr, indices, values);
    Dataset::new("news20-like", Design::Sparse(csr), labels)
}

/// Microseconds per step of Algorithm 1 (II) with `sketch` and `batch`: the best
/// and the median of 5 blocks of steps, each at least `min_time / 5` seconds.
/// The sketch named `spec` in dimension d.
fn build(spec: &str, d: usize) -> Box<dyn Sketch> {
    let spec: SketchSpec = spec.parse().expect("sketch spec");
    spec.build(d).expect("sketch")
}

/// Batch b > 0: variant (II) with minibatch b; 0: variant (I), full data.
fn variant_of(batch: usize) -> Variant {
    if batch == 0 {
        Variant::Exact
    } else {
        Variant::Minibatch(batch)
    }
}

fn us_per_step(f: &LogisticRegression, sketch: &str, batch: usize, min_time: f64) -> (f64, f64) {
    let d = f.dim();
    let sketch = build(sketch, d);
    // A small fixed step: the bench measures cost, not progress.
    let step = StepSize::Constant { gamma: 1e-3 };
    let mut solver = DoubleSketchedSgd::new(sketch, variant_of(batch), step, 42).expect("solver");
    let problem = MastProblem::new(f, Shift::zero(d));
    let mut state = solver.init(&problem).expect("init");
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < 0.2 {
        solver.next_iter(&problem, &mut state).expect("step");
    }
    let mut blocks = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut steps = 0u64;
        while steps < 3 || start.elapsed().as_secs_f64() < min_time / 5.0 {
            solver.next_iter(&problem, &mut state).expect("step");
            steps += 1;
        }
        blocks.push(1e6 * start.elapsed().as_secs_f64() / steps as f64);
    }
    blocks.sort_by(f64::total_cmp);
    (blocks[0], blocks[2])
}

/// Microseconds per draw of `sketch` in dimension d on this thread (best of 5
/// blocks of at least `min_time / 10` seconds).
fn us_per_draw(sketch: &str, d: usize, min_time: f64, unlisted_ok: bool) -> f64 {
    let sketch = build(sketch, d);
    let mut rng = stream(42, Stream::Sketch);
    let mut draw = SketchDraw::new();
    draw.set_unlisted_ok(unlisted_ok);
    sketch.draw(&mut rng, &mut draw);
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut draws = 0u64;
            while draws < 3 || start.elapsed().as_secs_f64() < min_time / 10.0 {
                sketch.draw(&mut rng, &mut draw);
                draws += 1;
            }
            1e6 * start.elapsed().as_secs_f64() / draws as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn report(label: &str, data: Dataset, sketches: &[String], min_time: f64) {
    report_batch(label, data, sketches, min_time, 32)
}

fn report_batch(label: &str, data: Dataset, sketches: &[String], min_time: f64, batch: usize) {
    let (n, d, nnz) = (data.n_samples(), data.n_features(), data.features.nnz());
    let f = LogisticRegression::new(Arc::new(data), 1.0 / n as f64).expect("objective");
    println!(
        "{label}: n = {n}, d = {d}, {:.1} nonzeros a row",
        nnz as f64 / n as f64
    );
    for sketch in sketches {
        let (best, median) = us_per_step(&f, sketch, batch, min_time);
        let draw = us_per_draw(sketch, d, min_time, false);
        let bits = us_per_draw(sketch, d, min_time, true);
        println!(
            "  {label:<12} {} {sketch:<14} {best:>10.2} µs/step (median {median:.2}); \
             a draw alone {draw:.2} µs (as a bit set only: {bits:.2} µs)",
            if batch == 0 {
                "full data".to_string()
            } else {
                format!("batch {batch}")
            }
        );
    }
}

/// Microseconds per call of `f`: the best of 5 blocks of at least `min_time / 5`
/// seconds (and 3 calls) each.
fn best_us(min_time: f64, f: &mut dyn FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut k = 0;
            while k < 3 || start.elapsed().as_secs_f64() < min_time / 5.0 {
                f();
                k += 1;
            }
            1e6 * start.elapsed().as_secs_f64() / k as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|p| args.get(p + 1))
            .cloned()
    };
    let min_time: f64 = value("--min-time").map_or(2.0, |t| t.parse().expect("--min-time"));
    let only = value("--only");
    let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
    println!("threads: {}", rayon::current_num_threads());
    if wanted("news20") {
        let t = Instant::now();
        let data = match std::env::var("MAST_SCALE_DATA") {
            Ok(path) => {
                load_libsvm_pair(&path, None::<&str>, None)
                    .expect("load MAST_SCALE_DATA")
                    .train
            }
            Err(_) => news20_like(20_000, 1_355_191, 450, 7),
        };
        eprintln!("data ready in {:.1} s", t.elapsed().as_secs_f64());
        let sketches = value("--sketch").map_or_else(
            || {
                ["rand-k:0.5", "rand-k:0.01", "bernoulli:0.5"]
                    .map(String::from)
                    .to_vec()
            },
            |s| vec![s],
        );
        report("news20-like", data, &sketches, min_time);
    }
    if wanted("fwht") {
        // The transform alone, and S z of a Hadamard sketch, at d = 2²⁰.
        let d = 1usize << 20;
        let mut u: Vec<f64> = (0..d).map(|j| (j % 7) as f64 - 3.0).collect();
        let time = |f: &mut dyn FnMut()| best_us(min_time, f);
        let t = time(&mut || {
            fwht(&mut u);
            u.iter_mut().for_each(|t| *t *= 1.0 / 1024.0);
        });
        println!("fwht 2^20 (and a scaling pass): {t:.1} µs");
        let s = build("hadamard:bernoulli:0.5", d);
        let mut draw = SketchDraw::new();
        s.draw(&mut stream(1, Stream::Sketch), &mut draw);
        let z = u.clone();
        let mut out = vec![0.0; d];
        let t = time(&mut || s.apply(&draw, &z, &mut out));
        println!("hadamard:bernoulli:0.5 S z at 2^20: {t:.1} µs");
        let mut x = z.clone();
        let t = time(&mut || {
            s.descend(&draw, &z, 1e-9, &mut x, &mut out);
        });
        println!("hadamard:bernoulli:0.5 x ← x − γ Sᵀg at 2^20: {t:.1} µs");
        let t = time(&mut || {
            out.iter_mut().zip(&z).for_each(|(o, z)| *o = 0.5 * z);
        });
        println!("one pass o = z/2 over 2^20 values (one thread): {t:.1} µs");
    }
    if wanted("hadamard") {
        // Issue 16: a Hadamard step (two fast transforms each way, O(m log m)) against
        // a Bernoulli step at the same keep probability, at d = 2²⁰.
        let data = news20_like(5_000, 1 << 20, 450, 7);
        let sketches = value("--sketch").map_or_else(
            || {
                [
                    "bernoulli:0.5",
                    "hadamard:bernoulli:0.5",
                    "gaussian:1",
                    "bernoulli:0.1",
                    "hadamard:bernoulli:0.1",
                ]
                .map(String::from)
                .to_vec()
            },
            |s| vec![s],
        );
        // Variant (II), batch 32 (or --batch B; 0: variant (I), full data).
        let batch = value("--batch").map_or(32, |b| b.parse().expect("--batch"));
        report_batch("d = 2^20", data, &sketches, min_time, batch);
    }
    if wanted("hadamard-phases") {
        // The generic step's three phases at d = 2²⁰, batch 32: y = S x, the
        // batch gradient at y, and x ← x − γ Sᵀg.
        let d = 1usize << 20;
        let data = news20_like(5_000, d, 450, 7);
        let f = LogisticRegression::new(Arc::new(data), 1.0 / 5_000.0).expect("objective");
        let s = build("hadamard:bernoulli:0.5", d);
        let mut draw = SketchDraw::new();
        s.draw(&mut stream(1, Stream::Sketch), &mut draw);
        let mut x: Vec<f64> = (0..d).map(|j| 1e-3 * ((j % 7) as f64 - 3.0)).collect();
        let (mut y, mut g, mut scratch) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        let batch: Vec<usize> = (0..32).map(|i| 97 * i).collect();
        let time = |f: &mut dyn FnMut()| best_us(min_time, f);
        let t_apply = time(&mut || s.apply(&draw, &x, &mut y));
        let t_grad = time(&mut || {
            f.loss_grad(&y, mast::objective::Rows::Batch(&batch), &mut g);
        });
        let t_descend = time(&mut || {
            s.descend(&draw, &g, 1e-12, &mut x, &mut scratch);
        });
        println!(
            "hadamard step phases at 2^20, batch 32: S x {t_apply:.1} µs, batch gradient \
             {t_grad:.1} µs, descend {t_descend:.1} µs"
        );
    }
    if wanted("a5a") {
        let a5a = std::env::var("MAST_A5A")
            .unwrap_or_else(|_| format!("{}/../../data/a5a.gz", env!("CARGO_MANIFEST_DIR")));
        let pair = load_libsvm_pair(&a5a, None::<&str>, Some(123)).expect("a5a");
        let sketches = ["rand-k:k=62", "rand-k:k=12"].map(String::from);
        report("a5a", pair.train, &sketches, min_time);
    }
}
