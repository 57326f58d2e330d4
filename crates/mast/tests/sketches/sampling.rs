//! The samplers against the enumerations (goodness of fit) and, at large d, z-score and chi-square bounds.

use super::cases::*;
use super::*;

/// Chi-square goodness of fit of `draw()` against `enumerate()`; also checks that
/// every drawn support is listed, with the listed scales.
fn goodness_of_fit(name: &str, s: &dyn Sketch, t: usize, seed: u64) {
    let d = s.dim();
    let table: HashMap<u64, (f64, Vec<f64>)> = s
        .enumerate()
        .expect("small")
        .into_iter()
        .map(|(p, dr)| (mask_of(&dr.indices), (p, dr.scales)))
        .collect();
    let mut counts: HashMap<u64, usize> = HashMap::new();
    let mut rng = stream(seed, Stream::Sketch);
    let mut draw = SketchDraw::new();
    for _ in 0..t {
        s.draw(&mut rng, &mut draw);
        assert_valid_draw(name, &draw, d);
        let m = mask_of(&draw.indices);
        let (_, scales) = table.get(&m).unwrap_or_else(|| {
            panic!(
                "{name}: drew {:?}, which enumerate() does not list",
                draw.indices
            )
        });
        assert_eq!(&draw.scales, scales, "{name}: scales of {:?}", draw.indices);
        *counts.entry(m).or_default() += 1;
    }
    let tf = t as f64;
    let (mut chi2, mut bins) = (0.0, 0usize);
    let (mut pool_e, mut pool_o) = (0.0, 0usize);
    for (m, (p, _)) in &table {
        let e = p * tf;
        let o = counts.get(m).copied().unwrap_or(0);
        if e >= 5.0 {
            chi2 += (o as f64 - e).powi(2) / e;
            bins += 1;
        } else {
            pool_e += e;
            pool_o += o;
        }
    }
    if pool_e >= 5.0 {
        chi2 += (pool_o as f64 - pool_e).powi(2) / pool_e;
        bins += 1;
    } else {
        assert!(
            pool_o as f64 <= pool_e + 5.0 * pool_e.sqrt() + 5.0,
            "{name}: rare outcomes drawn {pool_o} times, expected {pool_e}"
        );
    }
    if bins >= 2 {
        let df = (bins - 1) as f64;
        let bound = df + 6.0 * (2.0 * df).sqrt() + 10.0;
        assert!(
            chi2 <= bound,
            "{name}: chi² = {chi2:.1} with {df} dof (bound {bound:.1})"
        );
    } else {
        assert_eq!(table.len(), 1, "{name}: outcomes pooled unexpectedly");
        assert_eq!(counts.len(), 1, "{name}: a single-outcome sketch varied");
    }
}

#[test]
fn draw_distribution_matches_enumeration() {
    let mut cases: Vec<Case> = small_cases_without_perm_k()
        .into_iter()
        .filter(|c| matches!(c.sketch.dim(), 2 | 5 | 7))
        .collect();
    for d in [5, 7] {
        for m in 1..=d {
            cases.push(perm_k_case(d, m));
        }
    }
    for (i, case) in cases.iter().enumerate() {
        goodness_of_fit(&case.name, &*case.sketch, 40_000, 1000 + i as u64);
    }
}

