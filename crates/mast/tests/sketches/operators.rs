//! The sketches beyond Bernoulli/Rand-K masks (issue 16): Gaussian, randomized
//! Hadamard (not diagonal), importance sampling; and the generic operator path.

use super::*;
use crate::cases::assert_close;

use mast::sketched::{operator_loss_grad, OperatorWork};

/// A sketch from its spec text.
fn make(spec: &str, d: usize) -> Box<dyn Sketch> {
    spec.parse::<SketchSpec>().unwrap().build(d).unwrap()
}

/// The dense Sylvester–Hadamard matrix, `H_jl = (−1)^popcount(j & l)`.
fn dense_h(m: usize) -> Vec<Vec<f64>> {
    (0..m)
        .map(|j| {
            (0..m)
                .map(|l| {
                    if (j & l).count_ones() % 2 == 0 {
                        1.0
                    } else {
                        -1.0
                    }
                })
                .collect()
        })
        .collect()
}

fn random_vec(d: usize, seed: u64) -> Vec<f64> {
    let mut rng = stream(seed, Stream::Init);
    (0..d).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// S as a dense d×d matrix (column l = S e_l), through `Sketch::apply`.
fn dense_s(s: &dyn Sketch, draw: &SketchDraw) -> Vec<Vec<f64>> {
    let d = s.dim();
    let mut cols = vec![vec![0.0; d]; d];
    let mut e = vec![0.0; d];
    for l in 0..d {
        e.fill(0.0);
        e[l] = 1.0;
        s.apply(draw, &e, &mut cols[l]);
    }
    (0..d)
        .map(|j| (0..d).map(|l| cols[l][j]).collect())
        .collect()
}

#[test]
fn fwht_is_the_dense_hadamard_matrix() {
    for log in 0..=12 {
        let m = 1usize << log;
        let u = random_vec(m, log as u64);
        let mut got = u.clone();
        fwht(&mut got);
        // Dense product for the small sizes; H H = m I for all.
        if m <= 256 {
            let h = dense_h(m);
            for j in 0..m {
                let want: f64 = (0..m).map(|l| h[j][l] * u[l]).sum();
                assert_close(got[j], want, &format!("m = {m}: (H u)_{j}"));
            }
        }
        fwht(&mut got);
        for j in 0..m {
            assert_close(got[j] / m as f64, u[j], &format!("m = {m}: H H u / m"));
        }
    }
    // Past the cache blocks (2¹¹ and 2¹⁶ doubles), where the levels run in
    // blocks, then in tiles across rows (four levels a pass, then the rest).
    for log in [13, 17, 18, 21] {
        let m = 1usize << log;
        let mut e = vec![0.0; m];
        e[5] = 1.0;
        fwht(&mut e);
        for (j, &t) in e.iter().enumerate() {
            let want = if (j & 5).count_ones() % 2 == 0 {
                1.0
            } else {
                -1.0
            };
            assert_eq!(t, want, "m = {m}: column 5 of H, entry {j}");
        }
        let u = random_vec(m, 77);
        let mut twice = u.clone();
        fwht(&mut twice);
        fwht(&mut twice);
        for j in 0..m {
            assert!(
                (twice[j] / m as f64 - u[j]).abs() < 1e-12,
                "m = {m}: H H u / m at {j}"
            );
        }
    }
}

#[test]
fn hadamard_apply_is_the_dense_product() {
    // S = Pᵀ Rᵀ B R P with R = H D/√m, built densely.
    for (d, inner) in [
        (6usize, "bernoulli:0.5"),
        (8, "rand-k:3"),
        (13, "gaussian:0.7"),
    ] {
        let m = d.next_power_of_two();
        let b = make(inner, m);
        let s = Hadamard::new(d, b).unwrap();
        assert!(!s.is_diagonal());
        let h = dense_h(m);
        let mut rng = stream(4, Stream::Sketch);
        let mut draw = SketchDraw::new();
        for rep in 0..5 {
            s.draw(&mut rng, &mut draw);
            let sign = |j: usize| {
                if (draw.aux[j / 64] >> (j % 64)) & 1 == 1 {
                    -1.0
                } else {
                    1.0
                }
            };
            let bdiag = draw.to_dense(m);
            let r = |i: usize, j: usize| h[i][j] * sign(j) / (m as f64).sqrt();
            let z = random_vec(d, 100 + rep);
            let mut got = vec![0.0; d];
            s.apply(&draw, &z, &mut got);
            for p in 0..d {
                // (Rᵀ B R z)_p = Σ_i R_ip b_i Σ_j R_ij z_j
                let want: f64 = (0..m)
                    .map(|i| r(i, p) * bdiag[i] * (0..d).map(|j| r(i, j) * z[j]).sum::<f64>())
                    .sum();
                assert_close(
                    got[p],
                    want,
                    &format!("hadamard({inner}) d = {d}: (S z)_{p}"),
                );
            }
        }
    }
}

/// Past one L2 block (2¹⁶) the sketch runs fused passes (the upper levels of
/// both transforms around the mask, tile by tile): checked against the
/// definition `S z = Pᵀ D H B H D P z / m` made of two plain [`fwht`] calls, at
/// sizes with one, two and six row levels, a bit-set and a dense inner draw, and
/// with the shifted and the descent forms.
#[test]
fn hadamard_fused_passes_are_the_definition() {
    for (d, inner) in [
        ((1usize << 17) + 5, "bernoulli:0.5"),
        (1 << 18, "gaussian:0.3"),
        ((1 << 21) + 1, "bernoulli:0.25"),
    ] {
        let m = d.next_power_of_two();
        let s = Hadamard::new(d, make(inner, m)).unwrap();
        let mut draw = SketchDraw::new();
        s.draw(&mut stream(9, Stream::Sketch), &mut draw);
        let sign = |j: usize| (draw.aux[j / 64] >> (j % 64)) & 1 == 1;
        let b = draw.to_dense(m);
        let definition = |z: &[f64]| {
            let mut u = vec![0.0; m];
            for j in 0..d {
                u[j] = if sign(j) { -z[j] } else { z[j] };
            }
            fwht(&mut u);
            for (ui, bi) in u.iter_mut().zip(&b) {
                *ui *= bi / m as f64;
            }
            fwht(&mut u);
            (0..d)
                .map(|j| if sign(j) { -u[j] } else { u[j] })
                .collect::<Vec<f64>>()
        };
        let (z, v) = (random_vec(d, 31), random_vec(d, 32));
        let want = definition(&z);
        let scale = want.iter().fold(0.0f64, |a, w| a.max(w.abs()));
        let mut got = vec![0.0; d];
        s.apply(&draw, &z, &mut got);
        let worst = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |a, (g, w)| a.max((g - w).abs()));
        assert!(
            worst <= 1e-12 * scale,
            "hadamard:{inner} d = {d}: S z off by {worst:e} (scale {scale:e})"
        );
        // y = v + S(z − v)
        let zv: Vec<f64> = z.iter().zip(&v).map(|(a, b)| a - b).collect();
        let want_shifted: Vec<f64> = definition(&zv).iter().zip(&v).map(|(s, v)| v + s).collect();
        s.apply_shifted(&draw, &z, &v, &mut got);
        let worst = got
            .iter()
            .zip(&want_shifted)
            .fold(0.0f64, |a, (g, w)| a.max((g - w).abs()));
        assert!(
            worst <= 1e-12 * (scale + 1.0),
            "hadamard:{inner} d = {d}: shifted off by {worst:e}"
        );
        // The fused descent is the default one (Sᵀg, then x − γ·Sᵀg) bit for bit.
        let gamma = 0.37;
        let mut x_fused = v.clone();
        let mut x_plain = v.clone();
        let mut scratch = vec![0.0; d];
        assert!(s.descend(&draw, &z, gamma, &mut x_fused, &mut scratch));
        s.apply_transpose(&draw, &z, &mut scratch);
        for (x, sg) in x_plain.iter_mut().zip(&scratch) {
            *x -= gamma * sg;
        }
        assert!(
            x_fused == x_plain,
            "hadamard:{inner} d = {d}: fused descent differs"
        );
        // A non-finite gradient makes the descent say so.
        let mut bad = z.clone();
        bad[d / 2] = f64::INFINITY;
        assert!(!s.descend(&draw, &bad, gamma, &mut x_fused, &mut scratch));
    }
}

