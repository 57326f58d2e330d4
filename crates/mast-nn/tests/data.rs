//! Data loading: IDX errors (wrong magic, truncated, count mismatch), digits CSV,
//! normalisation and seeded batches.

mod common;

use std::path::Path;

use common::*;
use mast_nn::data::idx::{parse_images, parse_labels, read_pair};
use mast_nn::data::{digits::parse_digits, load, Batches, DatasetName};
use mast_nn::NnError;

fn message(e: NnError) -> String {
    e.to_string()
}

#[test]
fn idx_round_trip_plain_and_gzipped() {
    let dir = temp_dir("idx-ok");
    let px: Vec<u8> = (0..2 * 3 * 4).map(|v| v as u8).collect();
    std::fs::write(dir.join("im"), idx_images(2, 3, 4, &px)).unwrap();
    write_gz(&dir.join("lb.gz"), &idx_labels(&[7, 1]));
    let (im, lb) = read_pair(&dir.join("im"), &dir.join("lb.gz")).unwrap();
    assert_eq!((im.n, im.rows, im.cols), (2, 3, 4));
    assert_eq!(im.pixels, px);
    assert_eq!(lb, vec![7, 1]);
}

#[test]
fn idx_wrong_magic_is_named() {
    let p = Path::new("labels-as-images.idx");
    let e = message(parse_images(&idx_labels(&[1, 2, 3]), p).unwrap_err());
    assert!(e.contains("wrong magic number 2049"), "{e}");
    assert!(e.contains("expected 2051"), "{e}");
    assert!(e.contains("labels-as-images.idx"), "{e}");
    let e = message(parse_labels(&[0, 0, 9, 9, 0, 0, 0, 1, 5], p).unwrap_err());
    assert!(e.contains("wrong magic number"), "{e}");
}

#[test]
fn idx_truncated_files_are_rejected() {
    let p = Path::new("t.idx");
    let full = idx_images(3, 2, 2, &[1; 12]);
    let e = message(parse_images(&full[..full.len() - 1], p).unwrap_err());
    assert!(
        e.contains("truncated") && e.contains("12") && e.contains("11"),
        "{e}"
    );
    let e = message(parse_images(&full[..10], p).unwrap_err());
    assert!(e.contains("truncated IDX header"), "{e}");
    let e = message(parse_images(&full[..2], p).unwrap_err());
    assert!(e.contains("truncated"), "{e}");
    let mut long = idx_labels(&[1, 2]);
    long.push(3);
    let e = message(parse_labels(&long, p).unwrap_err());
    assert!(e.contains("1 bytes after"), "{e}");
}

#[test]
fn idx_count_mismatch_is_rejected() {
    let dir = temp_dir("idx-mismatch");
    write_gz(&dir.join("im.gz"), &idx_images(3, 2, 2, &[0; 12]));
    write_gz(&dir.join("lb.gz"), &idx_labels(&[0, 1]));
    let e = message(read_pair(&dir.join("im.gz"), &dir.join("lb.gz")).unwrap_err());
    assert!(
        e.contains("count mismatch") && e.contains("2 labels") && e.contains("3 images"),
        "{e}"
    );
}

#[test]
fn corrupt_gzip_and_missing_file_are_errors() {
    let dir = temp_dir("idx-corrupt");
    std::fs::write(dir.join("bad.gz"), [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let e = message(mast_nn::data::idx::read_labels(&dir.join("bad.gz")).unwrap_err());
    assert!(e.contains("gzip"), "{e}");
    let e = message(mast_nn::data::idx::read_labels(&dir.join("nope.gz")).unwrap_err());
    assert!(e.contains("nope.gz") && e.contains("cannot read"), "{e}");
}

#[test]
fn digits_csv_parses_and_rejects_bad_rows() {
    let p = Path::new("digits.csv");
    let row = |label: &str| format!("{},{label}\n", vec!["3"; 64].join(","));
    let (px, lb) = parse_digits(&(row("4") + &row("9")), p).unwrap();
    assert_eq!(px.len(), 128);
    assert_eq!(lb, vec![4, 9]);
    let e = message(parse_digits(&row("12"), p).unwrap_err());
    assert!(e.contains("line 1") && e.contains("label 12"), "{e}");
    let e = message(parse_digits("1,2,3\n", p).unwrap_err());
    assert!(e.contains("3 fields"), "{e}");
    let e = message(parse_digits(&row("1").replace("3,", "17,"), p).unwrap_err());
    assert!(e.contains("pixel 17"), "{e}");
    assert!(parse_digits("", p).is_err());
}

#[test]
fn synthetic_mnist_root_loads_normalised() {
    let dir = temp_dir("root");
    synthetic_mnist_root(&dir, 30, 12, 6);
    let d = load(DatasetName::Mnist, &dir, 1).unwrap();
    assert_eq!((d.train.n, d.test.n, d.train.shape), (30, 12, [1, 6, 6]));
    assert_eq!(d.train.classes, 3);
    let (m, s) = d.train.pixel_stats();
    assert!(
        m.abs() < 1e-4 && (s - 1.0).abs() < 1e-3,
        "mean {m}, std {s}"
    );
    assert!(d.mean > 0.0 && d.mean < 1.0);
}

#[test]
fn shared_digits_split_is_seeded_when_present() {
    let root = mast_nn::data::default_data_root(Path::new(env!("CARGO_MANIFEST_DIR")));
    if !root.join("images/sklearn-digits/digits.csv.gz").exists() {
        eprintln!("shared data not found at {}: skipped", root.display());
        return;
    }
    let a = load(DatasetName::Digits, &root, 3).unwrap();
    let b = load(DatasetName::Digits, &root, 3).unwrap();
    let c = load(DatasetName::Digits, &root, 4).unwrap();
    assert_eq!((a.train.n, a.test.n), (1348, 449));
    assert_eq!(a.test.labels, b.test.labels);
    assert_ne!(a.test.labels, c.test.labels);
    assert_eq!(a.train.classes, 10);
}

#[test]
fn batches_cover_every_row_once_per_epoch() {
    let mut b = Batches::new(10, 4).unwrap();
    assert_eq!(b.per_epoch(), 3);
    let mut rng = mast::rng::stream(1, mast::rng::Stream::Data);
    let e1: Vec<Vec<usize>> = b.epoch(&mut rng).map(|c| c.to_vec()).collect();
    assert_eq!(e1.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
    let mut all: Vec<usize> = e1.concat();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    let e2: Vec<usize> = b.epoch(&mut rng).flat_map(|c| c.to_vec()).collect();
    assert_ne!(e1.concat(), e2, "each epoch reshuffles");
    assert!(Batches::new(0, 4).is_err() && Batches::new(5, 0).is_err());
}