/// Large-d statistics of a uniform or per-coordinate Bernoulli sketch.
fn bernoulli_statistics(name: &str, s: &Bernoulli, t: usize, seed: u64) {
    let d = s.dim();
    let ps: Vec<f64> = (0..d).map(|j| s.keep_prob(j)).collect();
    let mut rng = stream(seed, Stream::Sketch);
    let mut draw = SketchDraw::new();
    let mut count = vec![0u32; d];
    let mut kept = Vec::with_capacity(t);
    let mut adjacent = 0.0; // Σ over draws of #{j : j, j+1 both kept}
    for _ in 0..t {
        s.draw(&mut rng, &mut draw);
        assert_valid_draw(name, &draw, d);
        for (j, c) in draw.iter() {
            assert_eq!(c, 1.0 / ps[j], "{name}: scale of coordinate {j}");
            count[j] += 1;
        }
        adjacent += draw.indices.windows(2).filter(|w| w[1] == w[0] + 1).count() as f64;
        kept.push(draw.len() as f64);
    }
    let tf = t as f64;
    // Per coordinate: the average of s_j over t draws, and its z-score.
    let mut sum_avg = 0.0;
    let mut var_of_grand_mean = 0.0;
    let mut z2_sum = 0.0;
    let (mut over4, mut max_z) = (0usize, 0.0f64);
    for j in 0..d {
        let p = ps[j];
        let avg = count[j] as f64 / (tf * p);
        let var = (1.0 / p - 1.0) / tf;
        sum_avg += avg;
        var_of_grand_mean += var;
        if var > 0.0 {
            let z = (avg - 1.0) / var.sqrt();
            z2_sum += z * z;
            over4 += usize::from(z.abs() > 4.0);
            max_z = max_z.max(z.abs());
        } else {
            assert_eq!(count[j] as usize, t, "{name}: p = 1 coordinate {j} dropped");
        }
    }
    let df = d as f64;
    let grand = sum_avg / df;
    let se = var_of_grand_mean.sqrt() / df;
    assert!(
        (grand - 1.0).abs() <= 5.0 * se,
        "{name}: mean over coordinates of avg s_j = {grand}, 1 ± {se:e}"
    );
    assert!(
        over4 <= d / 1000,
        "{name}: {over4} of {d} coordinates beyond 4σ"
    );
    assert!(max_z <= 6.5, "{name}: max |z| = {max_z}");
    // Spread: the z² average is ≈ 1 (relative sd √(2/d)).
    let z2 = z2_sum / df;
    assert!((z2 - 1.0).abs() <= 0.08, "{name}: mean z² = {z2}");
    // E|Ω| = Σ p_j.
    let e_kept: f64 = ps.iter().sum();
    let v_kept: f64 = ps.iter().map(|p| p * (1.0 - p)).sum();
    let mean_kept = kept.iter().sum::<f64>() / tf;
    assert!(
        (mean_kept - e_kept).abs() <= 5.0 * (v_kept / tf).sqrt() + 1e-9,
        "{name}: mean |Ω| = {mean_kept}, expected {e_kept}"
    );
    assert!((s.expected_kept() - e_kept).abs() <= 1e-9 * e_kept);
    // Independence of neighbours: N = Σ_j X_j X_{j+1} has an exact mean and variance.
    let (mut e_n, mut v_n) = (0.0, 0.0);
    for j in 0..d - 1 {
        let (a, b) = (ps[j], ps[j + 1]);
        e_n += a * b;
        v_n += a * b * (1.0 - a * b);
        if j + 2 < d {
            let c = ps[j + 2];
            v_n += 2.0 * (a * b * c - a * b * b * c);
        }
    }
    let mean_n = adjacent / tf;
    assert!(
        (mean_n - e_n).abs() <= 5.0 * (v_n / tf).sqrt() + 1e-9,
        "{name}: mean adjacent pairs {mean_n}, expected {e_n} ± {:e}",
        (v_n / tf).sqrt()
    );
}

#[test]
fn bernoulli_statistics_large_d() {
    let d = 10_000;
    // p ≤ 0.25: geometric skipping; p > 0.25: one uniform per coordinate.
    for (p, t, seed) in [
        (0.01, 4000, 1),
        (0.1, 2000, 2),
        (0.25, 1500, 3),
        (0.7, 1000, 4),
    ] {
        let s = Bernoulli::new(d, p).expect("valid p");
        bernoulli_statistics(&format!("bernoulli p={p}"), &s, t, seed);
    }
    let ps: Vec<f64> = (0..d).map(|j| 0.05 + 0.9 * (j % 10) as f64 / 9.0).collect();
    let s = Bernoulli::per_coordinate(ps).expect("valid ps");
    bernoulli_statistics("bernoulli per-coordinate", &s, 1000, 5);
    // p = 1 keeps everything, scale 1.
    let s = Bernoulli::new(d, 1.0).expect("valid p");
    let mut draw = SketchDraw::new();
    s.draw(&mut stream(6, Stream::Sketch), &mut draw);
    assert_eq!(draw.indices, (0..d).collect::<Vec<_>>());
    assert!(draw.scales.iter().all(|&c| c == 1.0));
}

/// Very small keep probabilities (valid: p ∈ (0, 1]) must still keep about
/// d·p coordinates. With p = 1e-17, `1 − p` rounds to 1 in f64, so a geometric
/// skip computed from `ln(1 − p)` (= 0) rather than `ln_1p(−p)` breaks down.
#[test]
fn bernoulli_tiny_keep_probability() {
    let d = 1000;
    // (Below about 1.5e-154, 1/p² = L_S^max overflows and `new` refuses p.)
    for p in [1e-6, 1e-12, 1e-17, 1e-150] {
        let s = Bernoulli::new(d, p).expect("p in (0, 1]");
        assert_close(s.expected_kept(), d as f64 * p, "expected_kept");
        let mut rng = stream(3, Stream::Sketch);
        let mut draw = SketchDraw::new();
        let mut kept = 0usize;
        for _ in 0..100 {
            s.draw(&mut rng, &mut draw);
            assert_valid_draw(&format!("bernoulli p={p}"), &draw, d);
            kept += draw.len();
        }
        // E[total kept] = 100·d·p ≤ 0.1; P(total ≥ 3) < 2e-4.
        assert!(
            kept <= 2,
            "bernoulli p={p:e}: kept {kept} coordinates in 100 draws of d = {d}, expected {:e}",
            100.0 * d as f64 * p
        );
    }
}

