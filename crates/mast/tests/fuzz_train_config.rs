//! Fuzz tests of the training config (`TrainConfig::load`, `check`, `to_toml`):
//! TOML documents assembled from the real keys (and unknown ones) with values of
//! every type and odd numbers (`nan`, `inf`, `1e999`, out-of-range integers),
//! then edited byte-wise; and arbitrary bytes.
//!
//! Properties: loading never panics and fails with the file named (and, for TOML
//! errors, the line); a loaded config prints and loads back to itself; `check`
//! never panics, and what it accepts is usable: the step rule resolves, the
//! checkpoint interval is a valid duration, λ resolves to a finite value or a
//! clear error, the step count is defined. Counts and seeds: see `fuzz_support`.

mod fuzz_support;

use std::collections::BTreeMap;
use std::time::Duration;

use fuzz_support::{bytes, fuzz, mutate, Bytes, ScratchDir};
use mast::run::config::{Method, TrainConfig};
use mast::MastError;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// (section, key): "" is the top level; `bogus` keys must be refused.
const KEYS: &[(&str, &str)] = &[
    ("", "name"),
    ("", "seed"),
    ("", "threads"),
    ("", "sketch"),
    ("", "bogus"),
    ("data", "train"),
    ("data", "test"),
    ("data", "val_fraction"),
    ("data", "n_features"),
    ("data", "bogus"),
    ("objective", "loss"),
    ("objective", "lambda"),
    ("algorithm", "method"),
    ("algorithm", "variant"),
    ("algorithm", "batch"),
    ("algorithm", "steps"),
    ("algorithm", "epochs"),
    ("algorithm", "step_size"),
    ("algorithm", "step_multiplier"),
    ("algorithm", "decay_t0"),
    ("algorithm", "eval_every"),
    ("algorithm", "n_sketches"),
    ("algorithm", "ref_batch"),
    ("algorithm", "rho"),
    ("distributed", "nodes"),
    ("distributed", "sharding"),
    ("distributed", "node_sketches"),
    ("distributed", "engine"),
    ("output", "dir"),
    ("output", "checkpoint_every_s"),
    ("output", "fd_samples"),
    ("bogus", "key"),
];

/// TOML values of every type, including the odd numbers.
const VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "4",
    "64",
    "3000",
    "-1",
    "0.0",
    "0.1",
    "0.5",
    "1.0",
    "-0.5",
    "1e-320",
    "1e308",
    "1e999",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "+inf",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "true",
    "false",
    "\"\"",
    "\"1/n\"",
    "\"0.01\"",
    "\"abc\"",
    "\"theory\"",
    "\"decreasing\"",
    "\"nonconvex\"",
    "\"1e-3\"",
    "\"-1\"",
    "\"nan\"",
    "\"inf\"",
    "\"bernoulli:0.5\"",
    "\"bernoulli:1e-200\"",
    "\"rand-k:k=12\"",
    "\"rand-k:0.3\"",
    "\"perm-k:4\"",
    "\"perm-k:0\"",
    "\"identity\"",
    "\"dirichlet:0.5\"",
    "\"dirichlet:nan\"",
    "\"iid\"",
    "\"sorted\"",
    "\"mpi\"",
    "\"in-process\"",
    "\"minibatch\"",
    "\"exact\"",
    "\"lsvrdsg\"",
    "\"distributed\"",
    "\"gd\"",
    "\"dsgd\"",
    "\"least-squares\"",
    "\"logistic\"",
    "\"train.svm\"",
    "\"/abs/path\"",
    "\"../up\"",
    "\"é\"",
    "[]",
    "[1, 2]",
    "[\"bernoulli:0.5\", \"rand-k:k=2\", \"identity\", \"bernoulli:1\"]",
    "[\"perm-k:2\"]",
    "{}",
    "{ a = 1 }",
    "1979-05-27",
    "0x10",
    "1_000",
];

