//! Image data: IDX (MNIST, Fashion-MNIST) and the 8×8 digits CSV, normalisation,
//! seeded shuffling and minibatches.
//!
//! Data is found under a root folder (by default `../shared/data` relative to the
//! project root, see [`default_data_root`]) in `images/mnist/`,
//! `images/fashion-mnist/` and `images/sklearn-digits/`.

pub mod digits;
pub mod idx;

use std::path::{Path, PathBuf};

use rand::Rng;

use crate::error::{NnError, Result};

/// The data sets this crate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// MNIST handwritten digits (60,000 train / 10,000 test, 28×28).
    Mnist,
    /// Fashion-MNIST (60,000 train / 10,000 test, 28×28).
    FashionMnist,
    /// scikit-learn's 8×8 digits (1,797 images; a seeded quarter is the test set).
    Digits,
}

impl DatasetName {
    /// The name used in configs.
    pub fn as_str(&self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Digits => "digits",
        }
    }
}

/// A set of labelled images, normalised, stored as `n` rows of `c·h·w` floats.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// Number of images.
    pub n: usize,
    /// `[channels, height, width]`.
    pub shape: [usize; 3],
    /// `n · c·h·w` pixel values (after normalisation).
    pub pixels: Vec<f32>,
    /// Class of each image, `0..classes`.
    pub labels: Vec<u8>,
    /// Number of classes.
    pub classes: usize,
}

impl ImageSet {
    /// Builds a set from raw u8 pixels scaled by `1/max_value` (to [0, 1]).
    pub fn from_u8(
        pixels: &[u8],
        labels: Vec<u8>,
        shape: [usize; 3],
        max_value: f32,
    ) -> Result<Self> {
        let dim = shape.iter().product::<usize>();
        if dim == 0 || pixels.len() != labels.len() * dim {
            return Err(NnError::param(
                "data",
                format!(
                    "{} pixels do not make {} images of {}×{}×{}",
                    pixels.len(),
                    labels.len(),
                    shape[0],
                    shape[1],
                    shape[2]
                ),
            ));
        }
        let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
        Ok(ImageSet {
            n: labels.len(),
            shape,
            pixels: pixels.iter().map(|&p| p as f32 / max_value).collect(),
            labels,
            classes,
        })
    }

    /// Features per image, `c·h·w`.
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }

    /// Mean and standard deviation of all pixel values.
    pub fn pixel_stats(&self) -> (f32, f32) {
        let n = self.pixels.len().max(1) as f64;
        let mean = self.pixels.iter().map(|&p| p as f64).sum::<f64>() / n;
        let var = self
            .pixels
            .iter()
            .map(|&p| (p as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean as f32, var.sqrt().max(1e-12) as f32)
    }

    /// `p ← (p − mean) / std` for every pixel.
    pub fn normalise(&mut self, mean: f32, std: f32) {
        for p in &mut self.pixels {
            *p = (*p - mean) / std;
        }
    }

    /// The first `n` images (all if `n ≥ self.n`).
    pub fn head(&self, n: usize) -> ImageSet {
        let n = n.min(self.n);
        let d = self.dim();
        ImageSet {
            n,
            shape: self.shape,
            pixels: self.pixels[..n * d].to_vec(),
            labels: self.labels[..n].to_vec(),
            classes: self.classes,
        }
    }

    /// The images at `rows`, in that order.
    pub fn subset(&self, rows: &[usize]) -> ImageSet {
        let d = self.dim();
        let mut pixels = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            pixels.extend_from_slice(&self.pixels[r * d..(r + 1) * d]);
        }
        ImageSet {
            n: rows.len(),
            shape: self.shape,
            pixels,
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
            classes: self.classes,
        }
    }

    /// Copies the pixels and labels of `rows` into `x` (`rows.len() · dim`) and `y`.
    pub fn gather(&self, rows: &[usize], x: &mut Vec<f32>, y: &mut Vec<u8>) {
        let d = self.dim();
        x.clear();
        y.clear();
        for &r in rows {
            x.extend_from_slice(&self.pixels[r * d..(r + 1) * d]);
            y.push(self.labels[r]);
        }
    }
}

/// A training set and a test set, normalised with the training set's pixel statistics.
#[derive(Debug, Clone)]
pub struct TrainTest {
    /// Training images.
    pub train: ImageSet,
    /// Test images.
    pub test: ImageSet,
    /// The pixel mean used for normalisation (of the training set, in [0, 1] units).
    pub mean: f32,
    /// The pixel standard deviation used for normalisation.
    pub std: f32,
}

