//! The small sketches with their closed forms (MAST.md §1), and draw checks.

use super::*;

/// Closed forms of MAST.md §1 for one sketch.
pub(crate) struct Closed {
    /// Diagonal of E[SᵀS].
    pub(crate) diag: Vec<f64>,
    /// E[s_j s_l] for j ≠ l.
    pub(crate) off: f64,
    pub(crate) l_d: f64,
    pub(crate) mu_d: f64,
    pub(crate) l_s_max: f64,
    pub(crate) kept: f64,
}

pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) sketch: Box<dyn Sketch>,
    pub(crate) closed: Closed,
    /// Whether `l_s_max()` must equal the enumerated maximum (see
    /// `perm_k_l_s_max_is_that_of_node_0_marginal` for the one exception).
    pub(crate) check_l_s_max: bool,
}

pub(crate) fn identity_case(d: usize) -> Case {
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

pub(crate) fn bernoulli_closed(ps: &[f64]) -> Closed {
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

pub(crate) fn bernoulli_case(d: usize, p: f64) -> Case {
    Case {
        name: format!("bernoulli d={d} p={p}"),
        sketch: Box::new(Bernoulli::new(d, p).expect("valid p")),
        closed: bernoulli_closed(&vec![p; d]),
        check_l_s_max: true,
    }
}

pub(crate) fn bernoulli_per_coordinate_case(ps: Vec<f64>) -> Case {
    Case {
        name: format!("bernoulli per-coordinate {ps:?}"),
        closed: bernoulli_closed(&ps),
        sketch: Box::new(Bernoulli::per_coordinate(ps).expect("valid ps")),
        check_l_s_max: true,
    }
}

pub(crate) fn rand_k_closed(d: usize, k: usize) -> Closed {
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

pub(crate) fn rand_k_case(d: usize, k: usize) -> Case {
    Case {
        name: format!("rand-k d={d} K={k}"),
        sketch: Box::new(RandK::new(d, k).expect("valid K")),
        closed: rand_k_closed(d, k),
        check_l_s_max: true,
    }
}

/// `RandK::with_fraction(d, q)`, whose K must be `expected_k`.
pub(crate) fn rand_k_fraction_case(d: usize, q: f64, expected_k: usize) -> Case {
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
pub(crate) fn perm_k_case(d: usize, m: usize) -> Case {
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

pub(crate) fn small_cases_without_perm_k() -> Vec<Case> {
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

pub(crate) fn perm_k_small_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for d in [1, 5, 6, 7] {
        for m in 1..=d {
            v.push(perm_k_case(d, m));
        }
    }
    v
}

pub(crate) fn assert_close(a: f64, b: f64, what: &str) {
    let tol = 1e-12 * 1f64.max(a.abs()).max(b.abs());
    assert!(
        (a - b).abs() <= tol,
        "{what}: {a} vs {b} (|err| = {:e})",
        (a - b).abs()
    );
}

pub(crate) fn assert_valid_draw(name: &str, draw: &SketchDraw, d: usize) {
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

pub(crate) fn mask_of(indices: &[usize]) -> u64 {
    indices.iter().fold(0u64, |m, &j| m | (1 << j))
}

/// Checks one joint Perm-K draw: sizes, scales, partition, exact average when M | d.
pub(crate) fn check_joint(name: &str, s: &PermK, nodes: &[SketchDraw]) {
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
