#![allow(clippy::needless_range_loop)] // index loops mirror the formulas
//! Integration tests for the sketches of `mast::sketch` (MAST.md §1).
//!
//! Exact oracles: every small sketch is checked against its own exact enumeration
//! (`Sketch::enumerate`) and against the closed forms of MAST.md §1; the samplers
//! (`Sketch::draw`, `PermK::draw_joint`) are checked against those enumerations
//! by goodness-of-fit tests, and at large d by z-score / chi-square bounds.

use std::collections::{HashMap, HashSet};

use mast::linalg::SymMatrix;
use mast::rng::{stream, MastRng, Stream};
use mast::sketch::*;
use mast::MastError;
use proptest::prelude::*;
use rand::Rng;

/// Closed forms of MAST.md §1 for one sketch.
struct Closed {
    /// Diagonal of E[SᵀS].
    diag: Vec<f64>,
    /// E[s_j s_l] for j ≠ l.
    off: f64,
    l_d: f64,
    mu_d: f64,
    l_s_max: f64,
    kept: f64,
}

struct Case {
    name: String,
    sketch: Box<dyn Sketch>,
    closed: Closed,
    /// Whether `l_s_max()` must equal the enumerated maximum (see
    /// `perm_k_l_s_max_is_that_of_node_0_marginal` for the one exception).
    check_l_s_max: bool,
}

fn identity_case(d: usize) -> Case {
    Case {
        name: format!("identity d={d}"),
        sketch: Box::new(Identity::new(d)),
        closed: Closed {
            diag: vec![1.0; d],
            off: 1.0,
            l_d: 1.0,
            mu_d: 1.0,
            l_s_max: 1.0,
            kept: d as f64,
        },
        check_l_s_max: true,
    }
}

fn bernoulli_closed(ps: &[f64]) -> Closed {
    let min_p = ps.iter().copied().fold(f64::INFINITY, f64::min);
    let max_p = ps.iter().copied().fold(0.0, f64::max);
    Closed {
        diag: ps.iter().map(|p| 1.0 / p).collect(),
        off: 1.0,
        l_d: 1.0 / min_p,
        mu_d: 1.0 / max_p,
        l_s_max: 1.0 / (min_p * min_p),
        kept: ps.iter().sum(),
    }
}

fn bernoulli_case(d: usize, p: f64) -> Case {
    Case {
        name: format!("bernoulli d={d} p={p}"),
        sketch: Box::new(Bernoulli::new(d, p).expect("valid p")),
        closed: bernoulli_closed(&vec![p; d]),
        check_l_s_max: true,
    }
}

fn bernoulli_per_coordinate_case(ps: Vec<f64>) -> Case {
    Case {
        name: format!("bernoulli per-coordinate {ps:?}"),
        closed: bernoulli_closed(&ps),
        sketch: Box::new(Bernoulli::per_coordinate(ps).expect("valid ps")),
        check_l_s_max: true,
    }
}

fn rand_k_closed(d: usize, k: usize) -> Closed {
    let (df, kf) = (d as f64, k as f64);
    Closed {
        diag: vec![df / kf; d],
        off: if d > 1 {
            df * (kf - 1.0) / (kf * (df - 1.0))
        } else {
            0.0
        },
        l_d: df / kf,
        mu_d: df / kf,
        l_s_max: (df / kf) * (df / kf),
        kept: kf,
    }
}

fn rand_k_case(d: usize, k: usize) -> Case {
    Case {
        name: format!("rand-k d={d} K={k}"),
        sketch: Box::new(RandK::new(d, k).expect("valid K")),
        closed: rand_k_closed(d, k),
        check_l_s_max: true,
    }
}

/// `RandK::with_fraction(d, q)`, whose K must be `expected_k`.
fn rand_k_fraction_case(d: usize, q: f64, expected_k: usize) -> Case {
    let s = RandK::with_fraction(d, q).expect("valid q");
    assert_eq!(s.k(), expected_k, "RandK::with_fraction({d}, {q}).k()");
    Case {
        name: format!("rand-k d={d} q={q} (K={expected_k})"),
        sketch: Box::new(s),
        closed: rand_k_closed(d, expected_k),
        check_l_s_max: true,
    }
}

/// Perm-K as a single sketch: node 0's marginal, Rand-K with K = ⌈d/M⌉.
fn perm_k_case(d: usize, m: usize) -> Case {
    let k0 = d.div_ceil(m);
    let closed = rand_k_closed(d, k0);
    if d.is_multiple_of(m) {
        // MAST.md §1: M I, M, M, M².
        let mf = m as f64;
        assert_eq!(closed.l_d, mf);
        assert_eq!(closed.l_s_max, mf * mf);
    }
    Case {
        name: format!("perm-k d={d} M={m}"),
        sketch: Box::new(PermK::new(d, m).expect("valid M")),
        closed,
        check_l_s_max: d.is_multiple_of(m),
    }
}