/// Large-d statistics of a fixed-size sketch keeping exactly `k` coordinates with
/// scale d/k (Rand-K, or Perm-K's node-0 marginal).
fn fixed_k_statistics(name: &str, s: &dyn Sketch, k: usize, t: usize, seed: u64) {
    let d = s.dim();
    let scale = d as f64 / k as f64;
    assert_eq!(s.expected_kept(), k as f64, "{name}: expected_kept");
    let mut rng = stream(seed, Stream::Sketch);
    let mut draw = SketchDraw::new();
    let mut count = vec![0u32; d];
    let mut sum_s = 0.0;
    let mut adjacent = 0.0;
    for _ in 0..t {
        s.draw(&mut rng, &mut draw);
        assert_eq!(draw.len(), k, "{name}: |Ω|");
        assert_valid_draw(name, &draw, d);
        assert!(
            draw.scales.iter().all(|&c| c == scale),
            "{name}: scale ≠ d/K"
        );
        for &j in &draw.indices {
            count[j] += 1;
        }
        sum_s += draw.scales.iter().sum::<f64>();
        adjacent += draw.indices.windows(2).filter(|w| w[1] == w[0] + 1).count() as f64;
    }
    let (tf, df) = (t as f64, d as f64);
    // The average of S has mean diagonal exactly 1 (Σ_j s_j = d every draw).
    let grand = sum_s / (tf * df);
    assert!(
        (grand - 1.0).abs() <= 1e-12,
        "{name}: mean of avg s_j = {grand}"
    );
    if k == d {
        assert!(
            count.iter().all(|&c| c as usize == t),
            "{name}: K = d misses a coordinate"
        );
        return;
    }
    // Inclusion frequencies: each count is Binomial(t, q); chi² ≈ d ± sd.
    let q = k as f64 / df;
    let e = tf * q;
    let v = tf * q * (1.0 - q);
    let chi2: f64 = count.iter().map(|&c| (c as f64 - e).powi(2) / v).sum();
    // Var((X−μ)²/σ²) = 2 + excess kurtosis of the binomial.
    let per_term = 2.0 + (1.0 - 6.0 * q * (1.0 - q)) / v;
    let sd = (df * per_term).sqrt();
    assert!(
        (chi2 - df).abs() <= 6.0 * sd,
        "{name}: inclusion chi² = {chi2:.1}, expected {df} ± {sd:.1}"
    );
    if e.min(tf - e) >= 50.0 {
        // (Only where the binomial is close to normal.)
        let max_z = count
            .iter()
            .map(|&c| ((c as f64 - e) / v.sqrt()).abs())
            .fold(0.0, f64::max);
        assert!(max_z <= 6.5, "{name}: max inclusion |z| = {max_z}");
    }
    // Pairs: P(j and j+1 both kept) = K(K−1)/(d(d−1)); loose variance bound.
    let e_n = (df - 1.0) * q * (k as f64 - 1.0) / (df - 1.0);
    let v_n = 3.0 * (df - 1.0) * q * q + 1e-9;
    let mean_n = adjacent / tf;
    assert!(
        (mean_n - e_n).abs() <= 6.0 * (v_n / tf).sqrt(),
        "{name}: mean adjacent pairs {mean_n}, expected {e_n}"
    );
}

#[test]
fn rand_k_statistics_large_d() {
    let d = 10_000;
    // K/d < 1/8: sort path; K/d ≥ 1/8 (1250 is the boundary): mark-scan path.
    for (k, t, seed) in [
        (1, 5000, 1),
        (37, 2000, 2),
        (500, 2000, 3),
        (1249, 1000, 4),
        (1250, 1000, 5),
        (5000, 1000, 6),
        (9999, 200, 7),
        (10_000, 100, 8),
    ] {
        let s = RandK::new(d, k).expect("valid K");
        fixed_k_statistics(&format!("rand-k d={d} K={k}"), &s, k, t, seed);
    }
    let s = RandK::with_fraction(d, 0.3).expect("valid q");
    assert_eq!(s.k(), 3000);
    fixed_k_statistics("rand-k q=0.3", &s, 3000, 1000, 9);
}

#[test]
fn perm_k_marginal_statistics_large_d() {
    let d = 10_000;
    for (m, seed) in [(3, 1), (7, 2), (16, 3)] {
        let s = PermK::new(d, m).expect("valid M");
        let k0 = s.block_sizes()[0];
        assert_eq!(k0, d.div_ceil(m));
        fixed_k_statistics(&format!("perm-k d={d} M={m}"), &s, k0, 1000, seed);
    }
}
