#![allow(clippy::needless_range_loop)] // index loops mirror the formulas
//! Integration tests for the LIBSVM loader (`mast::data::libsvm`) and the
//! train/validation split (`mast::data::split`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mast::data::split::holdout;
use mast::data::{load_libsvm_pair, Dataset, Design, LabelMap, LibsvmFile};
use mast::MastError;

const A5A: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/a5a.gz");
const A5A_T: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/a5a.t.gz");

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("mast-libsvm-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).expect("write fixture");
        path
    }

    fn write_gz(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        let file = std::fs::File::create(&path).expect("create fixture");
        let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        enc.write_all(content).expect("compress");
        enc.finish().expect("finish gzip");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn csr_rows(ds: &Dataset) -> Vec<(Vec<u32>, Vec<f64>)> {
    match &ds.features {
        Design::Sparse(m) => (0..m.n_rows())
            .map(|i| {
                let (ix, vx) = m.row(i);
                (ix.to_vec(), vx.to_vec())
            })
            .collect(),
        Design::Dense(_) => panic!("LIBSVM data should be sparse"),
    }
}

fn nnz(ds: &Dataset) -> usize {
    ds.features.nnz()
}

fn count_labels(ds: &Dataset) -> (usize, usize) {
    let neg = ds.labels.iter().filter(|&&l| l == -1.0).count();
    let pos = ds.labels.iter().filter(|&&l| l == 1.0).count();
    assert_eq!(neg + pos, ds.labels.len(), "labels other than ±1");
    (neg, pos)
}

#[test]
fn loads_shipped_a5a() {
    let pair = load_libsvm_pair(A5A, Some(A5A_T), None).expect("a5a loads");
    let (train, test) = (&pair.train, pair.test.as_ref().expect("test set"));
    assert_eq!(train.n_samples(), 6414);
    assert_eq!(test.n_samples(), 26_147);
    // The training file's largest index is 122, the test file's 123.
    assert_eq!(train.n_features(), 123);
    assert_eq!(test.n_features(), 123);
    assert_eq!(count_labels(train), (4845, 1569));
    assert_eq!(count_labels(test), (19_875, 6272));
    assert_eq!(
        pair.label_map,
        LabelMap {
            negative: -1.0,
            positive: 1.0
        }
    );
    let avg = nnz(train) as f64 / train.n_samples() as f64;
    assert!((avg - 13.866).abs() <= 1e-3, "avg nnz/row {avg}");
    assert_eq!(nnz(train), 88_939);
    assert_eq!(nnz(test), 362_653);
    // All features are binary.
    for (ix, vx) in csr_rows(train) {
        assert!(ix.windows(2).all(|w| w[0] < w[1]));
        assert!(ix.iter().all(|&j| j < 123));
        assert!(vx.iter().all(|&v| v == 1.0));
    }
    // First row: -1 3:1 11:1 14:1 19:1 39:1 42:1 55:1 64:1 67:1 73:1 75:1 76:1 80:1 83:1
    let rows = csr_rows(train);
    assert_eq!(
        rows[0].0,
        vec![2, 10, 13, 18, 38, 41, 54, 63, 66, 72, 74, 75, 79, 82]
    );
    assert_eq!(train.labels[0], -1.0);
    assert_eq!(train.name, "a5a");
    assert_eq!(test.name, "a5a.t");

    // Alone, the training file has 122 features; n_features overrides.
    let alone = load_libsvm_pair(A5A, None::<&str>, None).expect("train alone");
    assert_eq!(alone.train.n_features(), 122);
    assert!(alone.test.is_none());
    let wide = load_libsvm_pair(A5A, Some(A5A_T), Some(200)).expect("wider");
    assert_eq!(wide.train.n_features(), 200);
    assert_eq!(wide.test.as_ref().map(|t| t.n_features()), Some(200));
}

#[test]
fn gzip_and_plain_parse_identically() {
    let tmp = TempDir::new("plain");
    let mut text = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(std::fs::File::open(A5A).expect("open a5a"));
    std::io::Read::read_to_end(&mut reader, &mut text).expect("gunzip a5a");
    let plain = tmp.write("a5a", &text);
    // Detection is by magic bytes, whatever the name.
    let plain_named_gz = tmp.write("plain.gz", &text);
    let gz_named_txt = tmp.write_gz("compressed.txt", &text);

    let reference = LibsvmFile::read(A5A).expect("gz");
    for path in [&plain, &plain_named_gz, &gz_named_txt] {
        let other = LibsvmFile::read(path).expect("copy");
        assert_eq!(other.path, *path);
        assert_eq!(other.raw_labels, reference.raw_labels, "{}", path.display());
        assert_eq!(other.lines, reference.lines);
        assert_eq!(other.max_index, reference.max_index);
        assert_eq!(other.n_rows(), 6414);
        let map = reference.infer_label_map().expect("map");
        let a = reference.clone().into_dataset(123, &map).expect("dataset");
        let b = other.into_dataset(123, &map).expect("dataset");
        assert_eq!(csr_rows(&a), csr_rows(&b));
        assert_eq!(a.labels, b.labels);
    }
    let pair = load_libsvm_pair(&plain, None::<&str>, Some(123)).expect("plain pair");
    assert_eq!(pair.train.n_samples(), 6414);
    assert_eq!(count_labels(&pair.train), (4845, 1569));
}

/// Loads `train` (and `test`) written to a temp dir, with the feature count inferred.
fn load_texts(train: &str, test: Option<&str>) -> mast::Result<mast::data::LibsvmPair> {
    let tmp = TempDir::new("pair");
    let tr = tmp.write("train.svm", train.as_bytes());
    let te = test.map(|t| tmp.write("test.svm", t.as_bytes()));
    load_libsvm_pair(tr, te, None)
}

#[test]
fn label_maps() {
    let cases: [(&str, f64, f64, &[f64]); 7] = [
        ("-1 1:1\n+1 2:1\n-1 1:1\n", -1.0, 1.0, &[-1.0, 1.0, -1.0]),
        ("1 1:1\n-1 2:1\n", -1.0, 1.0, &[1.0, -1.0]),
        ("0 1:1\n1 2:1\n1 1:1\n", 0.0, 1.0, &[-1.0, 1.0, 1.0]),
        ("1 1:1\n2 2:1\n", 1.0, 2.0, &[-1.0, 1.0]),
        ("2 1:1\n1 2:1\n", 1.0, 2.0, &[1.0, -1.0]),
        ("7 1:1\n3 2:1\n7 2:1\n", 3.0, 7.0, &[1.0, -1.0, 1.0]),
        ("-1.0 1:1\n1.0 2:1\n1e0 2:1\n", -1.0, 1.0, &[-1.0, 1.0, 1.0]),
    ];
    for (text, neg, pos, labels) in cases {
        let pair = load_texts(text, None).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(
            pair.label_map,
            LabelMap {
                negative: neg,
                positive: pos
            },
            "{text:?}"
        );
        assert_eq!(pair.train.labels, labels, "{text:?}");
    }
    // The test set uses the training set's map.
    let pair = load_texts("3 1:1\n7 2:1\n", Some("7 1:1\n3 1:1\n7 3:2\n")).expect("pair");
    assert_eq!(
        pair.test.as_ref().map(|t| t.labels.clone()),
        Some(vec![1.0, -1.0, 1.0])
    );
    assert_eq!(pair.train.n_features(), 3);
    // LabelMap::map directly.
    let map = LabelMap {
        negative: 3.0,
        positive: 7.0,
    };
    assert_eq!(
        (map.map(3.0), map.map(7.0), map.map(5.0)),
        (Some(-1.0), Some(1.0), None)
    );
}

#[test]
fn test_label_outside_training_pair_names_file_and_line() {
    let tmp = TempDir::new("badtest");
    let train = tmp.write("train.svm", b"0 1:1\n1 2:1\n");
    let test = tmp.write("test.svm", b"1 1:1\n\n# note\n1 2:1\n2 1:1\n");
    let err = match load_libsvm_pair(&train, Some(&test), None) {
        Err(e) => e,
        Ok(p) => panic!("label 2 accepted: {:?}", p.test.map(|t| t.labels)),
    };
    let text = err.to_string();
    match &err {
        MastError::Parse {
            path,
            line,
            message,
        } => {
            assert_eq!(path, &test);
            assert_eq!(*line, 5);
            assert!(message.contains("label 2"), "{message}");
            assert!(message.contains("training labels"), "{message}");
        }
        other => panic!("expected Parse, got {other:?}"),
    }
    assert!(
        text.starts_with(&format!("{}:5: ", test.display())),
        "{text}"
    );
}

#[test]
fn accepted_formatting() {
    let text = concat!(
        "# a header comment\n",
        "+1 1:0.5 3:-2   \n",
        "\n",
        "   \n",
        "-1 # a row with no features\n",
        "\t-1\t2:1e-3\t4:7 # trailing comment 5:1\n",
        "+1 1:1 5:0\r\n",
        "# the end\n",
    );
    let tmp = TempDir::new("ok");
    let path = tmp.write("ok.svm", text.as_bytes());
    let f = LibsvmFile::read(&path).expect("accepted");
    assert_eq!(f.path, path);
    assert_eq!(f.raw_labels, vec![1.0, -1.0, -1.0, 1.0]);
    assert_eq!(f.lines, vec![2, 5, 6, 7]);
    // 5:0 is not stored but still counts as an index seen.
    assert_eq!(f.max_index, 5);
    assert_eq!(f.n_rows(), 4);
    let map = f.infer_label_map().expect("two labels");
    let ds = f.into_dataset(5, &map).expect("dataset");
    assert_eq!(ds.n_features(), 5);
    assert_eq!(ds.labels, vec![1.0, -1.0, -1.0, 1.0]);
    assert_eq!(
        csr_rows(&ds),
        vec![
            (vec![0, 2], vec![0.5, -2.0]),
            (vec![], vec![]),
            (vec![1, 3], vec![1e-3, 7.0]),
            (vec![0], vec![1.0]),
        ]
    );
    // No trailing newline.
    let path = tmp.write("nonl.svm", b"1 2:1\n0 1:1");
    let f = LibsvmFile::read(&path).expect("accepted");
    assert_eq!((f.n_rows(), f.max_index), (2, 2));
    // Labels-only rows need n_features from elsewhere.
    let path = tmp.write("empty_rows.svm", b"1\n0\n");
    let pair = load_libsvm_pair(&path, None::<&str>, Some(4)).expect("with n_features");
    assert_eq!((pair.train.n_samples(), pair.train.n_features()), (2, 4));
    match load_libsvm_pair(&path, None::<&str>, None) {
        Err(e @ MastError::Data { .. }) => {
            let t = e.to_string();
            assert!(
                t.contains(&path.display().to_string()) && t.contains("no features"),
                "{t}"
            );
        }
        other => panic!("expected Data error, got {other:?}"),
    }
}

/// Writes `content`, reads it, and checks for a `Parse` error on `line` whose
/// text is `PATH:LINE: ...` and contains every word in `words`.
fn expect_parse_error(content: &str, line: usize, words: &[&str]) {
    let tmp = TempDir::new("bad");
    let path = tmp.write("bad.svm", content.as_bytes());
    let err = match LibsvmFile::read(&path) {
        Err(e) => e,
        Ok(f) => panic!("{content:?} was accepted: {:?}", f.raw_labels),
    };
    let text = err.to_string();
    match &err {
        MastError::Parse {
            path: p,
            line: l,
            message,
        } => {
            assert_eq!(p, &path, "{text}");
            assert_eq!(*l, line, "{content:?}: {text}");
            for w in words {
                assert!(message.contains(w), "{content:?}: `{text}` lacks `{w}`");
            }
        }
        other => panic!("{content:?}: expected Parse, got {other:?}"),
    }
    let prefix = format!("{}:{line}: ", path.display());
    assert!(
        text.starts_with(&prefix),
        "`{text}` does not start with `{prefix}`"
    );
}

#[test]
fn line_level_errors() {
    let ok = "1 1:1\n-1 2:1\n";
    let with = |bad: &str| format!("{ok}{bad}\n");
    expect_parse_error(
        &with("1 3:1 2:1"),
        3,
        &["strictly increasing", "2 comes after 3"],
    );
    expect_parse_error(
        &with("1 3:1 3:2"),
        3,
        &["strictly increasing", "3 comes after 3"],
    );
    expect_parse_error(&with("1 0:1"), 3, &["index 0", "1-based"]);
    expect_parse_error(&with("1 -2:1"), 3, &["index -2"]);
    expect_parse_error(&with("1 3:abc"), 3, &["'abc'", "not a number"]);
    expect_parse_error(&with("1 3:"), 3, &["not a number"]);
    expect_parse_error(&with("1 x:1"), 3, &["'x'", "not an integer"]);
    expect_parse_error(&with("1 2.5:1"), 3, &["'2.5'", "not an integer"]);
    expect_parse_error(&with("1 1:1 3"), 3, &["'3'", "index:value"]);
    expect_parse_error(&with("abc 1:1"), 3, &["label", "'abc'", "not a number"]);
    expect_parse_error(&with("1 2:nan"), 3, &["'nan'", "not finite"]);
    expect_parse_error(&with("1 2:NaN"), 3, &["not finite"]);
    expect_parse_error(&with("1 2:inf"), 3, &["'inf'", "not finite"]);
    expect_parse_error(&with("1 2:-inf"), 3, &["not finite"]);
    expect_parse_error(&with("1 2:1e400"), 3, &["not finite"]);
    expect_parse_error(&with("nan 2:1"), 3, &["label", "not finite"]);
    // A third distinct label: the error is on its line, and names the first two.
    expect_parse_error(
        "# header\n1 1:1\n\n-1 2:1\n1 3:1\n2 1:1\n-1 1:1\n",
        6,
        &["third distinct label", "'2'", "line 2", "line 4"],
    );
    // Errors after comments and blank lines keep true line numbers.
    expect_parse_error(
        "# c\n\n\n1 1:1 # ok\n\n0 5:1 4:1\n",
        6,
        &["4 comes after 5"],
    );
}

#[test]
fn file_level_errors() {
    let tmp = TempDir::new("files");
    for (name, content) in [
        ("empty.svm", ""),
        ("comments.svm", "# only\n# comments\n\n   \n"),
    ] {
        let path = tmp.write(name, content.as_bytes());
        let err = match LibsvmFile::read(&path) {
            Err(e) => e,
            Ok(f) => panic!("{name} accepted with {} rows", f.n_rows()),
        };
        let text = err.to_string();
        match &err {
            MastError::Data { path: p, message } => {
                assert_eq!(p, &path);
                assert!(message.contains("no data rows"), "{message}");
            }
            other => panic!("{name}: expected Data, got {other:?}"),
        }
        assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
        // Also through the pair loader, and as a test file.
        assert!(matches!(
            load_libsvm_pair(&path, None::<&str>, None),
            Err(MastError::Data { .. })
        ));
        let train = tmp.write("train_ok.svm", b"1 1:1\n0 1:1\n");
        match load_libsvm_pair(&train, Some(&path), None) {
            Err(MastError::Data { path: p, .. }) => assert_eq!(p, path),
            other => panic!("empty test file: {other:?}"),
        }
    }

    // An empty gzip file.
    let path = tmp.write_gz("empty.gz", b"");
    assert!(matches!(
        LibsvmFile::read(&path),
        Err(MastError::Data { .. })
    ));

    // Missing file.
    let missing = tmp.0.join("does-not-exist.svm");
    let err = match LibsvmFile::read(&missing) {
        Err(e) => e,
        Ok(_) => panic!("missing file read"),
    };
    let text = err.to_string();
    match &err {
        MastError::Io { path, source, .. } => {
            assert_eq!(path, &missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    assert!(text.contains(&missing.display().to_string()), "{text}");
    assert!(text.contains("cannot open"), "{text}");
    match load_libsvm_pair(A5A, Some(&missing), None) {
        Err(MastError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!(
            "missing test file: {:?}",
            other.map(|p| p.train.n_samples())
        ),
    }

    // Only one distinct label in the training file.
    let one = tmp.write("one.svm", b"1 1:1\n1 2:1\n");
    let err = match load_libsvm_pair(&one, None::<&str>, None) {
        Err(e) => e,
        Ok(p) => panic!("one label accepted: {:?}", p.label_map),
    };
    match &err {
        MastError::Data { path, message } => {
            assert_eq!(path, &one);
            assert!(message.contains("two distinct labels"), "{message}");
        }
        other => panic!("expected Data, got {other:?}"),
    }
    assert!(err.to_string().contains(&one.display().to_string()));
}

#[test]
fn n_features_smaller_than_max_index() {
    let err = match load_libsvm_pair(A5A, Some(A5A_T), Some(100)) {
        Err(e) => e,
        Ok(p) => panic!("accepted with {} features", p.train.n_features()),
    };
    let text = err.to_string();
    match &err {
        MastError::Data { path, message } => {
            assert_eq!(path, Path::new(A5A));
            assert!(message.contains("feature index 122"), "{message}");
            assert!(message.contains("feature count is 100"), "{message}");
        }
        other => panic!("expected Data, got {other:?}"),
    }
    assert!(text.contains(A5A), "{text}");
    // The test file alone exceeds 122.
    let err = match load_libsvm_pair(A5A, Some(A5A_T), Some(122)) {
        Err(e) => e,
        Ok(p) => panic!("accepted with {} features", p.train.n_features()),
    };
    match &err {
        MastError::Data { path, message } => {
            assert_eq!(path, Path::new(A5A_T));
            assert!(message.contains("feature index 123"), "{message}");
        }
        other => panic!("expected Data, got {other:?}"),
    }
    // into_dataset directly.
    let f = LibsvmFile::read(A5A).expect("a5a");
    let map = f.infer_label_map().expect("map");
    assert!(matches!(
        f.into_dataset(121, &map),
        Err(MastError::Data { .. })
    ));
}

#[test]
fn holdout_split_of_a5a() {
    let pair = load_libsvm_pair(A5A, None::<&str>, Some(123)).expect("a5a");
    let data = &pair.train;
    let (train, val) = holdout(data, 0.2, 7).expect("split");
    let val = val.expect("validation set");
    // round(0.2 · 6414) = round(1282.8) = 1283.
    assert_eq!((train.n_samples(), val.n_samples()), (5131, 1283));
    assert_eq!(train.n_features(), 123);
    assert_eq!(val.name, "a5a-validation");
    // The two parts are the whole (as multisets of labelled rows), and each keeps
    // the original order (is a subsequence of the original rows).
    let labelled = |ds: &Dataset| -> Vec<(i64, Vec<u32>, Vec<u64>)> {
        csr_rows(ds)
            .into_iter()
            .zip(&ds.labels)
            .map(|((ix, vx), &l)| (l as i64, ix, vx.iter().map(|v| v.to_bits()).collect()))
            .collect()
    };
    let all = labelled(data);
    let (tr, va) = (labelled(&train), labelled(&val));
    let is_subsequence = |part: &[(i64, Vec<u32>, Vec<u64>)]| {
        let mut it = all.iter();
        part.iter().all(|row| it.any(|r| r == row))
    };
    assert!(is_subsequence(&tr), "training part out of order");
    assert!(is_subsequence(&va), "validation part out of order");
    let mut joined: Vec<_> = tr.iter().chain(&va).cloned().collect();
    let mut sorted_all = all.clone();
    joined.sort();
    sorted_all.sort();
    assert!(
        joined == sorted_all,
        "parts are not a partition of the rows"
    );
    assert_eq!(nnz(&train) + nnz(&val), nnz(data));
    let (tn, tp) = count_labels(&train);
    let (vn, vp) = count_labels(&val);
    assert_eq!((tn + vn, tp + vp), (4845, 1569));
    // Deterministic by seed; another seed gives another split.
    let (train2, _) = holdout(data, 0.2, 7).expect("split");
    assert!(labelled(&train2) == tr);
    let (train3, _) = holdout(data, 0.2, 8).expect("split");
    assert!(labelled(&train3) != tr);
    // fraction 0: everything, no validation set.
    let (all_train, none) = holdout(data, 0.0, 7).expect("no split");
    assert!(none.is_none());
    assert_eq!(all_train.n_samples(), 6414);
    // Invalid fractions.
    for f in [1.0, -0.1, 1.5, f64::NAN] {
        match holdout(data, f, 7) {
            Err(MastError::InvalidParameter { name, .. }) => assert_eq!(name, "val_fraction"),
            other => panic!("fraction {f}: {:?}", other.map(|(t, _)| t.n_samples())),
        }
    }
    // A fraction that rounds to every row.
    let tiny = data.select_rows(&[0, 1, 2], "tiny");
    match holdout(&tiny, 0.9, 1) {
        Err(MastError::InvalidParameter { name, message }) => {
            assert_eq!(name, "val_fraction");
            assert!(message.contains("no training data"), "{message}");
        }
        other => panic!("fraction 0.9 of 3: {:?}", other.map(|(t, _)| t.n_samples())),
    }
}
