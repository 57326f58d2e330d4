//! Fuzz tests of sketch spec strings (`SketchSpec::from_str`, `Display`, `build`,
//! `Sketch::spec`): arbitrary text, and well-formed specs with odd spellings and
//! odd numbers (`1e999`, `NaN`, `-0`, subnormals, counts past `usize::MAX`).
//!
//! Properties: parsing never panics and fails with an error naming `sketch`; a
//! parsed spec prints and parses back to itself; a built sketch has the asked
//! dimension, finite positive constants, draws that are sorted, in range and
//! finite, and a `spec()` that parses and builds back to the same sketch.
//! Counts and seeds: see `fuzz_support`.

mod fuzz_support;

use fuzz_support::fuzz;
use mast::rng::{stream, Stream};
use mast::sketch::{SketchDraw, SketchSpec};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Whether two specs are the same (specs compare by their canonical text, so NaN
/// parameters compare equal to themselves).
fn same(a: &SketchSpec, b: &SketchSpec) -> bool {
    a == b
}

/// Everything a spec string must satisfy, for sketches of dimension `d`.
fn check_spec(text: &str, d: usize, seed: u64) -> Result<(), TestCaseError> {
    let spec = match text.parse::<SketchSpec>() {
        Ok(s) => s,
        Err(e) => {
            let message = e.to_string();
            prop_assert!(
                message.starts_with("invalid parameter `sketch`"),
                "{}",
                message
            );
            return Ok(());
        }
    };
    // Printing and parsing back.
    let printed = spec.to_string();
    let again: SketchSpec = printed.parse().map_err(|e| {
        TestCaseError::fail(format!("`{printed}` (from `{text}`) does not parse: {e}"))
    })?;
    prop_assert!(
        same(&spec, &again),
        "`{}` → {:?} → `{}` → {:?}",
        text,
        spec,
        printed,
        again
    );

    let sketch = match spec.build(d) {
        Ok(s) => s,
        Err(e) => {
            let message = e.to_string();
            prop_assert!(message.starts_with("invalid parameter"), "{}", message);
            return Ok(());
        }
    };
    prop_assert_eq!(sketch.dim(), d);
    let l_s_max = sketch.l_s_max();
    let kept = sketch.expected_kept();
    prop_assert!(
        l_s_max.is_finite() && l_s_max >= 1.0,
        "{}: L_S^max = {}",
        text,
        l_s_max
    );
    prop_assert!(
        kept.is_finite() && kept > 0.0 && kept <= d as f64,
        "{}: E|Ω| = {}",
        text,
        kept
    );
    let (l_d, mu_d) = (sketch.l_d(), sketch.mu_d());
    prop_assert!(
        l_d.is_finite() && mu_d.is_finite() && 0.0 < mu_d && mu_d <= l_d,
        "{}",
        text
    );

    // The spec the sketch reports builds the same sketch again.
    let reported = sketch.spec();
    let rebuilt = reported
        .parse::<SketchSpec>()
        .and_then(|s| s.build(d))
        .map_err(|e| TestCaseError::fail(format!("`{reported}` (from `{text}`): {e}")))?;
    prop_assert_eq!(rebuilt.spec(), reported.clone());

    // Draws: sorted, in range, finite scales; the rebuilt sketch draws the same.
    let (mut a, mut b) = (SketchDraw::new(), SketchDraw::new());
    let (mut ra, mut rb) = (stream(seed, Stream::Sketch), stream(seed, Stream::Sketch));
    for _ in 0..3 {
        sketch.draw(&mut ra, &mut a);
        rebuilt.draw(&mut rb, &mut b);
        prop_assert_eq!(&a, &b, "`{}` and `{}` draw differently", text, reported);
        prop_assert!(a.indices.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(a.indices.iter().all(|&j| j < d));
        prop_assert!(
            a.scales.iter().all(|s| s.is_finite() && *s > 0.0),
            "{}: {:?}",
            text,
            a
        );
    }
    Ok(())
}

const KINDS: &[&str] = &[
    "identity",
    "none",
    "bernoulli",
    "Bernoulli",
    " BERNOULLI ",
    "dropconnect",
    "drop-connect",
    "dropout",
    "rand-k",
    "randk",
    "RAND_K",
    "perm-k",
    "permk",
    "perm_k",
    "rand-q",
    "",
    ":",
];

const ARGS: &[&str] = &[
    "0.5",
    "1",
    "1.0",
    "0",
    "-0",
    "-0.5",
    "2",
    "1.5",
    "1e999",
    "-1e999",
    "inf",
    "NaN",
    "nan",
    "1e-320",
    "5e-324",
    "1e-300",
    "1e-160",
    "1e-100",
    ".5",
    "5.",
    "+0.5",
    "0x1",
    "1_0",
    "12",
    "k=12",
    "k=0",
    "k=-1",
    "k=1.5",
    "q=0.3",
    "q=0",
    "q=1e-300",
    "q=NaN",
    "m=4",
    "m=0",
    "p=0.5",
    "keep_prob=0.5",
    "p=",
    "k=",
    "18446744073709551616",
    "18446744073709551615",
    "1e3",
    "1E3",
    "3e",
    "",
    " 0.25 ",
    "0.5:0.5",
    "k=12:1",
];

fn spec_text() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        any::<f64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:e}")),
        (0.0f64..=1.0).prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        (0u32..300).prop_map(|v| v.to_string()),
    ];
    let arg = prop_oneof![
        2 => prop::sample::select(ARGS).prop_map(str::to_string),
        2 => number.clone(),
        1 => (prop::sample::select(&["k=", "q=", "m=", "p="][..]), number)
            .prop_map(|(p, n)| format!("{p}{n}")),
    ];
    prop_oneof![
        4 => (prop::sample::select(KINDS), arg).prop_map(|(k, a)| format!("{k}:{a}")),
        1 => prop::sample::select(KINDS).prop_map(str::to_string),
        1 => ".{0,24}",
    ]
}