/// The fused passes give the same bits on one thread and on three (tiles and
/// blocks go to threads in any order; each value's operations do not change).
#[test]
fn hadamard_passes_give_the_same_bits_on_any_thread_count() {
    let d = (1usize << 18) + 3;
    let s = Hadamard::new(d, make("bernoulli:0.5", d.next_power_of_two())).unwrap();
    let mut draw = SketchDraw::new();
    s.draw(&mut stream(5, Stream::Sketch), &mut draw);
    let (z, v) = (random_vec(d, 41), random_vec(d, 42));
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut y = vec![0.0; d];
            s.apply_shifted(&draw, &z, &v, &mut y);
            let mut x = v.clone();
            assert!(s.descend(&draw, &z, 0.1, &mut x, &mut vec![0.0; d]));
            (y, x)
        })
    };
    let one = run(1);
    assert!(
        one == run(3),
        "the Hadamard passes depend on the thread count"
    );
}

/// E[S] = I, E[SᵀS] and E[SᵀAS] of a Hadamard sketch by exact enumeration over
/// the signs and the inner draws.
#[test]
fn hadamard_exact_moments_by_enumeration() {
    for (d, inner) in [
        (3usize, "bernoulli:0.5"),
        (4, "bernoulli:0.25"),
        (3, "rand-k:2"),
        (5, "rand-k:3"),
        (2, "identity"),
    ] {
        let m = d.next_power_of_two();
        let s = Hadamard::new(d, make(inner, m)).unwrap();
        let all = s.enumerate().expect("small enough to list");
        let total: f64 = all.iter().map(|(p, _)| p).sum();
        assert_close(total, 1.0, "probabilities sum to 1");
        let a = super::exact::random_sym(d, 21);
        let (mut mean, mut sts, mut sas) = (
            vec![vec![0.0; d]; d],
            vec![vec![0.0; d]; d],
            vec![vec![0.0; d]; d],
        );
        for (p, draw) in &all {
            let sm = dense_s(&s, draw);
            for j in 0..d {
                for l in 0..d {
                    mean[j][l] += p * sm[j][l];
                    sts[j][l] += p * (0..d).map(|k| sm[k][j] * sm[k][l]).sum::<f64>();
                    sas[j][l] += p
                        * (0..d)
                            .map(|k| sm[k][j] * (0..d).map(|t| a.get(k, t) * sm[t][l]).sum::<f64>())
                            .sum::<f64>();
                }
            }
        }
        let got = s.expected_sas(&a);
        let name = format!("hadamard:{inner} at d = {d}");
        for j in 0..d {
            for l in 0..d {
                let id = (j == l) as u8 as f64;
                assert_close(mean[j][l], id, &format!("{name}: E[S]_{j}{l}"));
                assert_close(
                    sts[j][l],
                    s.second_moment(j, l),
                    &format!("{name}: E[SᵀS]_{j}{l}"),
                );
                assert_close(sas[j][l], got.get(j, l), &format!("{name}: E[SᵀAS]_{j}{l}"));
            }
        }
        assert_close(s.l_d(), sts[0][0], &format!("{name}: L_D"));
        assert_close(s.mu_d(), sts[0][0], &format!("{name}: μ_D"));
    }
}