fn small_cases_without_perm_k() -> Vec<Case> {
    let mut v = Vec::new();
    for d in [1, 2, 5, 6, 7] {
        v.push(identity_case(d));
        for p in [0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 1.0] {
            v.push(bernoulli_case(d, p));
        }
        for k in 1..=d {
            v.push(rand_k_case(d, k));
        }
    }
    v.push(bernoulli_per_coordinate_case(vec![
        0.1, 0.25, 0.5, 0.9, 1.0, 0.3, 0.7,
    ]));
    v.push(bernoulli_per_coordinate_case(vec![0.5; 5]));
    v.push(bernoulli_per_coordinate_case(vec![0.2, 0.8]));
    v.push(rand_k_fraction_case(7, 0.3, 2));
    v.push(rand_k_fraction_case(6, 0.5, 3));
    v.push(rand_k_fraction_case(5, 0.5, 3)); // 2.5 rounds to 3
    v.push(rand_k_fraction_case(5, 1.0, 5));
    v.push(rand_k_fraction_case(7, 0.01, 1)); // rounds to 0, clamped to 1
    v
}

fn perm_k_small_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for d in [1, 5, 6, 7] {
        for m in 1..=d {
            v.push(perm_k_case(d, m));
        }
    }
    v
}

fn assert_close(a: f64, b: f64, what: &str) {
    let tol = 1e-12 * 1f64.max(a.abs()).max(b.abs());
    assert!(
        (a - b).abs() <= tol,
        "{what}: {a} vs {b} (|err| = {:e})",
        (a - b).abs()
    );
}

fn assert_valid_draw(name: &str, draw: &SketchDraw, d: usize) {
    assert_eq!(
        draw.indices.len(),
        draw.scales.len(),
        "{name}: indices vs scales"
    );
    assert!(
        draw.indices.windows(2).all(|w| w[0] < w[1]),
        "{name}: indices not strictly increasing: {:?}",
        draw.indices
    );
    assert!(
        draw.indices.iter().all(|&j| j < d),
        "{name}: index out of range (d = {d}): {:?}",
        draw.indices
    );
    assert!(
        draw.scales.iter().all(|&c| c.is_finite() && c > 0.0),
        "{name}: bad scales {:?}",
        draw.scales
    );
}

/// Checks one sketch against its exact enumeration and its closed forms.
fn check_exact(case: &Case) {
    let name = &case.name;
    let s = &*case.sketch;
    let d = s.dim();
    let cl = &case.closed;
    let draws = s
        .enumerate()
        .unwrap_or_else(|| panic!("{name}: enumerate() returned None for a small sketch"));
    assert!(!draws.is_empty(), "{name}: no draws");

    let mut total = 0.0;
    let mut mean = vec![0.0; d];
    let mut m2 = vec![vec![0.0; d]; d];
    let mut kept = 0.0;
    let mut max_sq_scale: f64 = 0.0;
    let mut seen = HashSet::new();
    for (prob, draw) in &draws {
        assert!(*prob > 0.0 && *prob <= 1.0, "{name}: probability {prob}");
        assert_valid_draw(name, draw, d);
        assert!(
            seen.insert(draw.indices.clone()),
            "{name}: support {:?} listed twice",
            draw.indices
        );
        let sd = draw.to_dense(d);
        total += prob;
        kept += prob * draw.len() as f64;
        for j in 0..d {
            mean[j] += prob * sd[j];
            for l in 0..d {
                m2[j][l] += prob * sd[j] * sd[l];
            }
        }
        for &c in &draw.scales {
            max_sq_scale = max_sq_scale.max(c * c);
        }
    }
    assert!(
        (total - 1.0).abs() <= 1e-12,
        "{name}: probabilities sum to {total}"
    );
    for (j, &mj) in mean.iter().enumerate() {
        assert!((mj - 1.0).abs() <= 1e-12, "{name}: E[s_{j}] = {mj}, not 1");
    }
    let sts = s.expected_sts_diag();
    assert_eq!(sts.len(), d, "{name}: expected_sts_diag length");
    for j in 0..d {
        for l in 0..d {
            assert_close(
                m2[j][l],
                s.second_moment(j, l),
                &format!("{name}: E[s_{j} s_{l}] vs second_moment"),
            );
            let closed = if j == l { cl.diag[j] } else { cl.off };
            assert_close(
                m2[j][l],
                closed,
                &format!("{name}: E[s_{j} s_{l}] vs closed form"),
            );
        }
        assert_close(
            m2[j][j],
            sts[j],
            &format!("{name}: E[SᵀS]_{j}{j} vs expected_sts_diag"),
        );
    }
    let enum_l_d = (0..d).map(|j| m2[j][j]).fold(f64::NEG_INFINITY, f64::max);
    let enum_mu_d = (0..d).map(|j| m2[j][j]).fold(f64::INFINITY, f64::min);
    assert_close(s.l_d(), enum_l_d, &format!("{name}: l_d vs enumeration"));
    assert_close(s.l_d(), cl.l_d, &format!("{name}: l_d vs closed form"));
    assert_close(s.mu_d(), enum_mu_d, &format!("{name}: mu_d vs enumeration"));
    assert_close(s.mu_d(), cl.mu_d, &format!("{name}: mu_d vs closed form"));
    if case.check_l_s_max {
        assert_close(
            s.l_s_max(),
            max_sq_scale,
            &format!("{name}: l_s_max vs enumeration"),
        );
        assert_close(
            s.l_s_max(),
            cl.l_s_max,
            &format!("{name}: l_s_max vs closed form"),
        );
    }
    assert_close(
        s.expected_kept(),
        kept,
        &format!("{name}: expected_kept vs E|Ω|"),
    );
    assert_close(
        s.expected_kept(),
        cl.kept,
        &format!("{name}: expected_kept vs closed form"),
    );
}

