//! `mast::data::synth_libsvm`: same seed ⇒ same bytes whatever the thread count, the
//! files parse with mast's own loader, and their shape statistics are those asked for.

use std::path::{Path, PathBuf};

use mast::data::synth_libsvm::{Part, SynthShape, SynthSpec, SynthValues, CHUNK_ROWS};
use mast::data::{load_libsvm_pair, CsrMatrix, Design};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mast-synth-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_with_threads(spec: &SynthSpec, part: Part, path: &Path, threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| spec.write(part, path)).unwrap();
    std::fs::read(path).unwrap()
}

fn csr(design: &Design) -> &CsrMatrix {
    match design {
        Design::Sparse(m) => m,
        other => panic!("expected a sparse design, got {other:?}"),
    }
}

/// Rows, nonzeros, row norms of a loaded CSR.
fn row_norms(m: &CsrMatrix) -> Vec<f64> {
    (0..m.n_rows())
        .map(|i| m.row(i).1.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect()
}

#[test]
fn same_seed_same_bytes_for_any_thread_count_and_other_seed_differs() {
    let dir = temp_dir("threads");
    let mut spec = SynthSpec::preset(SynthShape::News20).scaled(0.001).unwrap();
    spec.train_rows = 3 * CHUNK_ROWS + 17; // several chunks, a partial last one
    spec.nnz_per_row = 40;
    let one = write_with_threads(&spec, Part::Train, &dir.join("a"), 1);
    let three = write_with_threads(&spec, Part::Train, &dir.join("b"), 3);
    assert_eq!(one, three);
    let again = write_with_threads(&spec, Part::Train, &dir.join("a"), 2);
    assert_eq!(one, again);
    let test = write_with_threads(&spec, Part::Test, &dir.join("t"), 2);
    assert_ne!(one[..test.len().min(one.len())], test[..]);
    spec.seed += 1;
    let other = write_with_threads(&spec, Part::Train, &dir.join("c"), 2);
    assert_ne!(one, other);
    // Written atomically: nothing but the four files is left in the folder.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c", "t"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn news20_like_parses_with_the_shape_asked_for() {
    let dir = temp_dir("news20");
    let spec = SynthSpec::preset(SynthShape::News20).scaled(0.002).unwrap();
    assert_eq!(
        (spec.train_rows, spec.test_rows, spec.cols, spec.nnz_per_row),
        (40, 10, 2_710, 450)
    );
    let (train, test) = (dir.join("news20-like"), dir.join("news20-like.t"));
    let stats = spec.write(Part::Train, &train).unwrap();
    let test_stats = spec.write(Part::Test, &test).unwrap();
    assert_eq!(stats.bytes, std::fs::metadata(&train).unwrap().len());
    let pair = load_libsvm_pair(&train, Some(&test), None).unwrap();
    assert_eq!(pair.train.n_samples(), 40);
    assert_eq!(pair.test.as_ref().unwrap().n_samples(), 10);
    // The first training row holds the last column: the loader infers d exactly.
    assert_eq!(pair.train.n_features(), 2_710);
    assert_eq!(stats.max_index, 2_710);
    assert!(test_stats.max_index <= 2_710);
    let m = csr(&pair.train.features);
    assert_eq!(m.nnz() as u64, stats.nnz);
    let mean = stats.nnz as f64 / 40.0;
    assert!((mean - 450.0).abs() < 450.0 * 0.1, "mean nnz {mean}");
    for (i, norm) in row_norms(m).into_iter().enumerate() {
        assert!((norm - 1.0).abs() < 1e-4, "row {i}: norm {norm}");
    }
    // Real-valued, and power-law: column 1 is in far more rows than the median column.
    let (_, first_vals) = m.row(0);
    assert!(first_vals.iter().any(|&v| v != first_vals[0]));
    let in_col1 = (0..40).filter(|&i| m.row(i).0.first() == Some(&0)).count();
    assert!(in_col1 >= 30, "column 1 in {in_col1} of 40 rows");
    // Labels: both signs, neither rare.
    assert!((8..=32).contains(&stats.positives), "{}", stats.positives);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn url_like_mixes_real_and_binary_columns() {
    let dir = temp_dir("url");
    let spec = SynthSpec::preset(SynthShape::Url).scaled(0.001).unwrap();
    let SynthValues::RealThenBinary { real_cols } = spec.values else {
        panic!("url is real-then-binary")
    };
    assert_eq!((spec.train_rows, spec.cols, real_cols), (200, 3_232, 20));
    let path = dir.join("url-like");
    let stats = spec.write(Part::Train, &path).unwrap();
    let pair = load_libsvm_pair(&path, None::<&Path>, None).unwrap();
    assert_eq!(pair.train.n_features(), 3_232);
    let m = csr(&pair.train.features);
    let mean = stats.nnz as f64 / 200.0;
    assert!((mean - 115.0).abs() < 115.0 * 0.1, "mean nnz {mean}");
    for i in 0..200 {
        let (cols, vals) = m.row(i);
        assert_eq!(&cols[..20], &(0..20).collect::<Vec<u32>>()[..], "row {i}");
        assert!(vals[20..].iter().all(|&v| v == 1.0), "row {i}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn epsilon_like_is_dense_with_unit_rows() {
    let dir = temp_dir("epsilon");
    let spec = SynthSpec::preset(SynthShape::Epsilon)
        .scaled(0.005)
        .unwrap();
    assert_eq!((spec.train_rows, spec.cols), (500, 10));
    let path = dir.join("epsilon-like");
    spec.write(Part::Train, &path).unwrap();
    let pair = load_libsvm_pair(&path, None::<&Path>, None).unwrap();
    let m = csr(&pair.train.features);
    assert_eq!(m.nnz(), 500 * 10);
    assert!(row_norms(m).iter().all(|n| (n - 1.0).abs() < 1e-4));
    let negative = m.row(0).1.iter().chain(m.row(1).1).any(|&v| v < 0.0);
    assert!(negative, "normal values take both signs");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inconsistent_shapes_are_refused() {
    let mut spec = SynthSpec::preset(SynthShape::Rcv1);
    spec.nnz_per_row = spec.cols + 1;
    let e = spec.check().unwrap_err().to_string();
    assert!(e.contains("nnz") && e.contains("47236"), "{e}");
    let mut dense = SynthSpec::preset(SynthShape::Epsilon);
    dense.nnz_per_row = 10;
    assert!(dense.check().unwrap_err().to_string().contains("dense"));
    assert!(SynthSpec::preset(SynthShape::Url).scaled(0.0).is_err());
    assert!("news21".parse::<SynthShape>().is_err());
    assert_eq!("url".parse::<SynthShape>().unwrap(), SynthShape::Url);
}
