//! The fast Bernoulli fill: the lanes are Xoshiro256++, every code path gives the
//! same masks, the keep probability is exactly `p' = t / 2³²` and `1/p'` makes the
//! masks unbiased (E[S] = I), entries are independent, and a fill is a
//! deterministic function of the stream state.

use mast::rng::{stream, MastRng, Stream};
use mast_nn::lanes::{
    bernoulli_vec, fill_bernoulli, fill_path, fill_with, fill_with_avx2, fill_with_portable, Keep,
    Lanes, LANES,
};
use rand::{RngCore, SeedableRng};

#[test]
fn lanes_are_xoshiro256plusplus() {
    let mut seeder = stream(1, Stream::Synthetic);
    let states: [[u64; 4]; LANES] =
        std::array::from_fn(|_| std::array::from_fn(|_| seeder.next_u64()));
    let mut lanes = Lanes::from_states(states);
    let mut refs: Vec<MastRng> = states
        .iter()
        .map(|st| {
            let mut seed = [0u8; 32];
            for (w, chunk) in st.iter().zip(seed.chunks_exact_mut(8)) {
                chunk.copy_from_slice(&w.to_le_bytes());
            }
            MastRng::from_seed(seed)
        })
        .collect();
    for _ in 0..1000 {
        let out = lanes.next_u64s();
        for (j, r) in refs.iter_mut().enumerate() {
            assert_eq!(out[j], r.next_u64(), "lane {j}");
        }
    }
}

#[test]
fn every_code_path_gives_the_same_masks() {
    println!("fill path on this machine: {}", fill_path());
    for len in [0usize, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 100_003] {
        for p in [0.5, 0.3, 0.9, 1e-3] {
            let keep = Keep::new(p);
            let seed = stream(len as u64, Stream::Sketch);
            let lanes = Lanes::from_rng(&mut seed.clone());
            let run = |f: &dyn Fn(&mut Lanes, &mut [f32])| {
                let mut l = lanes.clone();
                let mut out = vec![f32::NAN; len];
                f(&mut l, &mut out);
                (out, l)
            };
            let (a, la) = run(&|l, o| fill_with(l, keep, 2.5, o));
            let (b, lb) = run(&|l, o| fill_with_portable(l, keep, 2.5, o));
            assert_eq!(a, b, "len {len}, p {p}: dispatched vs portable");
            assert_eq!(la, lb, "the lanes advance alike");
            let (c, _) = run(&|l, o| {
                if !fill_with_avx2(l, keep, 2.5, o) {
                    fill_with_portable(l, keep, 2.5, o);
                }
            });
            assert_eq!(a, c, "len {len}, p {p}: dispatched vs AVX2");
            assert!(a.iter().all(|&x| x == 0.0 || x == 2.5));
            // A fill writes every entry, and bernoulli_vec (no zeroing) equals fill_bernoulli.
            let mut r1 = seed.clone();
            let mut r2 = seed.clone();
            let mut d = vec![f32::NAN; len];
            fill_bernoulli(&mut r1, keep, 2.5, &mut d);
            assert_eq!(d, a);
            assert_eq!(bernoulli_vec(&mut r2, keep, 2.5, len), a);
            assert_eq!(r1, r2);
        }
    }
}

#[test]
fn a_fill_is_a_function_of_the_stream_and_advances_it_by_lanes_outputs() {
    let mut a = stream(5, Stream::Sketch);
    let mut b = stream(5, Stream::Sketch);
    let x = bernoulli_vec(&mut a, Keep::new(0.5), 2.0, 12345);
    for _ in 0..LANES {
        b.next_u64();
    }
    assert_eq!(a, b, "the stream advances by LANES outputs");
    let mut c = stream(5, Stream::Sketch);
    assert_eq!(x, bernoulli_vec(&mut c, Keep::new(0.5), 2.0, 12345));
    let y = bernoulli_vec(&mut a, Keep::new(0.5), 2.0, 12345);
    assert_ne!(x, y, "the next fill is a fresh draw");
    // On a thread of its own: the same masks.
    let mut d = stream(5, Stream::Sketch);
    let z = std::thread::spawn(move || bernoulli_vec(&mut d, Keep::new(0.5), 2.0, 12345))
        .join()
        .unwrap();
    assert_eq!(x, z);
    // Everything kept: no draw, the stream does not move.
    let mut e = stream(5, Stream::Sketch);
    assert_eq!(bernoulli_vec(&mut e, Keep::new(1.0), 1.0, 3), vec![1.0; 3]);
    assert_eq!(e, stream(5, Stream::Sketch));
}

