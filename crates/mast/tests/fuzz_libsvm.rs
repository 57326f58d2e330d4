//! Fuzz tests of the LIBSVM loader through its public API (`LibsvmFile::parse`,
//! `LibsvmFile::read`, `load_libsvm_pair`): arbitrary bytes, valid files written
//! from random datasets (round trip), and valid files with random edits (huge
//! indices, NaN/inf/`1e999`, non-UTF-8, CRLF, duplicate or decreasing indices,
//! missing labels, truncated or corrupted gzip).
//!
//! Every parse is compared with a small reference reader written from the format's
//! documentation (`reference` below): same rows, or an error at the same line.
//! Counts and seeds: see `fuzz_support` (`MAST_FUZZ_CASES`, `MAST_FUZZ_SEED`);
//! `scripts/fuzz.sh` runs these targets for longer.

mod fuzz_support;

use std::path::Path;

use fuzz_support::{bytes, fuzz, gzip, largest_allocation_during, mutate, Bytes, ScratchDir};
use mast::data::{load_libsvm_pair, Dataset, Design, LabelMap, LibsvmFile};
use mast::MastError;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// The name every in-memory parse reports (non-ASCII on purpose).
const NAME: &str = "fuzz/input-Ω.svm";

// ---------------------------------------------------------------------------
// The reference reader.