/// At large d: E[S z] = z and E‖S z‖² = L_D ‖z‖² by statistics.
#[test]
fn hadamard_unbiased_at_large_d_by_statistics() {
    let d = 3000; // m = 4096
    let s = Hadamard::new(d, Box::new(Bernoulli::new(4096, 0.3).unwrap())).unwrap();
    let z = random_vec(d, 8);
    let reps = 400;
    let mut rng = stream(12, Stream::Sketch);
    let mut draw = SketchDraw::new();
    let (mut sum, mut sumsq) = (vec![0.0; d], vec![0.0; d]);
    let mut y = vec![0.0; d];
    let mut norms = 0.0;
    for _ in 0..reps {
        s.draw(&mut rng, &mut draw);
        s.apply(&draw, &z, &mut y);
        norms += y.iter().map(|t| t * t).sum::<f64>() / reps as f64;
        for j in 0..d {
            sum[j] += y[j];
            sumsq[j] += y[j] * y[j];
        }
    }
    // Each coordinate's mean is within 5 standard errors of z_j; and their
    // z-scores have about unit variance.
    let mut chi = 0.0;
    for j in 0..d {
        let mean = sum[j] / reps as f64;
        let var = (sumsq[j] / reps as f64 - mean * mean).max(1e-300);
        let zscore = (mean - z[j]) / (var / reps as f64).sqrt();
        assert!(zscore.abs() < 6.0, "coordinate {j}: z-score {zscore}");
        chi += zscore * zscore;
    }
    let chi = chi / d as f64;
    assert!((chi - 1.0).abs() < 0.15, "mean squared z-score {chi}");
    let want = s.l_d() * z.iter().map(|t| t * t).sum::<f64>();
    assert!(
        (norms / want - 1.0).abs() < 0.05,
        "E‖Sz‖² {norms} vs {want}"
    );
}

