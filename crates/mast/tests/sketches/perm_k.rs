//! Perm-K joint draws: partitions, block sizes, exact unbiasedness over all permutations.

use super::cases::*;
use super::*;

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