/// What the reference reader makes of a file: rows of (label, [(0-based index,
/// nonzero value)]), each row's line and the largest index, or where it fails.
#[derive(Debug, Clone, PartialEq)]
struct Parsed {
    labels: Vec<f64>,
    lines: Vec<usize>,
    rows: Vec<Vec<(u32, f64)>>,
    max_index: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Refused {
    /// The first bad line (1-based).
    AtLine(usize),
    /// No data row at all.
    NoRows,
}

/// The format as documented in `mast::data::libsvm`: lines split at `\n` (a `\r`
/// before it is whitespace), text after `#` ignored, `label idx:val ...` with a
/// finite label, 1-based strictly increasing indices ≤ u32::MAX, finite values, at
/// most two distinct labels, at least one row. Each line must be UTF-8.
fn reference(bytes: &[u8]) -> Result<Parsed, Refused> {
    let mut out = Parsed {
        labels: Vec::new(),
        lines: Vec::new(),
        rows: Vec::new(),
        max_index: 0,
    };
    let mut distinct: Vec<f64> = Vec::new();
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        pieces.pop(); // nothing after the last newline
    }
    for (k, raw) in pieces.iter().enumerate() {
        let line_no = k + 1;
        let bad = Err(Refused::AtLine(line_no));
        let Ok(text) = std::str::from_utf8(raw) else {
            return bad;
        };
        let content = text.split('#').next().unwrap_or("");
        let tokens: Vec<&str> = content.split_ascii_whitespace().collect();
        let Some((first, features)) = tokens.split_first() else {
            continue;
        };
        let label: f64 = match first.parse() {
            Ok(v) if f64::is_finite(v) => v,
            _ => return bad,
        };
        if !distinct.contains(&label) {
            if distinct.len() == 2 {
                return bad;
            }
            distinct.push(label);
        }
        let mut row = Vec::new();
        let mut last = 0i64;
        for tok in features {
            let Some((i, v)) = tok.split_once(':') else {
                return bad;
            };
            let (Ok(i), Ok(v)) = (i.parse::<i64>(), v.parse::<f64>()) else {
                return bad;
            };
            if i < 1 || i > largest_index() as i64 || i <= last || !v.is_finite() {
                return bad;
            }
            last = i;
            if v != 0.0 {
                row.push(((i - 1) as u32, v));
            }
        }
        out.max_index = out.max_index.max(last as usize);
        out.labels.push(label);
        out.lines.push(line_no);
        out.rows.push(row);
    }
    if out.labels.is_empty() {
        return Err(Refused::NoRows);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Checks on what the loader returns.

fn csr_rows(ds: &Dataset) -> Vec<Vec<(u32, f64)>> {
    let Design::Sparse(m) = &ds.features else {
        panic!("LIBSVM data must load as a sparse design");
    };
    (0..m.n_rows())
        .map(|i| {
            let (ix, vx) = m.row(i);
            ix.iter().copied().zip(vx.iter().copied()).collect()
        })
        .collect()
}

/// The invariants of a loaded dataset: ±1 labels, strictly increasing indices
/// below the feature count, finite nonzero values.
fn check_dataset(ds: &Dataset) -> Result<(), TestCaseError> {
    prop_assert_eq!(ds.labels.len(), ds.features.n_rows());
    prop_assert!(ds.labels.iter().all(|&l| l == 1.0 || l == -1.0));
    let d = ds.n_features();
    for (i, row) in csr_rows(ds).iter().enumerate() {
        prop_assert!(
            row.windows(2).all(|w| w[0].0 < w[1].0),
            "row {} indices not increasing: {:?}",
            i,
            row
        );
        prop_assert!(
            row.iter().all(|&(j, _)| (j as usize) < d),
            "row {} out of range",
            i
        );
        prop_assert!(
            row.iter().all(|&(_, v)| v.is_finite() && v != 0.0),
            "row {}",
            i
        );
    }
    Ok(())
}

/// The rows of a parsed file, through the public API (`into_dataset` with a map
/// that sends the first label to −1 and, if there is one, the other to +1).
fn rows_of(file: &LibsvmFile) -> (Vec<Vec<(u32, f64)>>, Dataset) {
    let first = file.raw_labels[0];
    let other = file
        .raw_labels
        .iter()
        .copied()
        .find(|&l| l != first)
        .unwrap_or(first);
    let map = LabelMap {
        negative: first,
        positive: other,
    };
    let ds = file
        .clone()
        .into_dataset(file.max_index.max(1), &map)
        .expect("a parsed file converts with its own labels and feature count");
    (csr_rows(&ds), ds)
}

/// Parses `bytes` in memory and checks the result against the reference reader,
/// the dataset invariants and the error format.
fn check_parse(bytes: &[u8]) -> Result<(), TestCaseError> {
    let path = Path::new(NAME);
    let (got, largest) = largest_allocation_during(|| LibsvmFile::parse(bytes, path));
    // Nothing is allocated out of proportion to the input (indices, values and the
    // current line grow with it).
    prop_assert!(
        largest <= 16 * bytes.len() + (64 << 10),
        "allocated {} bytes at once for {} input bytes",
        largest,
        bytes.len()
    );
    let expected = reference(bytes);
    match (got, expected) {
        (Ok(file), Ok(want)) => {
            prop_assert_eq!(&file.path, path);
            prop_assert_eq!(file.n_rows(), want.labels.len());
            prop_assert!(file
                .raw_labels
                .iter()
                .zip(&want.labels)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            prop_assert_eq!(&file.lines, &want.lines);
            prop_assert_eq!(file.max_index, want.max_index);
            let (rows, ds) = rows_of(&file);
            check_dataset(&ds)?;
            prop_assert_eq!(rows.len(), want.rows.len());
            for (k, (a, b)) in rows.iter().zip(&want.rows).enumerate() {
                let same = a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits());
                prop_assert!(
                    same,
                    "row {} (line {}): {:?} != {:?}",
                    k,
                    want.lines[k],
                    a,
                    b
                );
            }
        }
        (Err(e), Err(why)) => {
            let message = e.to_string();
            prop_assert!(
                message.starts_with(NAME),
                "error does not name the file: {}",
                message
            );
            match (e, why) {
                (MastError::Parse { line, .. }, Refused::AtLine(want)) => {
                    prop_assert_eq!(line, want, "{}", message);
                    let prefix = format!("{NAME}:{line}: ");
                    prop_assert!(message.starts_with(&prefix), "{}", message);
                }
                (MastError::Data { .. }, Refused::NoRows) => {}
                // An index past this machine's memory (the loader's guard).
                (MastError::OutOfMemory { .. }, Refused::AtLine(want)) => {
                    let prefix = format!("{NAME}:{want}: ");
                    prop_assert!(message.starts_with(&prefix), "{}", message);
                }
                (e, why) => prop_assert!(false, "error {:?}, expected {:?}", e, why),
            }
        }
        (Ok(file), Err(why)) => {
            prop_assert!(
                false,
                "accepted ({} rows) what should fail: {:?}",
                file.n_rows(),
                why
            )
        }
        (Err(e), Ok(_)) => prop_assert!(false, "refused a valid file: {}", e),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Inputs.

/// The largest feature index the loader takes here: u32::MAX, or less where
/// this machine's memory could not hold the runs of that d
/// (`mast::data::memory::max_dimension`).
fn largest_index() -> u32 {
    mast::data::memory::max_dimension().min(u32::MAX as u64) as u32
}

/// A random binary dataset as LIBSVM would hold it.
#[derive(Debug, Clone)]
struct Sample {
    labels: (f64, f64),
    rows: Vec<(bool, Vec<(u32, f64)>)>,
    /// Spelling: separator, CRLF line ends, comments, blank lines, final newline.
    sep: &'static str,
    crlf: bool,
    comments: bool,
    blank_lines: bool,
    final_newline: bool,
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -1e3f64..1e3,
        1 => any::<f64>().prop_map(|v| if v.is_finite() { v } else { 1.0 }),
        1 => Just(0.0),
        1 => Just(-0.0),
        1 => Just(f64::MAX),
        1 => Just(f64::MIN_POSITIVE / 8.0), // subnormal
        1 => (1u8..=2).prop_map(f64::from),
    ]
}

fn label_pair() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        Just((-1.0, 1.0)),
        Just((0.0, 1.0)),
        Just((1.0, 2.0)),
        (finite_f64(), finite_f64()).prop_map(|(a, b)| if a == b { (a, a + 1.0) } else { (a, b) }),
    ]
    .prop_map(|(a, b)| {
        if a == b || !b.is_finite() {
            (-1.0, 1.0)
        } else {
            (a, b)
        }
    })
}

fn row(max_index: u32) -> impl Strategy<Value = (bool, Vec<(u32, f64)>)> {
    (
        any::<bool>(),
        proptest::collection::btree_map(1..=max_index, finite_f64(), 0..8),
    )
        .prop_map(|(positive, features)| (positive, features.into_iter().collect()))
}

fn sample() -> impl Strategy<Value = Sample> {
    let max_index = prop_oneof![3 => Just(12u32), 1 => Just(200u32), 1 => Just(largest_index())];
    (
        label_pair(),
        max_index.prop_flat_map(|m| proptest::collection::vec(row(m), 1..10)),
        prop::sample::select(vec![" ", "\t", "  ", " \t "]),
        any::<(bool, bool, bool, bool)>(),
    )
        .prop_map(
            |(labels, rows, sep, (crlf, comments, blank_lines, final_newline))| Sample {
                labels,
                rows,
                sep,
                crlf,
                comments,
                blank_lines,
                final_newline,
            },
        )
}

impl Sample {
    /// The file text (labels and values in Rust's shortest round-trip spelling).
    fn render(&self) -> Vec<u8> {
        let eol = if self.crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        if self.comments {
            text.push_str("# written by the fuzz tests");
            text.push_str(eol);
        }
        for (k, (positive, features)) in self.rows.iter().enumerate() {
            if self.blank_lines && k % 2 == 1 {
                text.push_str(self.sep);
                text.push_str(eol);
            }
            let label = if *positive {
                self.labels.1
            } else {
                self.labels.0
            };
            text.push_str(&format!("{label}"));
            for (i, v) in features {
                text.push_str(&format!("{}{i}:{v}", self.sep));
            }
            if self.comments && k % 3 == 0 {
                text.push_str(" # a trailing comment 1:2");
            }
            text.push_str(eol);
        }
        if !self.final_newline {
            text.truncate(text.len() - eol.len());
        }
        text.into_bytes()
    }

