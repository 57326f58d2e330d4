//! Seeded synthetic data: dense Gaussian features with a planted model.

use rand::Rng;

use super::{Dataset, DenseMatrix, Design};
use crate::rng::{stream, Stream};

/// Draws a standard normal (Box–Muller; two uniforms per draw, deterministic).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    loop {
        let u: f64 = rng.random();
        if u > 0.0 {
            let v: f64 = rng.random();
            return (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        }
    }
}

/// What the planted labels look like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Task {
    /// `b = sign(aᵀx* + noise)` in {−1, +1}.
    Classification,
    /// `b = aᵀx* + noise`.
    Regression,
}

/// Dense synthetic data: `n × d` features N(0, 1/d) per entry (rows of norm ≈ 1),
/// a planted model `x* ~ N(0, I)`, labels by `task` with Gaussian noise of std `noise`.
///
/// ```
/// use mast::data::synthetic::{gaussian_planted, Task};
/// let ds = gaussian_planted(100, 5, 0.1, Task::Classification, 1);
/// assert_eq!(ds.n_samples(), 100);
/// assert!(ds.labels.iter().all(|&b| b == 1.0 || b == -1.0));
/// ```
pub fn gaussian_planted(n: usize, d: usize, noise: f64, task: Task, seed: u64) -> Dataset {
    let mut rng = stream(seed, Stream::Synthetic);
    let scale = 1.0 / (d as f64).sqrt();
    let planted: Vec<f64> = (0..d).map(|_| standard_normal(&mut rng)).collect();
    let mut data = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let start = data.len();
        for _ in 0..d {
            data.push(scale * standard_normal(&mut rng));
        }
        let m = crate::linalg::dot(&data[start..], &planted) + noise * standard_normal(&mut rng);
        labels.push(match task {
            Task::Classification => {
                if m >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            }
            Task::Regression => m,
        });
    }
    Dataset::new(
        "synthetic",
        Design::Dense(DenseMatrix::from_row_major(n, d, data)),
        labels,
    )
}

/// Sparse synthetic binary data shaped like a5a: each row has `nnz_per_row` ones at
/// uniformly random distinct columns; labels from a planted model.
pub fn sparse_binary_planted(n: usize, d: usize, nnz_per_row: usize, seed: u64) -> Dataset {
    assert!(nnz_per_row <= d);
    let mut rng = stream(seed, Stream::Synthetic);
    let planted: Vec<f64> = (0..d).map(|_| standard_normal(&mut rng)).collect();
    let mut indptr = vec![0usize];
    let mut indices = Vec::with_capacity(n * nnz_per_row);
    let mut labels = Vec::with_capacity(n);
    let mut row: Vec<u32> = Vec::with_capacity(nnz_per_row);
    for _ in 0..n {
        row.clear();
        while row.len() < nnz_per_row {
            let j = rng.random_range(0..d as u32);
            if !row.contains(&j) {
                row.push(j);
            }
        }
        row.sort_unstable();
        let m: f64 =
            row.iter().map(|&j| planted[j as usize]).sum::<f64>() / (nnz_per_row as f64).sqrt();
        labels.push(if m + 0.1 * standard_normal(&mut rng) >= 0.0 {
            1.0
        } else {
            -1.0
        });
        indices.extend_from_slice(&row);
        indptr.push(indices.len());
    }
    let values = vec![1.0; indices.len()];
    Dataset::new(
        "synthetic-sparse",
        Design::Sparse(super::CsrMatrix::new(n, d, indptr, indices, values)),
        labels,
    )
}
