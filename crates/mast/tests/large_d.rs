//! Sketch draws and Algorithm 1's step at large d (issue 14): every sampler
//! regime of Rand-K and Bernoulli against exact enumerations or statistics
//! (E[S] = I, exactly K kept, Ω increasing), the fused sparse minibatch step
//! against the definition `x − γ Sᵀ∇f(v + S(x − v))` computed densely (d up to
//! 10⁷, memory-light: tiny n and K), and the same bits with one and two threads.

use std::collections::HashMap;
use std::sync::Arc;

use mast::algorithm::{DoubleSketchedSgd, MastProblem, Solver, StepSize, Variant};
use mast::data::{CsrMatrix, Dataset, Design};
use mast::objective::{LogisticRegression, Objective, Rows, Shift, Workspace};
use mast::rng::{stream, Stream};
use mast::sketch::{Bernoulli, RandK, Sketch, SketchDraw, SketchSpec};
use rand::{Rng, RngCore};

/// Checks a draw's shape: exactly `k` kept (when given), increasing, in range,
/// every scale `scale`, and the common scale recorded.
fn check_shape(what: &str, draw: &SketchDraw, d: usize, k: Option<usize>, scale: f64) {
    if let Some(k) = k {
        assert_eq!(draw.len(), k, "{what}: kept count");
    }
    assert!(
        draw.indices.windows(2).all(|w| w[0] < w[1]),
        "{what}: Ω not increasing"
    );
    assert!(draw.indices.last().is_none_or(|&j| j < d), "{what}: range");
    assert_eq!(draw.scales.len(), draw.len(), "{what}: scales");
    assert!(draw.scales.iter().all(|&c| c == scale), "{what}: scale");
    assert_eq!(draw.common_scale(), Some(scale), "{what}: common scale");
    // Where the sampler made Ω's bit set on the way, it is Ω.
    if let Some(bits) = draw.member_bits() {
        assert_eq!(bits.len(), d.div_ceil(64), "{what}: bit set length");
        let listed: Vec<usize> = (0..bits.len() * 64)
            .filter(|&j| (bits[j / 64] >> (j % 64)) & 1 == 1)
            .collect();
        assert_eq!(listed, draw.indices, "{what}: bit set");
    }
}

/// Chi-square goodness of fit of Rand-K's draws against the uniform law over all
/// K-subsets (listed by the sketch's own enumeration), with `t` draws.
fn rand_k_goodness_of_fit(d: usize, k: usize, t: usize) {
    let s = RandK::new(d, k).unwrap();
    let listed = s.enumerate().expect("few enough subsets to list");
    let bins = listed.len();
    let index: HashMap<Vec<usize>, usize> = listed
        .iter()
        .enumerate()
        .map(|(b, (p, dr))| {
            assert!((p - 1.0 / bins as f64).abs() < 1e-15);
            (dr.indices.clone(), b)
        })
        .collect();
    let mut counts = vec![0usize; bins];
    let mut rng = stream(3, Stream::Sketch);
    let mut draw = SketchDraw::new();
    for _ in 0..t {
        s.draw(&mut rng, &mut draw);
        check_shape("rand-k", &draw, d, Some(k), d as f64 / k as f64);
        counts[*index.get(&draw.indices).expect("a listed subset")] += 1;
    }
    let e = t as f64 / bins as f64;
    let chi2: f64 = counts.iter().map(|&o| (o as f64 - e).powi(2) / e).sum();
    let df = (bins - 1) as f64;
    // Above df + 6·sqrt(2 df) with probability below 1e-8 or so.
    let bound = df + 6.0 * (2.0 * df).sqrt();
    assert!(
        chi2 <= bound,
        "d={d} K={k}: chi² = {chi2:.0}, dof {df}, bound {bound:.0}"
    );
}

#[test]
fn rand_k_is_uniform_over_subsets_in_the_large_d_regimes() {
    // d > 128, each against the exact enumeration: K = 2 (Floyd with a bit
    // set), K = d − 2 (a bit mask corrected to K, K/d ≥ 1/4), K = 1 of 600 (Floyd
    // with a hash table, K/d < 1/512).
    rand_k_goodness_of_fit(150, 2, 120_000);
    rand_k_goodness_of_fit(150, 148, 120_000);
    rand_k_goodness_of_fit(600, 1, 30_000);
    rand_k_goodness_of_fit(300, 1, 30_000);
    rand_k_goodness_of_fit(300, 299, 30_000);
}

