//! Exact enumeration against the closed forms; E[SᵀAS] against enumeration.

use super::cases::*;
use super::*;

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
pub(crate) fn random_sym(d: usize, seed: u64) -> SymMatrix {
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
