//! Seeds, draw buffers, and sketch specs (parsing, display, errors).

use super::cases::*;
use super::*;

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
        ("rand-k:0.3", SketchSpec::rand_k_fraction(0.3)),
        ("rand-k:12", SketchSpec::rand_k(12)),
        ("rand-k:k=12", SketchSpec::rand_k(12)),
        ("rand-k:q=0.5", SketchSpec::rand_k_fraction(0.5)),
        ("bernoulli:0.5", SketchSpec::bernoulli(0.5)),
        ("bernoulli:p=0.25", SketchSpec::bernoulli(0.25)),
        ("dropconnect:0.9", SketchSpec::dropconnect(0.9)),
        ("perm-k:4", SketchSpec::perm_k(4)),
        ("perm-k:m=4", SketchSpec::perm_k(4)),
        ("identity", SketchSpec::identity()),
        ("none", SketchSpec::identity()),
        ("  Rand-K : k=3 ", SketchSpec::rand_k(3)),
    ];
    for (text, expected) in cases {
        let got: SketchSpec = text
            .parse()
            .unwrap_or_else(|e| panic!("`{text}` should parse: {e}"));
        assert_eq!(got, expected, "`{text}`");
    }
    // Built sketches.
    let s = SketchSpec::rand_k_fraction(0.3).build(10).expect("build");
    assert_eq!((s.dim(), s.expected_kept(), s.l_d()), (10, 3.0, 10.0 / 3.0));
    assert_eq!(s.spec(), "rand-k:k=3");
    let s = SketchSpec::rand_k(12).build(100).expect("build");
    assert_eq!(s.expected_kept(), 12.0);
    let s = SketchSpec::perm_k(4).build(10).expect("build");
    assert_eq!((s.expected_kept(), s.spec().as_str()), (3.0, "perm-k:4"));
    let s = SketchSpec::bernoulli(0.5).build(10).expect("build");
    assert_eq!((s.l_d(), s.l_s_max(), s.expected_kept()), (2.0, 4.0, 5.0));
    let s = SketchSpec::identity().build(10).expect("build");
    assert_eq!((s.dim(), s.l_d(), s.spec().as_str()), (10, 1.0, "identity"));
}

#[test]
fn sketch_spec_display_round_trip() {
    let specs = [
        SketchSpec::identity(),
        SketchSpec::bernoulli(0.5),
        SketchSpec::bernoulli(0.1),
        SketchSpec::bernoulli(1.0),
        SketchSpec::bernoulli(1.0 / 3.0),
        SketchSpec::rand_k(12),
        SketchSpec::rand_k(1),
        SketchSpec::rand_k_fraction(0.3),
        SketchSpec::rand_k_fraction(1.0),
        SketchSpec::rand_k_fraction(1e-3),
        SketchSpec::perm_k(4),
        SketchSpec::dropconnect(0.25),
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
    assert_eq!(spec, SketchSpec::bernoulli(1.5));
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

#[test]
fn sketch_spec_queries_and_the_registry() {
    let spec = |t: &str| t.parse::<SketchSpec>().unwrap();
    assert_eq!(spec("randk:k=3").kind(), "rand-k");
    assert_eq!(spec("none").kind(), "identity");
    assert!(spec("identity").is_identity() && !spec("bernoulli:1").is_identity());
    assert_eq!(spec("bernoulli:0.3").keep_fraction(), Some(0.3));
    assert_eq!(spec("dropconnect:0.3").keep_fraction(), Some(0.3));
    assert_eq!(spec("rand-k:q=0.3").keep_fraction(), Some(0.3));
    assert_eq!(spec("rand-k:k=3").keep_fraction(), None);
    assert_eq!(spec("perm-k:4").nodes(), Some(4));
    assert_eq!(spec("bernoulli:0.3").nodes(), None);
    assert_eq!(SketchSpec::default(), SketchSpec::identity());
    // Serde as the canonical string.
    let json = serde_json::to_string(&SketchSpec::rand_k_fraction(0.5)).unwrap();
    assert_eq!(json, "\"rand-k:q=0.5\"");
    assert_eq!(
        serde_json::from_str::<SketchSpec>(&json).unwrap(),
        SketchSpec::rand_k_fraction(0.5)
    );
    assert!(serde_json::from_str::<SketchSpec>("\"foo:1\"").is_err());
    // The registry lists the built-ins (not the explanatory `dropout`) and
    // every listed usage appears in the unknown-sketch message.
    let names: Vec<&str> = mast::sketch::registry::registered()
        .iter()
        .map(|e| e.name)
        .collect();
    for n in ["identity", "bernoulli", "rand-k", "perm-k", "dropconnect"] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(!names.contains(&"dropout"));
    let err = "foo".parse::<SketchSpec>().unwrap_err().to_string();
    for e in mast::sketch::registry::registered() {
        assert!(err.contains(e.usage), "{err}");
    }
    // With a kept fraction, by kind: exact round trip of the fraction.
    for q in [0.1, 1.0, 1e-7, 0.3333333333333333] {
        assert_eq!(
            SketchSpec::with_fraction("rand-k", q).unwrap(),
            SketchSpec::rand_k_fraction(q)
        );
        assert_eq!(
            SketchSpec::with_fraction("bernoulli", q).unwrap(),
            SketchSpec::bernoulli(q)
        );
    }
    assert!(SketchSpec::with_fraction("identity", 0.5).is_err());
}