/// Per-coordinate inclusion counts of `t` draws of `sketch` binned into
/// `buckets` equal ranges of coordinates: checks that each bucket holds its
/// share `p_keep · size · t` (E[S] = I: every coordinate kept with probability
/// 1/scale) by a chi-square bound, and that coordinates 0 and d − 1 (the ends a
/// sequential sampler treats specially) are kept at the right rate.
fn inclusion_statistics(sketch: &dyn Sketch, t: usize, buckets: usize, exact_k: Option<usize>) {
    let d = sketch.dim();
    let mut rng = stream(17, Stream::Sketch);
    let mut draw = SketchDraw::new();
    let mut counts = vec![0u64; buckets];
    let (mut first, mut last, mut total) = (0u64, 0u64, 0u64);
    let mut scale = f64::NAN;
    for _ in 0..t {
        sketch.draw(&mut rng, &mut draw);
        scale = draw.scales.first().copied().unwrap_or(scale);
        if !draw.is_empty() {
            check_shape(&sketch.spec(), &draw, d, exact_k, scale);
        }
        for &j in &draw.indices {
            counts[j * buckets / d] += 1;
        }
        first += u64::from(draw.indices.first() == Some(&0));
        last += u64::from(draw.indices.last() == Some(&(d - 1)));
        total += draw.len() as u64;
    }
    let p = sketch.expected_kept() / d as f64;
    // E[S] = I: the scale is 1/p.
    // (p from `expected_kept`, a sum over the d coordinates: rounding grows with d.)
    assert!(
        (scale * p - 1.0).abs() < 1e-6,
        "{}: scale {scale}, p {p}",
        sketch.spec()
    );
    let mut chi2 = 0.0;
    for (b, &o) in counts.iter().enumerate() {
        // Coordinates j with j·buckets/d = b: ⌈b d/buckets⌉ ≤ j < ⌈(b+1) d/buckets⌉.
        let size = ((b + 1) * d).div_ceil(buckets) - (b * d).div_ceil(buckets);
        let e = p * size as f64 * t as f64;
        chi2 += (o as f64 - e).powi(2) / e;
    }
    let df = (buckets - 1) as f64;
    assert!(
        chi2 <= df + 6.0 * (2.0 * df).sqrt(),
        "{}: bucket chi² {chi2:.1} with {df} dof",
        sketch.spec()
    );
    for (name, hits) in [("first", first), ("last", last)] {
        let e = p * t as f64;
        let bound = 6.0 * (e * (1.0 - p)).sqrt() + 3.0;
        assert!(
            (hits as f64 - e).abs() <= bound,
            "{}: {name} coordinate kept {hits} times, expected {e:.1}",
            sketch.spec()
        );
    }
    let e = p * d as f64 * t as f64;
    if exact_k.is_none() {
        let z = (total as f64 - e) / (e * (1.0 - p)).sqrt();
        assert!(
            z.abs() < 6.0,
            "{}: kept {total}, expected {e:.0}",
            sketch.spec()
        );
    }
}

#[test]
fn rand_k_keeps_every_coordinate_at_rate_k_over_d_in_every_regime() {
    // d = 1000: K = 1 (hash table), 5 and 40 (bit set), 400 and 999 (bit mask).
    for k in [1, 5, 40, 400, 999] {
        inclusion_statistics(&RandK::new(1000, k).unwrap(), 4000, 20, Some(k));
    }
    // d = 10⁷: K = 30 (hash table) and K = d/50 (bit set), few draws.
    inclusion_statistics(&RandK::new(10_000_000, 30).unwrap(), 3000, 10, Some(30));
    inclusion_statistics(
        &RandK::new(10_000_000, 200_000).unwrap(),
        3,
        100,
        Some(200_000),
    );
}