    /// Label value of each row, mapped to ±1 (smaller raw label → −1), if both
    /// labels occur.
    fn mapped_labels(&self) -> Option<Vec<f64>> {
        let (a, b) = self.labels;
        let both = self.rows.iter().any(|r| r.0) && self.rows.iter().any(|r| !r.0);
        both.then(|| {
            self.rows
                .iter()
                .map(|(positive, _)| {
                    let raw = if *positive { b } else { a };
                    if raw == a.min(b) {
                        -1.0
                    } else {
                        1.0
                    }
                })
                .collect()
        })
    }

    /// The rows as the loader must return them (explicit zeros dropped).
    fn expected_rows(&self) -> Vec<Vec<(u32, f64)>> {
        self.rows
            .iter()
            .map(|(_, f)| {
                f.iter()
                    .filter(|x| x.1 != 0.0)
                    .map(|&(i, v)| (i - 1, v))
                    .collect()
            })
            .collect()
    }

    fn max_index(&self) -> usize {
        self.rows
            .iter()
            .flat_map(|r| r.1.last().map(|x| x.0 as usize))
            .max()
            .unwrap_or(0)
    }
}

/// Pieces that break LIBSVM text in every way we know of.
const NASTY: &[&[u8]] = &[
    b"1e999",
    b"-1e999",
    b"NaN",
    b"nan",
    b"inf",
    b"-inf",
    b"infinity",
    b"1e-400",
    b"0",
    b"-0",
    b"+1",
    b"4294967295",
    b"4294967296",
    b"18446744073709551616",
    b"-1",
    b"0:1",
    b"1:1",
    b"7:0",
    b" 3:1e308",
    b" 2:-1e-320",
    b" 99999:1",
    b" 4294967295:1",
    b" 4294967296:2",
    b":",
    b"::",
    b" ",
    b"\t",
    b"\r",
    b"\n",
    b"\r\n",
    b"#",
    b"# c\n",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xc2\xa0",
    b"\x0b",
    b"\x0c",
    b"1.5",
    b".",
    b"e",
    b"E5",
    b"0x10",
    b"1_000",
    b"\xef\xbc\x93",
    b"1:2 1:3",
    b" 5:1 2:1",
    b"\n\n",
    b"3",
];

fn edits() -> impl Strategy<Value = Vec<(usize, u8, usize)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 1..6)
}