impl TrainTest {
    /// Normalises both sets with the training set's mean and standard deviation.
    pub fn new(mut train: ImageSet, mut test: ImageSet) -> Result<Self> {
        if train.shape != test.shape {
            return Err(NnError::param(
                "data",
                format!(
                    "train images are {:?} but test images are {:?}",
                    train.shape, test.shape
                ),
            ));
        }
        let classes = train.classes.max(test.classes);
        train.classes = classes;
        test.classes = classes;
        let (mean, std) = train.pixel_stats();
        train.normalise(mean, std);
        test.normalise(mean, std);
        Ok(TrainTest {
            train,
            test,
            mean,
            std,
        })
    }
}

/// The project's shared data folder: `../shared/data` relative to the project root
/// (the nearest ancestor of `start` whose `Cargo.toml` declares a `[workspace]`).
/// Falls back to `../shared/data` relative to `start` itself.
pub fn default_data_root(start: &Path) -> PathBuf {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            if text.contains("[workspace]") {
                return dir.join("..").join("shared").join("data");
            }
        }
    }
    start.join("..").join("shared").join("data")
}

fn idx_set(dir: &Path, prefix: &str) -> Result<ImageSet> {
    let images = dir.join(format!("{prefix}-images-idx3-ubyte.gz"));
    let labels = dir.join(format!("{prefix}-labels-idx1-ubyte.gz"));
    let (im, lb) = idx::read_pair(&images, &labels)?;
    ImageSet::from_u8(&im.pixels, lb, [1, im.rows, im.cols], 255.0)
}

/// Loads a data set from `root` (the folder holding `images/`), normalised.
///
/// Digits has no official test split: a seeded quarter (stream `Split` of `seed`)
/// is held out as the test set.
pub fn load(name: DatasetName, root: &Path, seed: u64) -> Result<TrainTest> {
    let images = root.join("images");
    match name {
        DatasetName::Mnist | DatasetName::FashionMnist => {
            let dir = images.join(name.as_str());
            TrainTest::new(idx_set(&dir, "train")?, idx_set(&dir, "t10k")?)
        }
        DatasetName::Digits => {
            let path = images.join("sklearn-digits").join("digits.csv.gz");
            let (pixels, labels) = digits::read_digits(&path)?;
            let all = ImageSet::from_u8(&pixels, labels, [1, 8, 8], 16.0)?;
            let mut rows: Vec<usize> = (0..all.n).collect();
            shuffle(
                &mut rows,
                &mut mast::rng::stream(seed, mast::rng::Stream::Split),
            );
            let n_test = all.n / 4;
            let (test, train) = rows.split_at(n_test);
            TrainTest::new(all.subset(train), all.subset(test))
        }
    }
}

/// Fisher–Yates shuffle with the given generator.
pub fn shuffle<R: Rng + ?Sized>(items: &mut [usize], rng: &mut R) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

/// Seeded epoch-wise minibatches: every epoch is a fresh permutation of the rows
/// (drawn from one generator, so epoch k's order depends only on the seed),
/// cut into batches of `batch` rows (the last one may be smaller).
#[derive(Debug, Clone)]
pub struct Batches {
    order: Vec<usize>,
    batch: usize,
}

impl Batches {
    /// A batcher over `n` rows.
    pub fn new(n: usize, batch: usize) -> Result<Self> {
        if batch == 0 || n == 0 {
            return Err(NnError::param(
                "batch",
                format!("need at least one row and a batch ≥ 1 (n = {n}, batch = {batch})"),
            ));
        }
        Ok(Batches {
            order: (0..n).collect(),
            batch,
        })
    }

    /// Reshuffles for a new epoch and returns its batches of row indices.
    pub fn epoch<R: Rng + ?Sized>(&mut self, rng: &mut R) -> std::slice::Chunks<'_, usize> {
        shuffle(&mut self.order, rng);
        self.order.chunks(self.batch)
    }

    /// Reshuffles for a new epoch (what [`Batches::epoch`] does, without the batches).
    pub fn reshuffle<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        shuffle(&mut self.order, rng);
    }

    /// A batcher that continues from `order` (what [`Batches::order`] returned),
    /// e.g. after a checkpoint: the next [`Batches::epoch`] shuffles this order.
    pub fn with_order(order: Vec<usize>, batch: usize) -> Result<Self> {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        if batch == 0 || order.is_empty() || sorted.iter().enumerate().any(|(i, &k)| i != k) {
            return Err(NnError::param(
                "batch",
                format!(
                    "a saved batch order must be a permutation of 0..n with a batch ≥ 1 (n = {}, batch = {batch})",
                    order.len()
                ),
            ));
        }
        Ok(Batches { order, batch })
    }

    /// The current row order (the last epoch's shuffle).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The `k`-th batch of the current order.
    pub fn batch(&self, k: usize) -> &[usize] {
        let start = (k * self.batch).min(self.order.len());
        &self.order[start..(start + self.batch).min(self.order.len())]
    }

    /// Number of batches per epoch.
    pub fn per_epoch(&self) -> usize {
        self.order.len().div_ceil(self.batch)
    }
}