#[test]
fn bernoulli_keeps_every_coordinate_at_rate_p_in_both_regimes() {
    // Geometric skips (p ≤ 1/16), one trial per coordinate (p > 1/16), and
    // words of 64 coordinates (p = 1/2, 3/8: short binary expansions).
    for p in [0.01, 0.0625, 0.1, 0.375, 0.5, 0.9] {
        inclusion_statistics(&Bernoulli::new(1000, p).unwrap(), 2000, 20, None);
    }
    inclusion_statistics(&Bernoulli::new(10_000_000, 1e-5).unwrap(), 2000, 10, None);
    inclusion_statistics(&Bernoulli::new(2_000_000, 0.5).unwrap(), 2, 50, None);
}

#[test]
fn bernoulli_trials_are_the_generators_uniforms_below_p() {
    // For p without a short binary expansion, the per-coordinate sampler is the
    // trial `U < p` on the generator's f64 uniforms, one per coordinate, done in
    // integers: the same draws, and the generator left in the same state.
    for (d, p) in [
        (129, 0.3),
        (1000, 0.55),
        (5000, 0.0625 + 1e-12),
        (777, 0.999),
    ] {
        let s = Bernoulli::new(d, p).unwrap();
        let mut rng = stream(5, Stream::Sketch);
        let mut oracle = rng.clone();
        let mut draw = SketchDraw::new();
        for _ in 0..5 {
            s.draw(&mut rng, &mut draw);
            let want: Vec<usize> = (0..d).filter(|_| oracle.random::<f64>() < p).collect();
            assert_eq!(draw.indices, want, "d={d} p={p}");
            assert_eq!(rng.next_u64(), oracle.next_u64(), "generator state");
        }
    }
}

#[test]
fn rand_k_draw_costs_do_not_touch_d_sized_memory_for_small_k() {
    // K = 3 of d = 10¹²: a d-sized buffer would abort; the hash-table draw
    // needs O(K) memory.
    let s = RandK::new(1_000_000_000_000, 3).unwrap();
    let mut rng = stream(1, Stream::Sketch);
    let mut draw = SketchDraw::new();
    for _ in 0..100 {
        s.draw(&mut rng, &mut draw);
        check_shape(
            "rand-k d=1e12",
            &draw,
            1_000_000_000_000,
            Some(3),
            1e12 / 3.0,
        );
    }
    let b = Bernoulli::new(1_000_000_000_000, 1e-11).unwrap();
    b.draw(&mut rng, &mut draw);
    assert!(draw.len() < 100);
}

/// Random sparse rows: `n` rows of about `per_row` distinct columns of `d`
/// (real values), labels ±1.
fn random_csr(n: usize, d: usize, per_row: usize, binary: bool, seed: u64) -> Arc<Dataset> {
    let mut rng = stream(seed, Stream::Synthetic);
    let mut indptr = vec![0usize];
    let (mut indices, mut values, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let mut row: Vec<u32> = (0..per_row)
            .map(|t| {
                // Some columns shared by many rows (the low ones), most not.
                if t % 3 == 0 {
                    rng.random_range(0..8.min(d) as u32)
                } else {
                    rng.random_range(0..d as u32)
                }
            })
            .collect();
        row.sort_unstable();
        row.dedup();
        for &j in &row {
            indices.push(j);
            values.push(if binary {
                1.0
            } else {
                rng.random::<f64>() * 2.0 - 0.5
            });
        }
        indptr.push(indices.len());
        labels.push(if rng.random::<bool>() { 1.0 } else { -1.0 });
    }
    let csr = CsrMatrix::new(n, d, indptr, indices, values);
    Arc::new(Dataset::new("random-csr", Design::Sparse(csr), labels))
}

/// One step `x − γ Sᵀ∇f(v + S(x − v))` from the definition, densely: y, then
/// the minibatch gradient at y (`loss_grad`), then the update on Ω. Returns the
/// loss and the new values on Ω, in Ω's order.
fn step_by_definition(
    f: &LogisticRegression,
    v: &[f64],
    x: &[f64],
    draw: &SketchDraw,
    batch: &[usize],
    gamma: f64,
) -> (f64, Vec<f64>) {
    let d = x.len();
    let mut y = vec![0.0; d];
    draw.apply_shifted(x, v, &mut y);
    let mut g = vec![0.0; d];
    let loss = f.loss_grad(&y, Rows::Batch(batch), &mut g);
    let next = draw.iter().map(|(j, c)| x[j] - gamma * c * g[j]).collect();
    (loss, next)
}