#[test]
fn keep_is_exact_to_two_to_the_minus_32() {
    assert_eq!(Keep::new(0.5).threshold(), 1 << 31);
    assert_eq!(Keep::new(0.5).prob(), 0.5);
    assert_eq!(Keep::new(0.5).inverse(), 2.0);
    assert_eq!(Keep::new(0.25).inverse(), 4.0);
    assert_eq!(Keep::new(1.0).threshold(), 1 << 32);
    assert_eq!(Keep::new(1.0).inverse(), 1.0);
    assert_eq!(
        Keep::new(1e-12).threshold(),
        1,
        "a positive p keeps something"
    );
    assert_eq!(Keep::new(0.0).threshold(), 0);
    for p in [0.3, 0.7, 0.1, 0.999, 1.0 / 3.0] {
        let k = Keep::new(p);
        assert!(
            (k.prob() - p).abs() <= 0.5 / 4_294_967_296.0,
            "p' within 2⁻³³ of {p}"
        );
        assert_eq!(k.prob(), k.threshold() as f64 / 4_294_967_296.0);
        assert!(
            ((k.inverse() as f64) * k.prob() - 1.0).abs() < 1e-7,
            "1/p' · p' = 1"
        );
    }
}

/// E[S] = I: the mean of the scaled mask is 1, overall and per entry, and the
/// kept fraction is p (within 5 standard errors).
#[test]
fn masks_are_unbiased_and_entries_independent() {
    let mut rng = stream(11, Stream::Sketch);
    for p in [0.5, 0.3, 0.9, 0.05] {
        let keep = Keep::new(p);
        let value = keep.inverse();
        let n = 2_000_003;
        let m = bernoulli_vec(&mut rng, keep, value, n);
        let mean = m.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let se = ((1.0 - p) / p / n as f64).sqrt();
        assert!((mean - 1.0).abs() < 5.0 * se, "p {p}: E[mask] = {mean}");
    }
    // Per entry over many draws (entries 0..48 cover three rounds of all lanes and
    // both halves of each u64), and pairs sharing a u64 or neighbouring lanes.
    let p = 0.3;
    let keep = Keep::new(p);
    let (width, draws) = (48usize, 20_000usize);
    let mut sum = vec![0.0f64; width];
    let mut both_half = 0usize; // entries j and j + 8 (the two halves of one u64)
    let mut both_lane = 0usize; // entries j and j + 1 (neighbouring lanes)
    for _ in 0..draws {
        let m = bernoulli_vec(&mut rng, keep, keep.inverse(), width);
        for (s, &x) in sum.iter_mut().zip(&m) {
            *s += x as f64;
        }
        both_half += usize::from(m[3] > 0.0 && m[11] > 0.0);
        both_lane += usize::from(m[3] > 0.0 && m[4] > 0.0);
    }
    let se = ((1.0 - p) / p / draws as f64).sqrt();
    for (j, s) in sum.iter().enumerate() {
        let mean = s / draws as f64;
        assert!((mean - 1.0).abs() < 5.0 * se, "entry {j}: E[S_jj] = {mean}");
    }
    let pp = p * p;
    let se2 = (pp * (1.0 - pp) / draws as f64).sqrt();
    for (what, both) in [("halves", both_half), ("lanes", both_lane)] {
        let f = both as f64 / draws as f64;
        assert!(
            (f - pp).abs() < 5.0 * se2,
            "{what}: P(both kept) = {f}, want {pp}"
        );
    }
}