#[test]
fn hadamard_refuses_inner_sketches_it_cannot_use() {
    let err = |r: mast::Result<Hadamard>| r.unwrap_err().to_string();
    assert!(
        err(Hadamard::new(6, Box::new(Bernoulli::new(6, 0.5).unwrap()))).contains("pads to m = 8")
    );
    let per = Bernoulli::per_coordinate(vec![0.5, 0.25, 0.5, 0.5]).unwrap();
    assert!(err(Hadamard::new(4, Box::new(per))).contains("not exchangeable"));
    assert!(err(Hadamard::new(
        4,
        Box::new(DropConnect::new(4, 0.5).unwrap())
    ))
    .contains("biased"));
}

#[test]
fn gaussian_moments_by_statistics() {
    let (d, sigma2) = (2000, 0.6);
    let s = Gaussian::new(d, sigma2).unwrap();
    assert_eq!((s.l_d(), s.mu_d()), (1.6, 1.6));
    assert!(s.l_s_max().is_infinite());
    let mut rng = stream(5, Stream::Sketch);
    let mut draw = SketchDraw::new();
    let reps = 50;
    let (mut sum, mut sumsq, mut cross, mut count) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..reps {
        s.draw(&mut rng, &mut draw);
        assert_eq!(draw.indices, (0..d).collect::<Vec<_>>());
        for k in 0..d {
            let c = draw.scales[k];
            sum += c;
            sumsq += c * c;
            if k + 1 < d {
                cross += c * draw.scales[k + 1];
            }
            count += 1.0;
        }
    }
    let n = count;
    let se = (sigma2 / n).sqrt();
    assert!((sum / n - 1.0).abs() < 5.0 * se, "E[ξ] = {}", sum / n);
    // E[ξ²] = 1 + σ²: the sample second moment's standard error is about
    // √(Var ξ²/n) with Var ξ² = 4σ² + 2σ⁴.
    let se2 = ((4.0 * sigma2 + 2.0 * sigma2 * sigma2) / n).sqrt();
    assert!(
        (sumsq / n - s.second_moment(0, 0)).abs() < 5.0 * se2,
        "E[ξ²] = {}",
        sumsq / n
    );
    assert!(
        (cross / n - s.second_moment(0, 1)).abs() < 5.0 * se2,
        "E[ξ_j ξ_l] = {}",
        cross / n
    );
    // The shape of N(0, 1): P(|ξ| < 1), P(|ξ| < 2), and the tail past the
    // ziggurat's base (R = 3.6541…), each within 5 standard errors.
    let unit = Gaussian::new(1 << 20, 1.0).unwrap();
    unit.draw(&mut rng, &mut draw);
    let n = draw.scales.len() as f64;
    for (edge, p) in [
        (1.0, 0.682_689_492_137_086),
        (2.0, 0.954_499_736_103_642),
        (3.654_152_885_361_009, 0.999_741_967_512_346),
    ] {
        let inside = draw
            .scales
            .iter()
            .filter(|&&c| (c - 1.0).abs() < edge)
            .count() as f64
            / n;
        let se = (p * (1.0 - p) / n).sqrt();
        assert!(
            (inside - p).abs() < 5.0 * se,
            "P(|ξ| < {edge}) = {inside}, want {p}"
        );
    }
    // Same seed, same draw.
    let (mut a, mut b) = (SketchDraw::new(), SketchDraw::new());
    s.draw(&mut stream(9, Stream::Sketch), &mut a);
    s.draw(&mut stream(9, Stream::Sketch), &mut b);
    assert_eq!(a, b);
    assert!(Gaussian::new(3, 0.0).is_err() && Gaussian::new(3, f64::NAN).is_err());
    assert_eq!(
        Gaussian::matching_bernoulli(3, 0.25).unwrap().variance(),
        3.0
    );
}