/// The step as `Objective::sketched_step` takes it, and as the two-pass path
/// (`sketched_loss_grad`, then the update) takes it.
fn step_both_ways(
    f: &LogisticRegression,
    shift: &Shift,
    x: &[f64],
    draw: &SketchDraw,
    batch: &[usize],
    gamma: f64,
    ws: &mut Workspace,
) -> [(f64, Vec<f64>); 2] {
    let mut fused = x.to_vec();
    let mut grad = vec![0.0; draw.len()];
    let out = f.sketched_step(
        shift,
        &mut fused,
        draw,
        Rows::Batch(batch),
        gamma,
        ws,
        &mut grad,
    );
    assert!(out.finite);
    let mut two_pass = x.to_vec();
    // The two-pass path reads Ω's lists.
    let mut scratch = SketchDraw::new();
    let draw = draw.listed(&mut scratch);
    let loss = f.sketched_loss_grad(shift, x, draw, Rows::Batch(batch), ws, &mut grad);
    for (k, &j) in draw.indices.iter().enumerate() {
        two_pass[j] -= gamma * grad[k];
    }
    [(out.loss, fused), (loss, two_pass)]
}

#[test]
fn sparse_step_matches_the_definition_and_the_two_pass_path() {
    let gamma = 0.3;
    let mut unlisted_seen = 0;
    for (d, binary) in [(2_000, false), (2_000, true), (300_000, false)] {
        let data = random_csr(60, d, 25, binary, d as u64);
        let n = data.n_samples();
        let f = LogisticRegression::new(data, 0.05).unwrap();
        let mut rng = stream(2, Stream::Init);
        let x: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
        let v_random: Vec<f64> = (0..d).map(|_| 0.3 * rng.random::<f64>()).collect();
        for v in [vec![0.0; d], v_random] {
            let shift = Shift::new(&f, v.clone());
            let mut ws = Workspace::new(d, n);
            let mut srng = stream(4, Stream::Sketch);
            for spec in [
                "rand-k:0.5",
                "rand-k:0.01",
                "rand-k:0.05",
                "rand-k:k=3",
                "bernoulli:0.3",
                "bernoulli:0.1",
                "bernoulli:0.5",
                "identity",
            ] {
                let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
                let mut draw = SketchDraw::new();
                // Draws held by lists, and by their bit set alone where the
                // sampler makes one.
                for rep in 0..6 {
                    draw.set_unlisted_ok(rep % 2 == 1);
                    sketch.draw(&mut srng, &mut draw);
                    let batch: Vec<usize> = (0..8).map(|t| (t * 7 + rep * 3) % n).collect();
                    let (want_loss, want) = step_by_definition(&f, &v, &x, &draw, &batch, gamma);
                    let [(loss, fused), (loss2, two_pass)] =
                        step_both_ways(&f, &shift, &x, &draw, &batch, gamma, &mut ws);
                    unlisted_seen += usize::from(!draw.is_listed());
                    let case = format!(
                        "d={d} binary={binary} {spec} rep {rep} listed {}",
                        draw.is_listed()
                    );
                    assert!(
                        (loss - want_loss).abs() <= 1e-12 * want_loss.abs().max(1.0),
                        "{case}: loss {loss} vs {want_loss}"
                    );
                    let worst = draw
                        .iter()
                        .zip(&want)
                        .map(|((j, _), b)| (fused[j] - b).abs() / b.abs().max(1.0))
                        .fold(0.0, f64::max);
                    assert!(worst <= 1e-12, "{case}: iterate off by {worst:e}");
                    // The fused step performs the two-pass path's operations.
                    assert_eq!(loss.to_bits(), loss2.to_bits(), "{case}: loss bits");
                    assert!(
                        fused
                            .iter()
                            .zip(&two_pass)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{case}: iterate bits"
                    );
                    // The step moved the coordinates of Ω only.
                    let moved = x.iter().zip(&fused).filter(|(a, b)| a != b).count();
                    assert!(moved <= draw.len());
                }
            }
            assert!(ws.members.iter().all(|&t| t == 0), "members left set");
            assert!(ws.touched.iter().all(|&t| t == 0), "touched left set");
            assert!(ws.col_sums.iter().all(|&t| t == 0.0), "column sums left");
        }
    }
    assert!(unlisted_seen > 0, "no draw was held by its bit set alone");
}

