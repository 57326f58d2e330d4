//! Fuzz tests of mast-nn's input parsers: IDX images and labels (plain and
//! gzipped), the digits CSV and the `nn-prune` config (TOML).
//!
//! Properties: never a panic; errors name the file (and the line, for text);
//! nothing is allocated out of proportion to the input, whatever dimensions an IDX
//! header claims; accepted input satisfies the invariants (pixel counts match the
//! header, pixels and labels in range, configs within their checked ranges) and
//! round-trips (IDX and CSV written from random images parse back to them; a
//! config prints and parses back to itself). Counts and seeds: see `fuzz_support`
//! (shared with the `mast` crate's fuzz tests).

#[path = "../../mast/tests/fuzz_support/mod.rs"]
mod fuzz_support;

use std::path::Path;

use fuzz_support::{bytes, fuzz, gzip, largest_allocation_during, mutate, Bytes, ScratchDir};
use mast_nn::config::NnPruneConfig;
use mast_nn::data::digits::{parse_digits, read_digits, DIGITS_PIXELS};
use mast_nn::data::idx::{
    parse_images, parse_labels, read_images, read_pair, IMAGES_MAGIC, LABELS_MAGIC,
};
use mast_nn::mask::Method;
use mast_nn::model::Model;
use mast_nn::NnError;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const NAME: &str = "fuzz/input-Ω.idx";

