//! Small dense linear-algebra helpers; dense solves and eigenvalues go through faer.

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};

use crate::error::{MastError, Result};

/// `xᵀy`, summed left to right in four interleaved lanes (deterministic).
#[inline]
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = [0.0f64; 4];
    let (xc, xr) = x.split_at(x.len() - x.len() % 4);
    let (yc, yr) = y.split_at(xc.len());
    for (a, b) in xc.chunks_exact(4).zip(yc.chunks_exact(4)) {
        acc[0] += a[0] * b[0];
        acc[1] += a[1] * b[1];
        acc[2] += a[2] * b[2];
        acc[3] += a[3] * b[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
}

/// `y += a·x`.
#[inline]
pub fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    debug_assert_eq!(x.len(), y.len());
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Euclidean norm.
pub fn norm(x: &[f64]) -> f64 {
    dot(x, x).sqrt()
}

/// `‖x − y‖`.
pub fn dist(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

/// Largest eigenvalue of a symmetric PSD operator by power iteration, from a fixed
/// start vector; stops at relative change `tol` or `max_iter` iterations.
pub fn power_iteration(
    dim: usize,
    mut apply: impl FnMut(&[f64], &mut [f64]),
    tol: f64,
    max_iter: usize,
) -> f64 {
    if dim == 0 {
        return 0.0;
    }
    // A fixed, non-degenerate start: 1 + small deterministic perturbation.
    let mut x: Vec<f64> = (0..dim)
        .map(|i| 1.0 + 0.01 * ((i * 7919 % 101) as f64 / 101.0))
        .collect();
    let n0 = norm(&x);
    x.iter_mut().for_each(|v| *v /= n0);
    let mut y = vec![0.0; dim];
    let mut lambda = 0.0;
    for _ in 0..max_iter {
        apply(&x, &mut y);
        let new_lambda = dot(&x, &y);
        let ny = norm(&y);
        if ny == 0.0 {
            return 0.0;
        }
        for (xi, yi) in x.iter_mut().zip(&y) {
            *xi = yi / ny;
        }
        if (new_lambda - lambda).abs() <= tol * new_lambda.abs() {
            return new_lambda;
        }
        lambda = new_lambda;
    }
    lambda
}

/// A symmetric matrix stored densely (row-major, `d × d`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SymMatrix {
    /// Size.
    pub d: usize,
    /// Entries, row-major.
    pub data: Vec<f64>,
}

impl SymMatrix {
    /// The zero matrix.
    pub fn zeros(d: usize) -> Self {
        SymMatrix {
            d,
            data: vec![0.0; d * d],
        }
    }

    /// Builds from a function of (i, j).
    pub fn from_fn(d: usize, f: impl Fn(usize, usize) -> f64) -> Self {
        let mut m = SymMatrix::zeros(d);
        for i in 0..d {
            for j in 0..d {
                m.data[i * d + j] = f(i, j);
            }
        }
        m
    }

    /// Entry (i, j).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.d + j]
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.d..(i + 1) * self.d]
    }

    /// `out = M x`.
    pub fn matvec(&self, x: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = dot(self.row(i), x);
        }
    }

    fn to_faer(&self) -> Mat<f64> {
        Mat::from_fn(self.d, self.d, |i, j| self.get(i, j))
    }

    /// Solves `M x = b` by Cholesky (M must be symmetric positive definite).
    pub fn solve_spd(&self, b: &[f64]) -> Result<Vec<f64>> {
        if b.len() != self.d {
            return Err(MastError::Dimension(format!(
                "solve: matrix is {0}×{0}, right-hand side has {1}",
                self.d,
                b.len()
            )));
        }
        let llt = self.to_faer().llt(Side::Lower).map_err(|e| {
            MastError::Numerical(format!(
                "Cholesky failed (matrix not positive definite): {e:?}"
            ))
        })?;
        let mut rhs = Mat::from_fn(self.d, 1, |i, _| b[i]);
        llt.solve_in_place(&mut rhs);
        Ok((0..self.d).map(|i| rhs[(i, 0)]).collect())
    }

    /// Eigenvalues in nondecreasing order.
    pub fn eigenvalues(&self) -> Result<Vec<f64>> {
        self.to_faer()
            .self_adjoint_eigenvalues(Side::Lower)
            .map_err(|e| MastError::Numerical(format!("eigenvalue computation failed: {e:?}")))
    }
}

/// Asks the kernel to back the whole 2 MiB pages inside `s` with huge pages
/// (Linux `madvise(MADV_HUGEPAGE)`, where transparent huge pages are in
/// `madvise` mode; a no-op elsewhere, and for slices under 4 MiB). Large
/// d-vectors read at random positions (a sparse Ω in a step) then miss the TLB
/// far less. Pages not yet touched get huge pages when first written.
pub(crate) fn advise_huge_pages<T>(s: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(s);
        if bytes < 2 * HUGE {
            return;
        }
        let start = (s.as_mut_ptr() as usize).next_multiple_of(HUGE);
        let end = (s.as_mut_ptr() as usize + bytes) / HUGE * HUGE;
        if end > start {
            // SAFETY: [start, end) lies inside `s`'s allocation, and the advice
            // changes how the kernel backs the pages, not their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = s;
}

/// Hints the CPU to bring every 64-byte cache line of `s` into cache (a no-op off
/// x86-64).
#[inline]
pub(crate) fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(s);
        let p = s.as_ptr().cast::<i8>();
        let mut off = 0;
        while off < bytes {
            // SAFETY: SSE is part of the x86-64 baseline, and a prefetch is only a
            // hint: it reads nothing and never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(off)) };
            off += 64;
        }
        if bytes > 0 {
            // SAFETY: as above (the slice's last byte, whose line may be one more).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(bytes - 1)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}