// ---------------------------------------------------------------------------
// Targets.

#[test]
fn fuzz_libsvm_arbitrary_bytes() {
    fuzz("libsvm-bytes", 1000, bytes(300), |input| {
        check_parse(&input.0)
    });
}

#[test]
fn fuzz_libsvm_token_soup() {
    // Bytes from the format's own alphabet reach deeper than random bytes.
    let alphabet: Vec<u8> = b"0123456789:.-+eE# \t\r\nnaif\xff".to_vec();
    fuzz(
        "libsvm-soup",
        1000,
        proptest::collection::vec(prop::sample::select(alphabet), 0..200).prop_map(Bytes),
        |input| check_parse(&input.0),
    );
}

#[test]
fn fuzz_libsvm_round_trip() {
    fuzz("libsvm-round-trip", 400, sample(), |s| {
        let text = s.render();
        check_parse(&text)?;
        let file = LibsvmFile::parse(&text[..], Path::new(NAME)).expect("a written file parses");
        prop_assert_eq!(file.max_index, s.max_index());
        let (rows, _) = rows_of(&file);
        prop_assert_eq!(rows, s.expected_rows());
        if let Some(labels) = s.mapped_labels() {
            let map = file.infer_label_map().expect("two labels");
            prop_assert_eq!(map.negative, s.labels.0.min(s.labels.1));
            prop_assert_eq!(map.positive, s.labels.0.max(s.labels.1));
            let ds = file.into_dataset(s.max_index().max(1), &map).unwrap();
            prop_assert_eq!(ds.labels, labels);
        } else {
            prop_assert!(file.infer_label_map().is_err());
        }
        Ok(())
    });
}

#[test]
fn fuzz_libsvm_mutated() {
    fuzz("libsvm-mutated", 1000, (sample(), edits()), |(s, e)| {
        check_parse(&mutate(&s.render(), &e, NASTY))
    });
}