#[test]
fn importance_sums_to_the_fraction_and_is_exact() {
    let w = [0.1, 3.0, 1.0, 0.0, 2.0, 0.5];
    for fraction in [0.2, 0.5, 0.9, 1.0] {
        let s = Bernoulli::importance(&w, fraction).unwrap();
        let ps: Vec<f64> = (0..w.len()).map(|j| s.keep_prob(j)).collect();
        let total: f64 = ps.iter().sum();
        assert_close(total, fraction * w.len() as f64, "Σ p_j");
        assert!(ps.iter().all(|&p| p > 0.0 && p <= 1.0));
        // Proportional to the (floored) weights below the cap.
        let floor = 1e-3 * w.iter().sum::<f64>() / w.len() as f64;
        let uncapped: Vec<usize> = (0..w.len()).filter(|&j| ps[j] < 1.0).collect();
        for pair in uncapped.windows(2) {
            let (j, l) = (pair[0], pair[1]);
            assert_close(ps[j] / ps[l], w[j].max(floor) / w[l].max(floor), "p ∝ w");
        }
        // The capped coordinates are the heaviest.
        for j in 0..w.len() {
            for l in 0..w.len() {
                if ps[j] == 1.0 && ps[l] < 1.0 {
                    assert!(w[j] >= w[l]);
                }
            }
        }
        // E[S] = I and E[SᵀS] = Diag(1/p_j) by exact enumeration.
        let mut mean = vec![0.0; w.len()];
        let mut second = vec![0.0; w.len()];
        for (p, draw) in s.enumerate().unwrap() {
            for (j, c) in draw.iter() {
                mean[j] += p * c;
                second[j] += p * c * c;
            }
        }
        for j in 0..w.len() {
            assert_close(mean[j], 1.0, "E[s_j]");
            assert_close(second[j], 1.0 / ps[j], "E[s_j²]");
        }
        assert_close(
            s.l_s_max(),
            1.0 / ps.iter().fold(1.0, |a: f64, &b| a.min(b)).powi(2),
            "L_S^max",
        );
    }
    assert!(Bernoulli::importance(&[0.0, 0.0], 0.5).is_err());
    assert!(Bernoulli::importance(&[1.0, -1.0], 0.5).is_err());
    assert!(Bernoulli::importance(&[1.0, 1.0], 0.0).is_err());
}

/// The generic path (the definition, through `Sketch::apply`) equals the
/// diagonal fast path for the diagonal sketches, on a real objective.
#[test]
fn operator_path_equals_the_diagonal_fast_path() {
    use mast::objective::{Objective, Rows, Shift, Workspace};
    use std::sync::Arc;
    let data = Arc::new(mast::data::synthetic::gaussian_planted(
        40,
        9,
        0.5,
        mast::data::synthetic::Task::Classification,
        3,
    ));
    let f = mast::objective::LogisticRegression::new(data, 0.01).unwrap();
    let d = f.dim();
    let x = random_vec(d, 1);
    let shift = Shift::new(&f, random_vec(d, 2));
    let mut ws = Workspace::new(d, f.num_samples());
    let mut work = OperatorWork::new(d);
    for spec in ["bernoulli:0.4", "rand-k:3", "gaussian:0.5", "identity"] {
        let s = make(spec, d);
        let mut draw = SketchDraw::new();
        s.draw(&mut stream(6, Stream::Sketch), &mut draw);
        let batch = [1, 7, 30];
        for rows in [Rows::All, Rows::Batch(&batch)] {
            let mut fast = vec![0.0; d];
            let lf = f.sketched_loss_grad(&shift, &x, &draw, rows, &mut ws, &mut fast);
            let mut dense = vec![0.0; d];
            let lo = operator_loss_grad(
                &f,
                s.as_ref(),
                &shift,
                &x,
                &draw,
                rows,
                &mut work,
                &mut dense,
            );
            assert_close(lf, lo, &format!("{spec}: f_S"));
            let mut scattered = vec![0.0; d];
            for (k, (j, _)) in draw.iter().enumerate() {
                scattered[j] = fast[k];
            }
            for j in 0..d {
                assert_close(
                    scattered[j],
                    dense[j],
                    &format!("{spec}: ∇f_S coordinate {j}"),
                );
            }
        }
    }
}