fn names_file(message: &str, path: &Path) -> Result<(), TestCaseError> {
    let shown = path.display().to_string();
    prop_assert!(
        message.starts_with(&shown),
        "`{}` does not name {}",
        message,
        shown
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// IDX.

/// An IDX header (magic and dimensions) followed by `data` bytes.
fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// What an IDX image file must parse to: the header's dimensions when they are
/// positive, do not overflow and match the data length exactly; else an error.
fn expected_images(bytes: &[u8]) -> Option<(usize, usize, usize)> {
    let word = |k: usize| -> Option<usize> {
        let b = bytes.get(4 * k..4 * k + 4)?;
        Some(u32::from_be_bytes(b.try_into().ok()?) as usize)
    };
    if word(0)? != IMAGES_MAGIC as usize {
        return None;
    }
    let (n, rows, cols) = (word(1)?, word(2)?, word(3)?);
    let total = (n as u128) * (rows as u128) * (cols as u128);
    (rows > 0 && cols > 0 && total == (bytes.len() - 16) as u128).then_some((n, rows, cols))
}

fn check_idx(bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = Path::new(NAME);
    // Nothing beyond a copy of the input (whatever the header claims).
    let (images, largest) = largest_allocation_during(|| parse_images(bytes, path));
    prop_assert!(
        largest <= bytes.len() + 4096,
        "{} bytes allocated at once",
        largest
    );
    match (images, expected_images(bytes)) {
        (Ok(im), Some((n, rows, cols))) => {
            prop_assert_eq!((im.n, im.rows, im.cols), (n, rows, cols));
            prop_assert_eq!(&im.pixels[..], &bytes[16..]);
        }
        (Err(e), None) => names_file(&e.to_string(), path)?,
        (got, want) => prop_assert!(false, "parsed {:?}, expected {:?}", got, want),
    }
    let (labels, largest) = largest_allocation_during(|| parse_labels(bytes, path));
    prop_assert!(
        largest <= bytes.len() + 4096,
        "{} bytes allocated at once",
        largest
    );
    let want = (bytes.len() >= 8
        && bytes[..4] == LABELS_MAGIC.to_be_bytes()
        && u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize == bytes.len() - 8)
        .then(|| bytes[8..].to_vec());
    match (labels, want) {
        (Ok(l), Some(w)) => prop_assert_eq!(l, w),
        (Err(e), None) => names_file(&e.to_string(), path)?,
        (got, want) => prop_assert!(false, "labels {:?}, expected {:?}", got, want),
    }
    Ok(())
}

/// Headers with absurd dimensions and data a little short, exact or long.
fn idx_header() -> impl Strategy<Value = Bytes> {
    let dim = prop_oneof![
        Just(0u32),
        Just(1u32),
        2u32..30,
        Just(1 << 16),
        Just(1 << 31),
        Just(u32::MAX),
        any::<u32>(),
    ];
    let magic = prop_oneof![
        4 => Just(IMAGES_MAGIC),
        2 => Just(LABELS_MAGIC),
        1 => any::<u32>(),
    ];
    (
        magic,
        proptest::collection::vec(dim, 0..4),
        -3i64..=3,
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(magic, dims, delta, fill, exact_dims)| {
            let dims: Vec<u32> = if exact_dims && dims.len() >= 3 {
                // Small enough to give the exact data length.
                dims.iter().map(|d| d % 7).collect()
            } else {
                dims
            };
            let claimed: u128 = if magic == LABELS_MAGIC {
                dims.first().map_or(0, |&d| d as u128)
            } else {
                dims.iter().take(3).map(|&d| d as u128).product()
            };
            let len = (claimed.min(2048) as i64 + delta).clamp(0, 2051) as usize;
            Bytes(idx_bytes(magic, &dims, &vec![fill; len]))
        })
}

#[test]
fn fuzz_idx_arbitrary_bytes() {
    fuzz("idx-bytes", 1000, bytes(64), |input| check_idx(&input.0));
}

#[test]
fn fuzz_idx_headers() {
    fuzz("idx-headers", 1000, idx_header(), |input| {
        check_idx(&input.0)
    });
}

/// Random images written as IDX files (plain or gzipped) read back as they were;
/// a truncated or changed gzip stream fails with the file named, or (a changed
/// header byte) reads the same images.
#[test]
fn fuzz_idx_files() {
    let images = (0u32..5, 1u32..6, 1u32..6).prop_flat_map(|(n, r, c)| {
        (
            Just((n, r, c)),
            proptest::collection::vec(any::<u8>(), (n * r * c) as usize),
            proptest::collection::vec(any::<u8>(), n as usize),
        )
    });
    let strategy = (images, any::<bool>(), any::<usize>(), any::<u8>());
    fuzz(
        "idx-files",
        150,
        strategy,
        |(((n, r, c), px, lb), zip, cut, flip)| {
            let dir = ScratchDir::new("idx");
            let raw_images = idx_bytes(IMAGES_MAGIC, &[n, r, c], &px);
            let raw_labels = idx_bytes(LABELS_MAGIC, &[n], &lb);
            let encode = |b: &[u8]| if zip { gzip(b) } else { b.to_vec() };
            let im_path = dir.write("images.idx", &encode(&raw_images));
            let lb_path = dir.write("labels.idx", &encode(&raw_labels));
            let (im, labels) =
                read_pair(&im_path, &lb_path).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(
                (im.n, im.rows, im.cols),
                (n as usize, r as usize, c as usize)
            );
            prop_assert_eq!(im.pixels, px);
            prop_assert_eq!(labels, lb);

            let gz = gzip(&raw_images);
            let cut = cut % gz.len();
            let cut_path = dir.write("cut.idx.gz", &gz[..cut]);
            match read_images(&cut_path) {
                Ok(im) => prop_assert!(
                    false,
                    "a gzip stream cut at {} of {} loaded: {:?}",
                    cut,
                    gz.len(),
                    im
                ),
                Err(e) => names_file(&e.to_string(), &cut_path)?,
            }
            let mut changed = gz.clone();
            changed[cut] ^= flip.max(1);
            let changed_path = dir.write("flip.idx.gz", &changed);
            match read_images(&changed_path) {
                Ok(got) if changed[..2] == [0x1f, 0x8b] => {
                    let want = parse_images(&raw_images, Path::new(NAME)).unwrap();
                    prop_assert_eq!(got, want);
                }
                Ok(_) => {}
                Err(e) => names_file(&e.to_string(), &changed_path)?,
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Digits CSV.

/// The documented format: non-blank lines (after trimming) of 64 pixels 0..=16
/// and a label 0..=9, comma-separated (fields trimmed), at least one line; the
/// first bad line is reported.
fn reference_digits(text: &str) -> Result<(Vec<u8>, Vec<u8>), Option<usize>> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let values: Vec<Option<f64>> = line
            .trim()
            .split(',')
            .map(|f| f.trim().parse::<f64>().ok())
            .collect();
        let whole_in = |v: Option<f64>, max: f64| match v {
            Some(v) if (0.0..=max).contains(&v) && v.fract() == 0.0 => Some(v as u8),
            _ => None,
        };
        if values.len() != DIGITS_PIXELS + 1 {
            return Err(Some(k + 1));
        }
        for &v in &values[..DIGITS_PIXELS] {
            pixels.push(whole_in(v, 16.0).ok_or(Some(k + 1))?);
        }
        labels.push(whole_in(values[DIGITS_PIXELS], 9.0).ok_or(Some(k + 1))?);
    }
    if labels.is_empty() {
        return Err(None);
    }
    Ok((pixels, labels))
}

fn check_digits(bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz/digits-Ω.csv");
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(()); // the file reader's concern, checked in `fuzz_digits_files`
    };
    match (parse_digits(text, path), reference_digits(text)) {
        (Ok(got), Ok(want)) => prop_assert_eq!(got, want),
        (Err(e), Err(line)) => {
            let message = e.to_string();
            names_file(&message, path)?;
            if let Some(line) = line {
                let prefix = format!("{}: line {line}: ", path.display());
                prop_assert!(
                    message.starts_with(&prefix),
                    "{} (expected line {})",
                    message,
                    line
                );
            }
        }
        (got, want) => prop_assert!(false, "parsed {:?}, expected {:?}", got, want),
    }
    Ok(())
}

/// Random digits as CSV text, in a few spellings.
fn digits_csv() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, String)> {
    let row = (proptest::collection::vec(0u8..=16, DIGITS_PIXELS), 0u8..=9);
    (
        proptest::collection::vec(row, 1..5),
        prop::sample::select(vec![",", ", ", " , "]),
        prop::sample::select(vec!["\n", "\r\n"]),
        prop::sample::select(vec!["", ".0"]),
    )
        .prop_map(|(rows, sep, eol, decimals)| {
            let mut text = String::new();
            let (mut px, mut lb) = (Vec::new(), Vec::new());
            for (pixels, label) in rows {
                let fields: Vec<String> = pixels
                    .iter()
                    .chain(std::iter::once(&label))
                    .map(|v| format!("{v}{decimals}"))
                    .collect();
                text.push_str(&fields.join(sep));
                text.push_str(eol);
                px.extend(pixels);
                lb.push(label);
            }
            (px, lb, text)
        })
}

const CSV_NASTY: &[&[u8]] = &[
    b",",
    b",,",
    b"17",
    b"-1",
    b"16",
    b"9",
    b"10",
    b"1.5",
    b"1e1",
    b"nan",
    b"inf",
    b"-0",
    b" ",
    b"\t",
    b"\r",
    b"\n",
    b"\r\n",
    b"\xc2\xa0",
    b"\xe2\x80\x83",
    b"\xff",
    b"#",
    b"",
    b"+3",
    b"0x1",
];

#[test]
fn fuzz_digits_round_trip() {
    fuzz("digits-round-trip", 200, digits_csv(), |(px, lb, text)| {
        let parsed = parse_digits(&text, Path::new("d.csv"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed, (px, lb));
        check_digits(text.as_bytes())
    });
}

#[test]
fn fuzz_digits_mutated() {
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6);
    fuzz(
        "digits-mutated",
        500,
        (digits_csv(), edits),
        |((_, _, text), e)| check_digits(&mutate(text.as_bytes(), &e, CSV_NASTY)),
    );
}

#[test]
fn fuzz_digits_arbitrary_text() {
    let soup: Vec<u8> = b"0123456789,.-+e \t\r\n".to_vec();
    let strategy = prop_oneof![
        bytes(200),
        proptest::collection::vec(prop::sample::select(soup), 0..400).prop_map(Bytes),
    ];
    fuzz("digits-bytes", 1000, strategy, |input| {
        check_digits(&input.0)
    });
}

/// Through files (plain or gzipped, possibly not UTF-8): errors name the file,
/// and the line where there is one.
#[test]
fn fuzz_digits_files() {
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 0..4);
    fuzz(
        "digits-files",
        150,
        (digits_csv(), edits, any::<bool>()),
        |((_, _, text), e, zip)| {
            let dir = ScratchDir::new("digits");
            let content = mutate(text.as_bytes(), &e, CSV_NASTY);
            let path = dir.write(
                "digits.csv.gz",
                &if zip { gzip(&content) } else { content.clone() },
            );
            match (read_digits(&path), std::str::from_utf8(&content)) {
                (Ok(got), Ok(text)) => {
                    prop_assert_eq!(Ok::<_, Option<usize>>(got), reference_digits(text))
                }
                (Ok(_), Err(_)) => prop_assert!(false, "non-UTF-8 text accepted"),
                (Err(e), Ok(text)) => {
                    names_file(&e.to_string(), &path)?;
                    prop_assert!(reference_digits(text).is_err(), "{}", e);
                }
                (Err(e), Err(bad)) => {
                    let message = e.to_string();
                    names_file(&message, &path)?;
                    let line = 1 + content[..bad.valid_up_to()]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count();
                    prop_assert!(
                        message.contains(&format!("line {line}: ")),
                        "{} (line {})",
                        message,
                        line
                    );
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// The nn-prune config.

const NN_KEYS: &[(&str, &str)] = &[
    ("", "name"),
    ("", "seeds"),
    ("", "methods"),
    ("", "bogus"),
    ("data", "dataset"),
    ("data", "root"),
    ("data", "train_limit"),
    ("model", "arch"),
    ("model", "hidden"),
    ("model", "channels"),
    ("model", "fc"),
    ("train", "epochs"),
    ("train", "batch"),
    ("train", "lr"),
    ("train", "momentum"),
    ("train", "weight_decay"),
    ("train", "sketch_bias"),
    ("train", "eval_limit"),
    ("train", "max_steps_per_epoch"),
    ("train", "device"),
    ("prune", "q"),
    ("prune", "masks"),
    ("prune", "rescale"),
    ("prune", "test_limit"),
    ("shift", "epochs"),
    ("shift", "lr"),
    ("shift", "dataset"),
    ("shift", "checkpoint"),
    ("output", "dir"),
    ("output", "save_models"),
    ("bogus", "key"),
];

const NN_VALUES: &[&str] = &[
    "0",
    "1",
    "2",
    "-1",
    "0.5",
    "1.0",
    "1e999",
    "nan",
    "inf",
    "-inf",
    "1e-320",
    "1e308",
    "9223372036854775807",
    "true",
    "\"\"",
    "\"x\"",
    "\"a/b\"",
    "\"mnist\"",
    "\"digits\"",
    "\"fashion-mnist\"",
    "\"cifar\"",
    "\"mlp\"",
    "\"cnn\"",
    "\"resnet\"",
    "\"cpu\"",
    "\"cuda\"",
    "\"cuda:99999999999999999999\"",
    "\"wgpu\"",
    "[]",
    "[0]",
    "[1, 2]",
    "[1, 1]",
    "[16, 32]",
    "[0.5, 1.5]",
    "[nan]",
    "[9223372036854775807, 9223372036854775807]",
    "[\"erm\", \"erm\"]",
    "[\"dropout:1\"]",
    "[\"dropout:0.5\", \"bernoulli:0.5\"]",
    "[\"bernoulli:1e-320\"]",
    "[\"rand-k:nan\", \"neuron:0.5\"]",
    "[\"neuron:2\"]",
    "[\"x\"]",
    "{}",
    "{ a = 1 }",
];

const NN_BASE: &[(&str, &str, &str)] = &[
    ("", "name", "\"fuzz\""),
    ("", "seeds", "[1]"),
    ("", "methods", "[\"erm\", \"bernoulli:0.5\"]"),
    ("data", "dataset", "\"digits\""),
    ("model", "arch", "\"mlp\""),
    ("model", "hidden", "[8]"),
    ("train", "epochs", "1"),
    ("train", "lr", "0.1"),
];

fn nn_document() -> impl Strategy<Value = Bytes> {
    let overrides = proptest::collection::vec((any::<usize>(), any::<usize>()), 0..6);
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 0..3);
    (overrides, any::<usize>(), edits, any::<bool>()).prop_map(|(overrides, drop, edits, edit)| {
        let mut sections: std::collections::BTreeMap<&str, std::collections::BTreeMap<&str, &str>> =
            Default::default();
        for (k, &(section, key, value)) in NN_BASE.iter().enumerate() {
            if drop % 16 != k {
                sections.entry(section).or_default().insert(key, value);
            }
        }
        for (k, v) in overrides {
            let (section, key) = NN_KEYS[k % NN_KEYS.len()];
            sections
                .entry(section)
                .or_default()
                .insert(key, NN_VALUES[v % NN_VALUES.len()]);
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
        const NASTY: &[&[u8]] = &[
            b"[",
            b"]",
            b"=",
            b"\"",
            b"\n",
            b"#",
            b"\xff",
            b"[train]\n",
            b"1e999",
        ];
        Bytes(if edit {
            mutate(text.as_bytes(), &edits, NASTY)
        } else {
            text.into_bytes()
        })
    })
}

fn check_nn_config(bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = Path::new("fuzz/nn-Ω.toml");
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(()); // `read` refuses it with the file named (read_to_string)
    };
    let cfg = match NnPruneConfig::from_toml(text, path) {
        Ok(cfg) => cfg,
        Err(e) => {
            let message = e.to_string();
            names_file(&message, path)?;
            prop_assert!(matches!(e, NnError::Config { .. }), "{:?}", e);
            prop_assert!(message.contains("line "), "{}", message);
            return Ok(());
        }
    };
    // Prints (the experiment writes it to its folder) and parses back to itself.
    let printed = toml::to_string_pretty(&cfg)
        .map_err(|e| TestCaseError::fail(format!("a parsed config does not print: {e}")))?;
    let again = NnPruneConfig::from_toml(&printed, path).map_err(|e| {
        TestCaseError::fail(format!("the printed config does not parse: {e}\n{printed}"))
    })?;
    prop_assert_eq!(toml::to_string_pretty(&again).unwrap(), printed.clone());

    if cfg.check().is_err() {
        return Ok(());
    }
    prop_assert!(!cfg.seeds.is_empty() && !cfg.methods.is_empty());
    for m in &cfg.methods {
        let back: Method = m
            .to_string()
            .parse()
            .map_err(|e: NnError| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.to_string(), m.to_string());
    }
    let t = &cfg.train;
    prop_assert!(t.batch >= 1 && t.lr > 0.0 && t.lr.is_finite());
    prop_assert!((0.0..1.0).contains(&t.momentum) && t.weight_decay.is_finite());
    prop_assert!(cfg.prune.q.iter().all(|&q| q > 0.0 && q <= 1.0));
    if let Some(lr) = cfg.shift.as_ref().and_then(|s| s.lr) {
        prop_assert!(
            lr > 0.0 && lr.is_finite(),
            "shift.lr = {} passes the check",
            lr
        );
    }
    // The network for 8×8 digits builds or fails with a message (no panic).
    let _ = Model::new(&cfg.model, [1, 8, 8], 10);
    Ok(())
}

#[test]
fn fuzz_nn_config_documents() {
    fuzz("nn-config", 400, nn_document(), |doc| {
        check_nn_config(&doc.0)
    });
}

#[test]
fn fuzz_nn_config_arbitrary_bytes() {
    fuzz("nn-config-bytes", 300, bytes(120), |doc| {
        check_nn_config(&doc.0)
    });
}

// ---------------------------------------------------------------------------
// Regressions.

/// A header claiming 2³² − 1 images of 2³² − 1 × 1 pixels must fail on the data
/// length without reserving anything like that much memory.
#[test]
fn absurd_idx_dimensions_allocate_nothing_large() {
    let bytes = idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, 1], &[7; 10]);
    let (r, largest) = largest_allocation_during(|| parse_images(&bytes, Path::new("big.idx")));
    let e = r.unwrap_err().to_string();
    assert!(e.starts_with("big.idx: truncated IDX images"), "{e}");
    assert!(largest < 4096, "{largest}");
    let bytes = idx_bytes(IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX], &[]);
    let e = parse_images(&bytes, Path::new("big.idx"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("overflow"), "{e}");
}

/// A digits file that is not UTF-8 names the line of the first bad byte.
#[test]
fn digits_not_utf8_names_the_line() {
    let dir = ScratchDir::new("digits-utf8");
    let row: Vec<String> = (0..65).map(|_| "1".to_string()).collect();
    let mut content = format!("{}\n{}\n", row.join(","), row.join(",")).into_bytes();
    content.extend(b"1,\xff,2\n");
    let path = dir.write("digits.csv", &content);
    let e = read_digits(&path).unwrap_err().to_string();
    assert!(e.starts_with(&path.display().to_string()), "{e}");
    assert!(e.contains("line 3: not UTF-8"), "{e}");
}

/// `shift.lr = nan` passed the config check and only failed once the shift's
/// training started (with the message naming `train.lr`).
#[test]
fn shift_learning_rate_is_checked() {
    let text = "name = \"x\"\nseeds = [1]\nmethods = [\"erm\"]\n[data]\ndataset = \"digits\"\n\
                [train]\nepochs = 1\nlr = 0.1\n[shift]\nlr = nan\n";
    let cfg = NnPruneConfig::from_toml(text, Path::new("c.toml")).unwrap();
    let e = cfg.check().unwrap_err().to_string();
    assert!(e.contains("shift.lr"), "{e}");
}