/// Odd numbers, drawn more often than the other values.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.5",
    "-0.0",
    "1e308",
    "1e300",
    "1e999",
    "nan",
    "inf",
    "-inf",
    "1e-320",
    "9223372036854775807",
    "4294967296",
];

/// A valid config that every document starts from (Algorithm 2 so that the
/// `[distributed]` checks are reached; the edits change the method too).
const BASE: &[(&str, &str, &str)] = &[
    ("", "seed", "42"),
    ("", "sketch", "\"perm-k:4\""),
    ("data", "train", "\"train.svm\""),
    ("data", "val_fraction", "0.1"),
    ("objective", "lambda", "\"1/n\""),
    ("algorithm", "method", "\"distributed\""),
    ("algorithm", "variant", "\"minibatch\""),
    ("algorithm", "steps", "100"),
    ("distributed", "nodes", "4"),
    ("output", "dir", "\"out\""),
];

fn render(overrides: &[(usize, usize)], drop: &[usize]) -> String {
    let mut sections: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for (k, &(section, key, value)) in BASE.iter().enumerate() {
        if !drop.contains(&k) {
            sections.entry(section).or_default().insert(key, value);
        }
    }
    for &(k, v) in overrides {
        let (section, key) = KEYS[k % KEYS.len()];
        let value = if v % 2 == 0 {
            NUMBERS[(v / 2) % NUMBERS.len()]
        } else {
            VALUES[(v / 2) % VALUES.len()]
        };
        sections.entry(section).or_default().insert(key, value);
    }
    let mut text = String::new();
    for (key, value) in sections.remove("").unwrap_or_default() {
        text.push_str(&format!("{key} = {value}\n"));
    }
    for (section, keys) in sections {
        text.push_str(&format!("\n[{section}]\n"));
        for (key, value) in keys {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    text
}

const NASTY: &[&[u8]] = &[
    b"[",
    b"]",
    b"=",
    b"\"",
    b"'",
    b"\n",
    b"#",
    b"\xff",
    b"\xc3",
    b"[[data]]\n",
    b"[data]\n",
    b"data.train = 1\n",
    b"seed = 1\n",
    b"\\",
    b"\\u0000",
    b"1e999",
    b"nan",
    b" ",
    b"\r\n",
    b".",
];

/// The line a TOML error points at, if its message names one.
fn error_line(message: &str) -> Option<usize> {
    let rest = &message[message.find("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn check_document(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = ScratchDir::new("train-config");
    let path = dir.write("config.toml", bytes);
    let cfg = match TrainConfig::load(&path) {
        Ok(cfg) => cfg,
        Err(e) => {
            let message = e.to_string();
            prop_assert!(
                message.starts_with(&path.display().to_string()),
                "{}",
                message
            );
            if let MastError::Config { .. } = e {
                let lines = bytes.split(|&b| b == b'\n').count();
                let line = error_line(&message);
                prop_assert!(
                    matches!(line, Some(l) if l >= 1 && l <= lines),
                    "no line (of {}) in: {}",
                    lines,
                    message
                );
            }
            return Ok(());
        }
    };
    // The config prints and reads back to itself (a run writes it to its folder).
    let printed = cfg
        .to_toml()
        .map_err(|e| TestCaseError::fail(format!("a loaded config does not print: {e}")))?;
    let again_path = dir.write("again.toml", printed.as_bytes());
    let again = TrainConfig::load(&again_path).map_err(|e| {
        TestCaseError::fail(format!("the printed config does not load: {e}\n{printed}"))
    })?;
    prop_assert_eq!(again.to_toml().unwrap(), printed.clone());

    let Ok(checked) = cfg.check() else {
        return Ok(());
    };
    let c = &checked;
    prop_assert!((0.0..1.0).contains(&c.data.val_fraction));
    prop_assert!(c.eval_every >= 1);
    prop_assert_ne!(c.threads, Some(0));
    for n in [1usize, 7, 1_000_000] {
        let steps = checked.steps(n);
        let schedule = checked.step_size_for(steps).resolve(0.5);
        prop_assert!(schedule.is_ok(), "{:?}", schedule);
        let lambda = c.lambda.resolve(n);
        prop_assert!(lambda.is_finite() && lambda >= 0.0, "λ = {}", lambda);
    }
    // The run turns the checkpoint interval into a `Duration`.
    let every = c.output.checkpoint_every_s;
    prop_assert!(
        Duration::try_from_secs_f64(every.max(0.0)).is_ok(),
        "checkpoint_every_s = {} passes the check but is no duration",
        every
    );
    if checked.method == Method::Distributed {
        prop_assert!(c.distributed.nodes >= 1);
        if let Some(s) = &c.distributed.node_sketches {
            prop_assert_eq!(s.len(), c.distributed.nodes);
        }
    }
    // The canonical config (what a run folder holds) prints, reads back and
    // checks to the same run.
    let canonical = checked.to_config();
    let text = canonical.to_toml().unwrap();
    let back = TrainConfig::load(&dir.write("canonical.toml", text.as_bytes())).map_err(|e| {
        TestCaseError::fail(format!("the canonical config does not load: {e}\n{text}"))
    })?;
    let again = back.clone().check().map_err(|e| {
        TestCaseError::fail(format!("the canonical config does not check: {e}\n{text}"))
    })?;
    prop_assert_eq!(back.to_toml().unwrap(), text.clone());
    prop_assert_eq!(again.to_config().to_toml().unwrap(), text);
    // Building the sketch either works or fails with a message (no panic).
    let _ = c.sketch.build(123);
    Ok(())
}

fn document() -> impl Strategy<Value = Bytes> {
    (
        proptest::collection::vec((any::<usize>(), any::<usize>()), 0..8),
        proptest::collection::vec(0..BASE.len(), 0..2),
        proptest::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 0..3),
        any::<bool>(),
    )
        .prop_map(|(overrides, drop, edits, edit)| {
            let text = render(&overrides, &drop);
            Bytes(if edit {
                mutate(text.as_bytes(), &edits, NASTY)
            } else {
                text.into_bytes()
            })
        })
}

#[test]
fn fuzz_train_config_documents() {
    fuzz("train-config", 500, document(), |doc| {
        check_document(&doc.0)
    });
}

#[test]
fn fuzz_train_config_arbitrary_bytes() {
    fuzz("train-config-bytes", 200, bytes(200), |doc| {
        check_document(&doc.0)
    });
}

// ---------------------------------------------------------------------------
// Regressions.

fn load_text(text: &str) -> mast::Result<TrainConfig> {
    let dir = ScratchDir::new("train-config-regression");
    TrainConfig::load(&dir.write("config.toml", text.as_bytes()))
}

/// `checkpoint_every_s = inf` (or 1e300) passed the check, then
/// `Duration::from_secs_f64` panicked when the run started.
#[test]
fn checkpoint_interval_must_be_a_duration() {
    for value in ["inf", "1e300", "nan", "-1"] {
        let text = format!(
            "[data]\ntrain = \"t.svm\"\n[algorithm]\nsteps = 10\n[output]\ncheckpoint_every_s = {value}\n"
        );
        let e = load_text(&text).unwrap().check().unwrap_err().to_string();
        assert!(e.contains("output.checkpoint_every_s"), "{value}: {e}");
    }
    let ok =
        "[data]\ntrain = \"t.svm\"\n[algorithm]\nsteps = 10\n[output]\ncheckpoint_every_s = 0\n";
    assert!(load_text(ok).unwrap().check().is_ok());
}

#[test]
fn config_errors_name_the_file_and_line() {
    let e = load_text("seed = 1\n[data]\ntrain = 5\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.toml"), "{e}");
    assert_eq!(error_line(&e), Some(3), "{e}");
}