#[test]
fn exact_enumeration_identity_bernoulli_rand_k() {
    let cases = small_cases_without_perm_k();
    assert!(cases.len() > 50);
    for case in &cases {
        check_exact(case);
    }
}

#[test]
fn exact_enumeration_perm_k_marginal() {
    for case in &perm_k_small_cases() {
        check_exact(case);
    }
}

/// As a single `Sketch`, Perm-K is documented to be node 0's marginal (Rand-K with
/// K = |B_0| = ⌈d/M⌉), and `l_s_max` is documented as the sup over its draws of
/// the largest squared scale. Every draw of node 0 has scale d/⌈d/M⌉, so
/// `l_s_max` must be (d/⌈d/M⌉)² — consistent with `l_d() = d/⌈d/M⌉`.
#[test]
fn perm_k_l_s_max_is_that_of_node_0_marginal() {
    for (d, m) in [(5, 2), (7, 3), (10, 4), (6, 4), (7, 2)] {
        let s = PermK::new(d, m).expect("valid M");
        let draws = s.enumerate().expect("small");
        let enumerated = draws
            .iter()
            .flat_map(|(_, dr)| dr.scales.iter().map(|c| c * c))
            .fold(0.0, f64::max);
        let k0 = d.div_ceil(m) as f64;
        let closed = (d as f64 / k0).powi(2);
        assert_close(enumerated, closed, "enumerated max scale²");
        assert_close(
            s.l_s_max(),
            enumerated,
            &format!("perm-k d={d} M={m}: l_s_max (l_d = {})", s.l_d()),
        );
    }
}

/// Deterministic symmetric matrix with entries in [-1, 1].
fn random_sym(d: usize, seed: u64) -> SymMatrix {
    let mut rng = stream(seed, Stream::Init);
    let mut a = SymMatrix::zeros(d);
    for i in 0..d {
        for j in i..d {
            let v: f64 = rng.random_range(-1.0..1.0);
            a.data[i * d + j] = v;
            a.data[j * d + i] = v;
        }
    }
    a
}

#[test]
fn expected_sas_matches_enumeration() {
    let d = 5;
    let a = random_sym(d, 11);
    let mut cases: Vec<Case> = small_cases_without_perm_k()
        .into_iter()
        .filter(|c| c.sketch.dim() == d)
        .collect();
    for m in 1..=d {
        cases.push(perm_k_case(d, m));
    }
    assert!(cases.len() >= 15);
    for case in &cases {
        let s = &*case.sketch;
        let mut exact = vec![vec![0.0; d]; d];
        for (prob, draw) in s.enumerate().expect("small") {
            let sd = draw.to_dense(d);
            // (SᵀAS)_jl = s_j A_jl s_l for diagonal S.
            for j in 0..d {
                for l in 0..d {
                    exact[j][l] += prob * sd[j] * a.get(j, l) * sd[l];
                }
            }
        }
        let got = expected_sas(s, &a);
        assert_eq!(got.d, d);
        for j in 0..d {
            for l in 0..d {
                assert_close(
                    got.get(j, l),
                    exact[j][l],
                    &format!("{}: E[SᵀAS]_{j}{l}", case.name),
                );
            }
        }
        // Closed forms of MAST.md §2 as a second oracle.
        for j in 0..d {
            for l in 0..d {
                let factor = if j == l {
                    case.closed.diag[j]
                } else {
                    case.closed.off
                };
                assert_close(
                    got.get(j, l),
                    factor * a.get(j, l),
                    &format!("{}: E[SᵀAS]_{j}{l} closed form", case.name),
                );
            }
        }
    }
}