fn dimension() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 1usize..40, 1 => 40usize..300]
}

#[test]
fn fuzz_spec_strings() {
    fuzz(
        "sketch-spec",
        2000,
        (spec_text(), dimension(), any::<u64>()),
        |(text, d, seed)| check_spec(&text, d, seed),
    );
}

#[test]
fn fuzz_spec_printed_specs() {
    // Every spec value the constructors make prints to text that parses back to it.
    let spec = prop_oneof![
        Just(SketchSpec::identity()),
        any::<f64>().prop_map(SketchSpec::bernoulli),
        any::<f64>().prop_map(SketchSpec::dropconnect),
        any::<f64>().prop_map(SketchSpec::rand_k_fraction),
        any::<usize>().prop_map(SketchSpec::rand_k),
        any::<usize>().prop_map(SketchSpec::perm_k),
    ];
    fuzz("sketch-spec-print", 1000, spec, |spec| {
        let text = spec.to_string();
        let back: SketchSpec = text
            .parse()
            .map_err(|e| TestCaseError::fail(format!("`{text}`: {e}")))?;
        prop_assert!(same(&spec, &back), "{:?} → `{}` → {:?}", spec, text, back);
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Regressions.

/// A keep probability so small that 1/p² overflows made `L_S^max` infinite
/// (`bernoulli:1e-200`) and the scale 1/p infinite (`bernoulli:5e-324`): the
/// theory step became 0 and every draw scaled by ∞.
#[test]
fn tiny_keep_probabilities_are_refused() {
    for text in ["bernoulli:1e-200", "bernoulli:5e-324", "dropconnect:1e-320"] {
        let spec: SketchSpec = text.parse().unwrap();
        let e = spec.build(10).unwrap_err().to_string();
        assert!(e.contains("keep_prob"), "{text}: {e}");
    }
    // The smallest useful probabilities still build.
    for text in ["bernoulli:1e-100", "dropconnect:1e-100"] {
        let sketch = text.parse::<SketchSpec>().unwrap().build(10).unwrap();
        assert!(sketch.l_s_max().is_finite(), "{text}");
    }
}