#[test]
fn new_sketches_parse_build_and_print_back() {
    let g: SketchSpec = "gaussian:p=0.5".parse().unwrap();
    assert_eq!(g.to_string(), "gaussian:1");
    assert_eq!(g.build(7).unwrap().l_d(), 2.0);
    assert_eq!(
        "gaussian:0.25"
            .parse::<SketchSpec>()
            .unwrap()
            .build(3)
            .unwrap()
            .second_moment(1, 1),
        1.25
    );
    let h: SketchSpec = "Hadamard : bernoulli:0.5".parse().unwrap();
    assert_eq!(
        (h.to_string().as_str(), h.keep_fraction()),
        ("hadamard:bernoulli:0.5", Some(0.5))
    );
    let hs = h.build(100).unwrap();
    assert!(!hs.is_diagonal());
    // a = 1, c = 2, d/m = 100/128.
    assert_close(hs.l_d(), 1.0 + 100.0 / 128.0, "hadamard L_D");
    assert_eq!(hs.spec(), "hadamard:bernoulli:0.5");
    for bad in [
        "gaussian:0",
        "gaussian:p=1",
        "hadamard:perm-k:4",
        "hadamard:hadamard:bernoulli:0.5",
        "importance:foo:0.5",
        "importance:sqrt-l:1.5",
        "importance:0.5",
    ] {
        let err = bad
            .parse::<SketchSpec>()
            .and_then(|s| s.build(8).map(|_| ()));
        assert!(err.is_err(), "`{bad}` was accepted");
    }
    // Importance from the data needs the objective.
    let imp: SketchSpec = "importance:sqrt-l:0.3".parse().unwrap();
    assert!(imp
        .build(8)
        .unwrap_err()
        .to_string()
        .contains("coordinate smoothness"));
    let data = std::sync::Arc::new(mast::data::synthetic::gaussian_planted(
        50,
        8,
        0.5,
        mast::data::synthetic::Task::Classification,
        2,
    ));
    let f = mast::objective::LogisticRegression::new(data, 0.01).unwrap();
    let s = imp
        .build_in(&mast::sketch::registry::SketchContext::with_objective(&f))
        .unwrap();
    assert_close(s.expected_kept(), 0.3 * 8.0, "importance E|Ω|");
    assert_eq!(s.spec(), "importance:sqrt-l:0.3");
    // From a file, with the file and line of a bad entry.
    let dir = std::env::temp_dir().join(format!("mast-importance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("p.txt");
    std::fs::write(&good, "0.5 0.25\n1 0.5\n").unwrap();
    let s: SketchSpec = format!("importance:file:{}", good.display())
        .parse()
        .unwrap();
    let built = s.build(4).unwrap();
    assert_close(built.l_s_max(), 16.0, "1/min p²");
    assert!(s
        .build(5)
        .unwrap_err()
        .to_string()
        .contains("4 keep probabilities"));
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "0.5\n0.5 2\n").unwrap();
    let err = format!("importance:file:{}", bad.display())
        .parse::<SketchSpec>()
        .unwrap()
        .build(3)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.txt:2") && err.contains("`2`"), "{err}");
    // The registry lists them.
    let names: Vec<&str> = mast::sketch::registry::registered()
        .iter()
        .map(|e| e.name)
        .collect();
    for n in ["gaussian", "hadamard", "importance"] {
        assert!(names.contains(&n), "{n} not registered");
    }
}