fn mask_of(indices: &[usize]) -> u64 {
    indices.iter().fold(0u64, |m, &j| m | (1 << j))
}

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
    for p in [1e-6, 1e-12, 1e-17, 1e-300] {
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

/// Checks one joint Perm-K draw: sizes, scales, partition, exact average when M | d.
fn check_joint(name: &str, s: &PermK, nodes: &[SketchDraw]) {
    let d = s.dim();
    let m = s.nodes();
    let sizes = s.block_sizes();
    assert_eq!(nodes.len(), m, "{name}: node count");
    let mut owner = vec![usize::MAX; d];
    for (i, node) in nodes.iter().enumerate() {
        assert_valid_draw(name, node, d);
        assert_eq!(node.len(), sizes[i], "{name}: size of node {i}");
        let scale = d as f64 / sizes[i] as f64;
        assert!(
            node.scales.iter().all(|&c| c == scale),
            "{name}: scale of node {i}"
        );
        for &j in &node.indices {
            assert_eq!(owner[j], usize::MAX, "{name}: coordinate {j} in two nodes");
            owner[j] = i;
        }
    }
    assert!(
        owner.iter().all(|&o| o != usize::MAX),
        "{name}: not a partition"
    );
    if d.is_multiple_of(m) {
        // (1/M) Σ_i S_i = I exactly.
        let mut avg = vec![0.0; d];
        for node in nodes {
            for (j, c) in node.iter() {
                avg[j] += c / m as f64;
            }
        }
        assert!(
            avg.iter().all(|&a| a == 1.0),
            "{name}: (1/M) Σ S_i ≠ I: {avg:?}"
        );
    }
}

#[test]
fn perm_k_block_sizes() {
    let cases: [(usize, usize, &[usize]); 7] = [
        (10, 4, &[3, 3, 2, 2]),
        (7, 3, &[3, 2, 2]),
        (12, 4, &[3, 3, 3, 3]),
        (5, 2, &[3, 2]),
        (6, 4, &[2, 2, 1, 1]),
        (5, 5, &[1, 1, 1, 1, 1]),
        (9, 1, &[9]),
    ];
    for (d, m, expected) in cases {
        let s = PermK::new(d, m).expect("valid M");
        assert_eq!(s.nodes(), m);
        assert_eq!(s.block_sizes(), expected, "d={d} M={m}");
        for (i, &b) in expected.iter().enumerate() {
            assert_eq!(s.node_marginal(i).k(), b);
        }
    }
    for (d, m) in [(10, 0), (3, 4)] {
        match PermK::new(d, m) {
            Err(MastError::InvalidParameter { name, message }) => {
                assert_eq!(name, "nodes");
                assert!(message.contains(&format!("M = {m}")), "{message}");
            }
            other => panic!("PermK::new({d}, {m}) should fail, got {other:?}"),
        }
    }
}

#[test]
fn perm_k_joint_draws_partition() {
    let mut rng = stream(5, Stream::Sketch);
    let mut scratch = Vec::new();
    // Start with the wrong number of nodes: draw_joint resizes.
    let mut nodes = vec![SketchDraw::new(); 9];
    for (d, m) in [
        (10, 5),
        (12, 4),
        (12, 3),
        (10, 4),
        (7, 3),
        (5, 5),
        (6, 1),
        (1, 1),
        (1000, 8),
        (1000, 7),
        (1001, 1000),
    ] {
        let s = PermK::new(d, m).expect("valid M");
        let sizes = s.block_sizes();
        assert_eq!(sizes.iter().sum::<usize>(), d);
        let (base, extra) = (d / m, d % m);
        for (i, &b) in sizes.iter().enumerate() {
            assert_eq!(b, if i < extra { base + 1 } else { base });
        }
        for _ in 0..200 {
            // scratch comes from the previous (d, M) the first time: reset by size.
            s.draw_joint(&mut rng, &mut nodes, &mut scratch);
            check_joint(&format!("perm-k d={d} M={m}"), &s, &nodes);
        }
    }
}

/// Advances `a` to the next permutation in lexicographic order; false after the last.
fn next_permutation(a: &mut [usize]) -> bool {
    let n = a.len();
    if n < 2 {
        return false;
    }
    let mut i = n - 1;
    while i > 0 && a[i - 1] >= a[i] {
        i -= 1;
    }
    if i == 0 {
        return false;
    }
    let mut j = n - 1;
    while a[j] <= a[i - 1] {
        j -= 1;
    }
    a.swap(i - 1, j);
    a[i..].reverse();
    true
}

/// The node sketches of one permutation, by the documented rule: consecutive
/// blocks, the first d mod M one larger, block i scaled by d/|B_i|.
fn cut(perm: &[usize], m: usize) -> Vec<(Vec<usize>, f64)> {
    let d = perm.len();
    let (base, extra) = (d / m, d % m);
    let mut start = 0;
    (0..m)
        .map(|i| {
            let size = base + usize::from(i < extra);
            let mut block = perm[start..start + size].to_vec();
            block.sort_unstable();
            start += size;
            (block, d as f64 / size as f64)
        })
        .collect()
}

#[test]
fn perm_k_nodes_unbiased_by_enumerating_permutations() {
    for (d, m) in [(5, 2), (6, 4), (7, 3), (6, 3), (6, 6)] {
        let s = PermK::new(d, m).expect("valid M");
        let mut perm: Vec<usize> = (0..d).collect();
        let mut n_perms = 0usize;
        let mut sum_s = vec![vec![0.0; d]; m];
        let mut sum_ss = vec![vec![vec![0.0; d]; d]; m];
        let mut node0_blocks: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut avg_is_identity_always = true;
        loop {
            n_perms += 1;
            let blocks = cut(&perm, m);
            let mut avg = vec![0.0; d];
            for (i, (block, scale)) in blocks.iter().enumerate() {
                for &j in block {
                    sum_s[i][j] += scale;
                    avg[j] += scale / m as f64;
                    for &l in block {
                        sum_ss[i][j][l] += scale * scale;
                    }
                }
            }
            avg_is_identity_always &= avg.iter().all(|&a| (a - 1.0).abs() <= 1e-12);
            *node0_blocks.entry(blocks[0].0.clone()).or_default() += 1;
            if !next_permutation(&mut perm) {
                break;
            }
        }
        assert_eq!(n_perms, (1..=d).product::<usize>());
        let nf = n_perms as f64;
        for i in 0..m {
            let marginal = s.node_marginal(i);
            for j in 0..d {
                let e = sum_s[i][j] / nf;
                assert!(
                    (e - 1.0).abs() <= 1e-12,
                    "d={d} M={m}: E[S_{i}]_{j}{j} = {e}"
                );
                for l in 0..d {
                    assert_close(
                        sum_ss[i][j][l] / nf,
                        marginal.second_moment(j, l),
                        &format!("d={d} M={m}: node {i} E[s_{j} s_{l}]"),
                    );
                }
            }
        }
        // Exact average only when M divides d (documented).
        assert_eq!(avg_is_identity_always, d % m == 0, "d={d} M={m}");
        // Node 0's block is the sketch's own enumeration (Rand-K with K = |B_0|).
        let listed = s.enumerate().expect("small");
        assert_eq!(listed.len(), node0_blocks.len(), "d={d} M={m}");
        for (p, draw) in &listed {
            let c = node0_blocks.get(&draw.indices).copied().unwrap_or(0);
            assert_close(
                c as f64 / nf,
                *p,
                &format!("d={d} M={m}: node-0 block {:?}", draw.indices),
            );
        }
    }
}

/// The joint law of `draw_joint`: every ordered partition into blocks of the
/// documented sizes is equally likely.
#[test]
fn perm_k_joint_distribution_is_uniform() {
    for (d, m, t, seed) in [(6, 4, 36_000, 1), (5, 2, 20_000, 2), (7, 3, 40_000, 3)] {
        let s = PermK::new(d, m).expect("valid M");
        let sizes = s.block_sizes();
        // Multinomial coefficient d! / Π |B_i|!.
        let fact = |n: usize| (1..=n).product::<usize>();
        let outcomes = fact(d) / sizes.iter().map(|&b| fact(b)).product::<usize>();
        let mut rng = stream(seed, Stream::Sketch);
        let (mut nodes, mut scratch) = (Vec::new(), Vec::new());
        let mut counts: HashMap<Vec<u64>, usize> = HashMap::new();
        for _ in 0..t {
            s.draw_joint(&mut rng, &mut nodes, &mut scratch);
            check_joint("joint", &s, &nodes);
            let key: Vec<u64> = nodes.iter().map(|n| mask_of(&n.indices)).collect();
            *counts.entry(key).or_default() += 1;
        }
        assert_eq!(
            counts.len(),
            outcomes,
            "d={d} M={m}: distinct partitions seen"
        );
        let e = t as f64 / outcomes as f64;
        let chi2: f64 = counts.values().map(|&o| (o as f64 - e).powi(2) / e).sum();
        let df = (outcomes - 1) as f64;
        assert!(
            (chi2 - df).abs() <= 6.0 * (2.0 * df).sqrt() + 5.0,
            "d={d} M={m}: chi² = {chi2:.1}, {df} dof"
        );
    }
}

#[test]
fn perm_k_joint_inclusion_statistics_large_d() {
    let (d, m, t) = (1000, 3, 3000);
    let s = PermK::new(d, m).expect("valid M");
    let sizes = s.block_sizes();
    assert_eq!(sizes, vec![334, 333, 333]);
    let mut rng = stream(77, Stream::Sketch);
    let (mut nodes, mut scratch) = (Vec::new(), Vec::new());
    let mut count = vec![vec![0u32; d]; m];
    for _ in 0..t {
        s.draw_joint(&mut rng, &mut nodes, &mut scratch);
        check_joint("perm-k d=1000 M=3", &s, &nodes);
        for (i, node) in nodes.iter().enumerate() {
            for &j in &node.indices {
                count[i][j] += 1;
            }
        }
    }
    let (tf, df) = (t as f64, d as f64);
    for i in 0..m {
        let q = sizes[i] as f64 / df;
        let (e, v) = (tf * q, tf * q * (1.0 - q));
        // Per node, E[S_i] = I: the average of s_ij is 1 for every coordinate.
        let scale = df / sizes[i] as f64;
        let max_dev = count[i]
            .iter()
            .map(|&c| ((c as f64 * scale / tf) - 1.0).abs() / (v.sqrt() * scale / tf))
            .fold(0.0, f64::max);
        assert!(max_dev <= 6.0, "node {i}: max |z| of avg s_ij = {max_dev}");
        let chi2: f64 = count[i].iter().map(|&c| (c as f64 - e).powi(2) / v).sum();
        let sd = (df * (2.0 + (1.0 - 6.0 * q * (1.0 - q)) / v)).sqrt();
        assert!((chi2 - df).abs() <= 6.0 * sd, "node {i}: chi² = {chi2:.1}");
    }
}

fn draws_of(s: &dyn Sketch, seed: u64, n: usize) -> Vec<(Vec<usize>, Vec<f64>)> {
    let mut rng = stream(seed, Stream::Sketch);
    let mut draw = SketchDraw::new();
    (0..n)
        .map(|_| {
            s.draw(&mut rng, &mut draw);
            (draw.indices.clone(), draw.scales.clone())
        })
        .collect()
}

#[test]
fn same_seed_same_draws_different_seed_different_draws() {
    let d = 1000;
    let sketches: Vec<Box<dyn Sketch>> = vec![
        Box::new(Bernoulli::new(d, 0.1).expect("p")),
        Box::new(Bernoulli::new(d, 0.7).expect("p")),
        Box::new(Bernoulli::per_coordinate(vec![0.5; d]).expect("p")),
        Box::new(RandK::new(d, 10).expect("k")),
        Box::new(RandK::new(d, 500).expect("k")),
        Box::new(PermK::new(d, 4).expect("m")),
    ];
    for s in &sketches {
        let a = draws_of(&**s, 123, 5);
        let b = draws_of(&**s, 123, 5);
        assert_eq!(a, b, "{}: same seed, different draws", s.spec());
        let c = draws_of(&**s, 124, 5);
        assert_ne!(a, c, "{}: different seeds, same draws", s.spec());
        // Successive draws from one stream differ too.
        assert_ne!(a[0], a[1], "{}: repeated draw", s.spec());
        // Another stream of the same seed differs from the sketch stream.
        let mut rng: MastRng = stream(123, Stream::Data);
        let mut draw = SketchDraw::new();
        s.draw(&mut rng, &mut draw);
        assert_ne!(
            (draw.indices.clone(), draw.scales.clone()),
            a[0],
            "{}: Data stream = Sketch stream",
            s.spec()
        );
    }
    // Joint Perm-K draws.
    let s = PermK::new(d, 4).expect("m");
    let joint = |seed: u64| {
        let mut rng = stream(seed, Stream::Sketch);
        let (mut nodes, mut scratch) = (Vec::new(), Vec::new());
        (0..3)
            .map(|_| {
                s.draw_joint(&mut rng, &mut nodes, &mut scratch);
                nodes.iter().map(|n| n.indices.clone()).collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(joint(9), joint(9));
    assert_ne!(joint(9), joint(10));
}

/// `draw` must overwrite `out` whatever it held before.
#[test]
fn identity_draw_overwrites_previous_draw() {
    let d = 4;
    let id = Identity::new(d);
    let mut rng = stream(1, Stream::Sketch);
    // A previous draw of the same length whose first scale is 1 (e.g. a
    // per-coordinate Bernoulli with p_0 = 1 that kept everything).
    let mut draw = SketchDraw::from_parts(vec![0, 1, 2, 3], vec![1.0, 2.0, 4.0, 8.0]);
    id.draw(&mut rng, &mut draw);
    assert_eq!(draw.indices, vec![0, 1, 2, 3]);
    assert_eq!(
        draw.scales,
        vec![1.0; d],
        "Identity::draw left stale scales"
    );
    // Other previous contents.
    let mut draw = SketchDraw::from_parts(vec![1, 3], vec![2.0, 2.0]);
    id.draw(&mut rng, &mut draw);
    assert_eq!(draw.to_dense(d), vec![1.0; d]);
}

/// The same SketchDraw reused across sketches of different sizes and kinds.
#[test]
fn draw_buffer_reuse_across_sketches() {
    let mut rng = stream(3, Stream::Sketch);
    let mut draw = SketchDraw::new();
    let sketches: Vec<Box<dyn Sketch>> = vec![
        Box::new(RandK::new(100, 30).expect("k")),
        Box::new(RandK::new(50, 2).expect("k")),
        Box::new(Bernoulli::new(80, 0.1).expect("p")),
        Box::new(RandK::new(100, 3).expect("k")),
        Box::new(PermK::new(100, 3).expect("m")),
        Box::new(Identity::new(7)),
        Box::new(RandK::new(7, 7).expect("k")),
        Box::new(RandK::new(100, 99).expect("k")),
    ];
    for round in 0..20 {
        for s in &sketches {
            s.draw(&mut rng, &mut draw);
            let name = format!("round {round} {}", s.spec());
            assert_valid_draw(&name, &draw, s.dim());
            if !s.spec().starts_with("bernoulli") {
                assert_eq!(draw.len() as f64, s.expected_kept(), "{name}");
            }
        }
    }
}

/// `SketchDraw` documents its scratch space as "not part of the draw", so two
/// draws with the same indices and scales should compare equal.
#[test]
fn sketch_draw_equality_ignores_scratch() {
    let s = RandK::new(10, 5).expect("k");
    let mut draw = SketchDraw::new();
    s.draw(&mut stream(1, Stream::Sketch), &mut draw);
    let rebuilt = SketchDraw::from_parts(draw.indices.clone(), draw.scales.clone());
    assert_eq!(rebuilt.indices, draw.indices);
    assert_eq!(rebuilt.scales, draw.scales);
    assert_eq!(
        rebuilt, draw,
        "equal draws compare unequal (scratch compared)"
    );
}

#[test]
fn sketch_draw_helpers() {
    let draw = SketchDraw::from_parts(vec![1, 3], vec![2.0, 4.0]);
    assert_eq!(draw.len(), 2);
    assert!(!draw.is_empty());
    assert_eq!(draw.to_dense(5), vec![0.0, 2.0, 0.0, 4.0, 0.0]);
    assert_eq!(draw.iter().collect::<Vec<_>>(), vec![(1, 2.0), (3, 4.0)]);
    let (x, v) = ([1.0, 2.0, 3.0, 4.0, 5.0], [0.5, 0.5, 0.5, 1.0, 1.0]);
    let mut y = [0.0; 5];
    draw.apply_shifted(&x, &v, &mut y);
    // y = v + S(x − v): v off Ω; v_j + c_j (x_j − v_j) on Ω.
    assert_eq!(y, [0.5, 0.5 + 2.0 * 1.5, 0.5, 1.0 + 4.0 * 3.0, 1.0]);
    assert!(SketchDraw::new().is_empty());
}

#[test]
fn sketch_spec_parsing() {
    let cases = [
        ("rand-k:0.3", SketchSpec::RandKFraction(0.3)),
        ("rand-k:12", SketchSpec::RandKCount(12)),
        ("rand-k:k=12", SketchSpec::RandKCount(12)),
        ("rand-k:q=0.5", SketchSpec::RandKFraction(0.5)),
        ("bernoulli:0.5", SketchSpec::Bernoulli(0.5)),
        ("bernoulli:p=0.25", SketchSpec::Bernoulli(0.25)),
        ("dropconnect:0.9", SketchSpec::DropConnect(0.9)),
        ("perm-k:4", SketchSpec::PermK(4)),
        ("perm-k:m=4", SketchSpec::PermK(4)),
        ("identity", SketchSpec::Identity),
        ("none", SketchSpec::Identity),
        ("  Rand-K : k=3 ", SketchSpec::RandKCount(3)),
    ];
    for (text, expected) in cases {
        let got: SketchSpec = text
            .parse()
            .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"));
        assert_eq!(got, expected, "`{text}`");
    }
    // Built sketches.
    let s = SketchSpec::RandKFraction(0.3).build(10).expect("build");
    assert_eq!((s.dim(), s.expected_kept(), s.l_d()), (10, 3.0, 10.0 / 3.0));
    assert_eq!(s.spec(), "rand-k:k=3");
    let s = SketchSpec::RandKCount(12).build(100).expect("build");
    assert_eq!(s.expected_kept(), 12.0);
    let s = SketchSpec::PermK(4).build(10).expect("build");
    assert_eq!((s.expected_kept(), s.spec().as_str()), (3.0, "perm-k:4"));
    let s = SketchSpec::Bernoulli(0.5).build(10).expect("build");
    assert_eq!((s.l_d(), s.l_s_max(), s.expected_kept()), (2.0, 4.0, 5.0));
    let s = SketchSpec::Identity.build(10).expect("build");
    assert_eq!((s.dim(), s.l_d(), s.spec().as_str()), (10, 1.0, "identity"));
}

#[test]
fn sketch_spec_display_round_trip() {
    let specs = [
        SketchSpec::Identity,
        SketchSpec::Bernoulli(0.5),
        SketchSpec::Bernoulli(0.1),
        SketchSpec::Bernoulli(1.0),
        SketchSpec::Bernoulli(1.0 / 3.0),
        SketchSpec::RandKCount(12),
        SketchSpec::RandKCount(1),
        SketchSpec::RandKFraction(0.3),
        SketchSpec::RandKFraction(1.0),
        SketchSpec::RandKFraction(1e-3),
        SketchSpec::PermK(4),
        SketchSpec::DropConnect(0.25),
    ];
    for spec in specs {
        let text = spec.to_string();
        let back: SketchSpec = text
            .parse()
            .unwrap_or_else(|e| panic!("`{text}` does not parse back: {e}"));
        assert_eq!(back, spec, "`{text}`");
        // serde goes through the same strings.
        let json = serde_json::to_string(&spec).expect("serialize");
        assert_eq!(json, format!("\"{text}\""));
        let back: SketchSpec = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, spec);
    }
    assert!(serde_json::from_str::<SketchSpec>("\"foo:1\"").is_err());
    // Every built sketch's spec() parses back to an equivalent sketch.
    let d = 100;
    let built: Vec<Box<dyn Sketch>> = vec![
        Box::new(Identity::new(d)),
        Box::new(Bernoulli::new(d, 0.3).expect("p")),
        Box::new(Bernoulli::new(d, 1.0 / 7.0).expect("p")),
        Box::new(RandK::new(d, 17).expect("k")),
        Box::new(RandK::with_fraction(d, 0.25).expect("q")),
        Box::new(PermK::new(d, 3).expect("m")),
    ];
    for s in &built {
        let spec: SketchSpec = s.spec().parse().expect("spec parses");
        let again = spec.build(d).expect("spec builds");
        assert_eq!(again.spec(), s.spec());
        assert_eq!(again.l_d(), s.l_d());
        assert_eq!(again.l_s_max(), s.l_s_max());
        assert_eq!(again.expected_kept(), s.expected_kept());
    }
}

/// The error of parsing `text` and, if that succeeds, building it in dimension d.
fn spec_error(text: &str, d: usize) -> MastError {
    match text.parse::<SketchSpec>() {
        Err(e) => e,
        Ok(spec) => match spec.build(d) {
            Err(e) => e,
            Ok(s) => panic!("`{text}` built a sketch for d = {d}: {}", s.spec()),
        },
    }
}

fn expect_invalid(err: MastError, want_name: &str, words: &[&str]) {
    let text = err.to_string();
    match &err {
        MastError::InvalidParameter { name, message } => {
            assert_eq!(name, want_name, "{text}");
            for w in words {
                assert!(message.contains(w), "`{message}` does not mention `{w}`");
            }
        }
        other => panic!("expected InvalidParameter, got {other:?}"),
    }
    assert!(text.contains(want_name), "{text}");
}

#[test]
fn sketch_spec_errors() {
    // Parses, fails at build.
    let spec: SketchSpec = "bernoulli:1.5".parse().expect("parses");
    assert_eq!(spec, SketchSpec::Bernoulli(1.5));
    let err = match spec.build(10) {
        Err(e) => e,
        Ok(s) => panic!("bernoulli:1.5 built {}", s.spec()),
    };
    expect_invalid(err, "keep_prob", &["1.5", "(0, 1]"]);
    let spec: SketchSpec = "rand-k:k=200".parse().expect("parses");
    let err = match spec.build(100) {
        Err(e) => e,
        Ok(s) => panic!("rand-k:k=200 built {}", s.spec()),
    };
    expect_invalid(err, "k", &["200", "100"]);

    expect_invalid(spec_error("bernoulli:0", 10), "keep_prob", &["(0, 1]"]);
    expect_invalid(spec_error("bernoulli:-0.5", 10), "keep_prob", &["-0.5"]);
    expect_invalid(spec_error("bernoulli:nan", 10), "keep_prob", &["NaN"]);
    expect_invalid(spec_error("rand-k:0", 10), "k", &["K = 0"]);
    expect_invalid(spec_error("rand-k:q=0", 10), "q", &["(0, 1]"]);
    expect_invalid(spec_error("rand-k:1.5", 10), "q", &["1.5"]);
    expect_invalid(spec_error("perm-k:0", 10), "nodes", &["M = 0"]);
    expect_invalid(spec_error("perm-k:20", 10), "nodes", &["M = 20"]);
    expect_invalid(
        spec_error("foo:1", 10),
        "sketch",
        &["unknown sketch", "foo"],
    );
    expect_invalid(
        spec_error("bernoulli", 10),
        "sketch",
        &["needs a parameter"],
    );
    expect_invalid(spec_error("rand-k", 10), "sketch", &["needs a parameter"]);
    expect_invalid(spec_error("perm-k", 10), "sketch", &["needs a parameter"]);
    expect_invalid(
        spec_error("bernoulli:abc", 10),
        "sketch",
        &["abc", "not a number"],
    );
    expect_invalid(
        spec_error("rand-k:k=2.5", 10),
        "sketch",
        &["2.5", "whole number"],
    );
    expect_invalid(spec_error("rand-k:abc", 10), "sketch", &["abc"]);
    expect_invalid(spec_error("perm-k:x", 10), "sketch", &["x", "whole number"]);

    // Direct constructors.
    for p in [0.0, -1.0, 1.0 + 1e-12, f64::NAN, f64::INFINITY] {
        match Bernoulli::new(5, p) {
            Err(e) => expect_invalid(e, "keep_prob", &["(0, 1]"]),
            Ok(s) => panic!("Bernoulli::new(5, {p}) = {s:?}"),
        }
    }
    match Bernoulli::per_coordinate(vec![0.5, 0.0, 0.5]) {
        Err(e) => expect_invalid(e, "keep_prob", &["keep_prob[1]"]),
        Ok(s) => panic!("per_coordinate with a zero: {s:?}"),
    }
    for (d, k) in [(10, 0), (10, 11), (0, 1)] {
        match RandK::new(d, k) {
            Err(e) => expect_invalid(e, "k", &[&format!("K = {k}")]),
            Ok(s) => panic!("RandK::new({d}, {k}) = {s:?}"),
        }
    }
    for q in [0.0, -0.1, 1.5, f64::NAN] {
        match RandK::with_fraction(10, q) {
            Err(e) => expect_invalid(e, "q", &["(0, 1]"]),
            Ok(s) => panic!("RandK::with_fraction(10, {q}) = {s:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn prop_rand_k_draw(
        (d, k) in (1usize..60).prop_flat_map(|d| (Just(d), 1..=d)),
        seed in any::<u64>(),
    ) {
        let s = RandK::new(d, k).expect("valid K");
        let mut rng = stream(seed, Stream::Sketch);
        let mut draw = SketchDraw::new();
        let scale = d as f64 / k as f64;
        for _ in 0..4 {
            s.draw(&mut rng, &mut draw);
            prop_assert_eq!(draw.len(), k);
            prop_assert_eq!(draw.scales.len(), k);
            prop_assert!(draw.indices.windows(2).all(|w| w[0] < w[1]), "{:?}", draw.indices);
            prop_assert!(draw.indices.iter().all(|&j| j < d));
            prop_assert!(draw.scales.iter().all(|&c| c == scale));
        }
    }

    #[test]
    fn prop_bernoulli_draw(
        d in 1usize..60,
        p in prop_oneof![0.001f64..=0.25, 0.25f64..=1.0],
        seed in any::<u64>(),
    ) {
        let s = Bernoulli::new(d, p).expect("valid p");
        let mut rng = stream(seed, Stream::Sketch);
        let mut draw = SketchDraw::new();
        for _ in 0..4 {
            s.draw(&mut rng, &mut draw);
            prop_assert_eq!(draw.indices.len(), draw.scales.len());
            prop_assert!(draw.indices.windows(2).all(|w| w[0] < w[1]), "{:?}", draw.indices);
            prop_assert!(draw.indices.iter().all(|&j| j < d));
            prop_assert!(draw.scales.iter().all(|&c| c == 1.0 / p));
        }
    }

    #[test]
    fn prop_perm_k_joint_draw(
        (d, m) in (1usize..60).prop_flat_map(|d| (Just(d), 1..=d)),
        seed in any::<u64>(),
    ) {
        let s = PermK::new(d, m).expect("valid M");
        let mut rng = stream(seed, Stream::Sketch);
        let (mut nodes, mut scratch) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            s.draw_joint(&mut rng, &mut nodes, &mut scratch);
            check_joint("prop", &s, &nodes);
        }
    }
}