/// Files on disk, plain and gzipped, through `load_libsvm_pair`: a valid training
/// file and an edited test file; and a gzipped file truncated or with a byte
/// changed.
#[test]
fn fuzz_libsvm_files_and_gzip() {
    let strategy = (sample(), edits(), any::<usize>(), any::<u8>());
    fuzz("libsvm-files", 150, strategy, |(s, e, cut, flip)| {
        let dir = ScratchDir::new("libsvm");
        let text = s.render();
        let edited = mutate(&text, &e, NASTY);
        let train = dir.write("train.svm", &text);
        let train_gz = dir.write("train.svm.gz", &gzip(&text));
        let test = dir.write("test.svm", &edited);

        // Plain and gzipped files read the same.
        let plain = LibsvmFile::read(&train).expect("a written file reads");
        let zipped = LibsvmFile::read(&train_gz).expect("its gzip reads");
        prop_assert_eq!(rows_of(&plain).0, rows_of(&zipped).0);
        prop_assert_eq!(&plain.lines, &zipped.lines);

        // The pair: if it loads, both sets satisfy the invariants and share the
        // feature count; if it fails, the message names the file at fault.
        let test_ok = reference(&edited).is_ok();
        match load_libsvm_pair(&train_gz, Some(&test), None) {
            Ok(pair) => {
                prop_assert!(
                    test_ok,
                    "an edited test file the reference refuses was accepted"
                );
                check_dataset(&pair.train)?;
                let t = pair.test.as_ref().expect("test set");
                check_dataset(t)?;
                prop_assert_eq!(t.n_features(), pair.train.n_features());
                prop_assert_eq!(csr_rows(&pair.train), s.expected_rows());
            }
            Err(err) => {
                let message = err.to_string();
                let names = |p: &Path| message.starts_with(&p.display().to_string());
                prop_assert!(names(&train_gz) || names(&test), "{}", message);
                if !test_ok {
                    prop_assert!(names(&test), "{}", message);
                }
            }
        }

        // A truncated gzip stream never loads; a changed byte either fails with
        // the file named or (header fields) leaves the content intact.
        let gz = gzip(&text);
        let cut = cut % gz.len();
        let truncated = dir.write("cut.svm.gz", &gz[..cut]);
        let err = LibsvmFile::read(&truncated);
        prop_assert!(
            err.is_err(),
            "a gzip stream cut at {} of {} bytes loaded",
            cut,
            gz.len()
        );
        let message = err.unwrap_err().to_string();
        prop_assert!(
            message.starts_with(&truncated.display().to_string()),
            "{}",
            message
        );

        let mut changed = gz.clone();
        let at = cut % changed.len();
        changed[at] ^= flip.max(1);
        let changed_path = dir.write("flip.svm.gz", &changed);
        match LibsvmFile::read(&changed_path) {
            Ok(f) => {
                // Only a header byte (or a magic byte, then the file is read as
                // text and must be what the reference reader makes of it).
                if changed[..2] == [0x1f, 0x8b] {
                    prop_assert_eq!(rows_of(&f).0, rows_of(&plain).0);
                } else {
                    let want = reference(&changed);
                    prop_assert!(want.is_ok());
                }
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(
                    message.starts_with(&changed_path.display().to_string()),
                    "{}",
                    message
                );
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Regressions: inputs the fuzzing found or that the brief names.

#[test]
fn huge_index_loads_without_allocating_by_index() {
    let text = b"1 4294967295:1\n-1 1:2\n";
    let ((), largest) = largest_allocation_during(|| {
        match LibsvmFile::parse(&text[..], Path::new(NAME)) {
            Ok(file) => assert_eq!(file.max_index, u32::MAX as usize),
            // Where 3 vectors of d = 2^32 do not fit, the guard refuses it, naming the line.
            Err(e) => {
                assert!(largest_index() < u32::MAX);
                let m = e.to_string();
                assert!(
                    m.starts_with(&format!("{NAME}:1: feature index 4294967295 makes d =")),
                    "{m}"
                );
            }
        }
    });
    assert!(largest < 1 << 20, "{largest}");
    let e = LibsvmFile::parse(&b"1 4294967296:1\n"[..], Path::new(NAME)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{NAME}:1: feature index 4294967296 is too large")
    );
}
