//! Helpers shared by the integration tests: tiny synthetic data, temp folders,
//! IDX writers.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use mast_nn::data::ImageSet;
use rand::{Rng, SeedableRng};

/// A fresh temporary folder (removed first if it exists).
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mast-nn-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` images `h × w` of `classes` classes: each class lights up its own band of
/// rows, plus uniform noise; returns raw u8 pixels and labels.
pub fn synthetic_u8(n: usize, h: usize, w: usize, classes: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut px = Vec::with_capacity(n * h * w);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = (i % classes) as u8;
        labels.push(c);
        for r in 0..h {
            for _ in 0..w {
                let band = r * classes / h == c as usize;
                let base = if band { 160.0 } else { 20.0 };
                px.push((base + rng.random_range(0.0..90.0f64)) as u8);
            }
        }
    }
    (px, labels)
}

/// A normalised synthetic set (see [`synthetic_u8`]).
pub fn synthetic_set(n: usize, h: usize, w: usize, classes: usize, seed: u64) -> ImageSet {
    let (px, labels) = synthetic_u8(n, h, w, classes, seed);
    let mut s = ImageSet::from_u8(&px, labels, [1, h, w], 255.0).unwrap();
    s.classes = classes;
    let (m, sd) = s.pixel_stats();
    s.normalise(m, sd);
    s
}

/// IDX image bytes.
pub fn idx_images(n: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(2051u32.to_be_bytes());
    for d in [n, rows, cols] {
        b.extend((d as u32).to_be_bytes());
    }
    b.extend_from_slice(pixels);
    b
}

/// IDX label bytes.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(2049u32.to_be_bytes());
    b.extend((labels.len() as u32).to_be_bytes());
    b.extend_from_slice(labels);
    b
}

/// Writes `bytes` gzipped to `path`.
pub fn write_gz(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

/// Writes a synthetic MNIST-like data root (`images/mnist/*.gz`) with `n_train`
/// and `n_test` images of `size × size` and 3 classes.
pub fn synthetic_mnist_root(dir: &Path, n_train: usize, n_test: usize, size: usize) {
    let m = dir.join("images").join("mnist");
    for (prefix, n, seed) in [("train", n_train, 1), ("t10k", n_test, 2)] {
        let (px, lb) = synthetic_u8(n, size, size, 3, seed);
        write_gz(
            &m.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &idx_images(n, size, size, &px),
        );
        write_gz(
            &m.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            &idx_labels(&lb),
        );
    }
}