#[test]
fn sparse_step_matches_the_definition_at_d_ten_million() {
    // Memory-light: 12 rows, K ≤ 40; the d-sized vectors are x, v, y, g and the
    // step's column sums.
    let d = 10_000_000;
    let data = random_csr(12, d, 30, false, 11);
    let f = LogisticRegression::new(data, 0.1).unwrap();
    let mut x = vec![0.0; d];
    let mut rng = stream(6, Stream::Init);
    // Nonzero on the rows' columns, where the step's margins read it.
    if let Design::Sparse(sp) = &f.data().features {
        for i in 0..sp.n_rows() {
            for &j in sp.row(i).0 {
                x[j as usize] = rng.random::<f64>() - 0.5;
            }
        }
    }
    let shift = Shift::zero(d);
    let mut ws = Workspace::new(d, 12);
    let mut srng = stream(8, Stream::Sketch);
    let mut draw = SketchDraw::new();
    let mut grad = vec![0.0; 64];
    for spec in ["rand-k:k=40", "bernoulli:0.000003"] {
        let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
        for rep in 0..3 {
            sketch.draw(&mut srng, &mut draw);
            // Make Ω meet the batch's columns: keep the draw, add row 0's columns.
            let mut idx = draw.indices.clone();
            if let Design::Sparse(sp) = &f.data().features {
                idx.extend(sp.row(rep).0.iter().map(|&j| j as usize));
            }
            idx.sort_unstable();
            idx.dedup();
            let c = draw.scales[0];
            let omega = SketchDraw::from_parts(idx.clone(), vec![c; idx.len()]);
            let batch = [rep, 5, 7];
            let (want_loss, want) = step_by_definition(&f, &shift.v, &x, &omega, &batch, 0.2);
            let before: Vec<f64> = idx.iter().map(|&j| x[j]).collect();
            grad.resize(omega.len(), 0.0);
            let batch = Rows::Batch(&batch);
            let out = f.sketched_step(&shift, &mut x, &omega, batch, 0.2, &mut ws, &mut grad);
            assert!(out.finite);
            let tol = 1e-12 * want_loss.abs().max(1.0);
            assert!((out.loss - want_loss).abs() <= tol, "{spec}");
            for (&j, &w) in idx.iter().zip(&want) {
                assert!(
                    (x[j] - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{spec}: x[{j}]"
                );
            }
            let moved = idx.iter().zip(&before).filter(|(&j, &b)| x[j] != b).count();
            assert!(moved > 0, "{spec}: the step moved nothing");
        }
    }
}

/// Runs Algorithm 1 for `steps` steps on `threads` threads; returns x.
fn run_dsgd(
    f: &LogisticRegression,
    spec: &str,
    variant: Variant,
    steps: usize,
    threads: usize,
) -> Vec<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let d = f.dim();
        let sketch = spec.parse::<SketchSpec>().unwrap().build(d).unwrap();
        let step = StepSize::Constant { gamma: 0.5 };
        let mut solver = DoubleSketchedSgd::new(sketch, variant, step, 7).unwrap();
        let problem = MastProblem::new(f, Shift::zero(d));
        let mut state = solver.init(&problem).unwrap();
        for _ in 0..steps {
            solver.next_iter(&problem, &mut state).unwrap();
        }
        state.x
    })
}

#[test]
fn algorithm_1_gives_the_same_bits_on_one_and_two_threads() {
    let data = random_csr(5000, 50_000, 20, false, 21);
    let f = LogisticRegression::new(data, 1e-3).unwrap();
    for (spec, variant, steps) in [
        ("rand-k:0.5", Variant::Minibatch(16), 300),
        ("rand-k:0.001", Variant::Minibatch(16), 300),
        ("bernoulli:0.3", Variant::Minibatch(16), 300),
        ("rand-k:0.7", Variant::Exact, 4),
        ("rand-k:0.05", Variant::Exact, 4),
    ] {
        let one = run_dsgd(&f, spec, variant, steps, 1);
        let two = run_dsgd(&f, spec, variant, steps, 2);
        assert!(one.iter().any(|&t| t != 0.0), "{spec}: the run moved");
        assert!(
            one.iter()
                .zip(&two)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{spec} {variant:?}: 1 and 2 threads differ"
        );
    }
}
