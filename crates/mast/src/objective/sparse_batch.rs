//! The linear model's sketched gradient on one minibatch of a sparse design:
//! margins, then the scatter of the loss derivatives onto the support Ω.

use crate::data::CsrMatrix;

/// One minibatch of a sparse design against one sketch draw: the two sparse
/// passes of the linear model's sketched gradient (margins, then the scatter of
/// the loss derivatives onto Ω). The dense buffers it uses are all-zero between
/// calls (off the current support) and left that way.
pub(super) struct SparseBatch<'a> {
    pub sp: &'a CsrMatrix,
    pub batch: &'a [usize],
    /// `A v` (empty when v = 0).
    pub av: &'a [f64],
    /// Ω, increasing.
    pub idx: &'a [usize],
    /// `u_k = c_k (x_j − v_j)` on Ω.
    pub u: &'a [f64],
}

impl SparseBatch<'_> {
    /// Whether d is small against the batch's nonzeros: then the scatter adds
    /// every nonzero unmasked into two buffers and clears them whole afterwards,
    /// cheaper than a mask read per nonzero.
    fn unmasked(&self, d: usize) -> bool {
        Self::dense_scatter_pays(self.sp, self.batch, d)
    }

    /// [`SparseBatch::unmasked`] for a design, a batch and d.
    pub fn dense_scatter_pays(sp: &CsrMatrix, batch: &[usize], d: usize) -> bool {
        let avg_row = sp.nnz() / sp.n_rows().max(1);
        d <= 2 * batch.len() * avg_row.max(1)
    }

    /// `m_i = a_iᵀv + a_iᵀ S(x − v)` for the batch's rows; sets `w` to u on Ω.
    pub fn margins(&self, w: &mut [f64], m: &mut [f64]) {
        for (&j, &uk) in self.idx.iter().zip(self.u) {
            w[j] = uk;
        }
        // With indicator features (every a_ij = 1) the values need not be read.
        let binary = self.sp.is_binary();
        for (&i, mi) in self.batch.iter().zip(m.iter_mut()) {
            let (ix, vx) = self.sp.row(i);
            let base = if self.av.is_empty() { 0.0 } else { self.av[i] };
            *mi = base
                + if binary {
                    gather_sum(ix, w)
                } else {
                    gather_dot(ix, &vx[..ix.len()], w)
                };
        }
    }

    /// `out_k = Σ_i r_i a_{i j_k}` on Ω, then clears the buffers `[w, y, g]` (y
    /// and g are d-sized scratch; `poisoned` says a non-finite r may have spread NaN to
    /// them off Ω, so they are cleared whole).
    pub fn gradient(&self, r: &[f64], bufs: [&mut [f64]; 3], out: &mut [f64], poisoned: bool) {
        let [w, y, g] = bufs;
        let d = g.len();
        let binary = self.sp.is_binary();
        let unmasked = self.unmasked(d);
        if unmasked {
            // Even rows into g, odd rows into y: two independent chains of
            // read-add-writes where rows share features.
            for (pair, rp) in self.batch.chunks(2).zip(r.chunks(2)) {
                for (t, (&i, &ri)) in pair.iter().zip(rp).enumerate() {
                    let acc: &mut [f64] = if t == 0 { &mut *g } else { &mut *y };
                    let (ix, vx) = self.sp.row(i);
                    if binary {
                        for &j in ix {
                            acc[j as usize] += ri;
                        }
                    } else {
                        for (&j, &a) in ix.iter().zip(vx) {
                            acc[j as usize] += ri * a;
                        }
                    }
                }
            }
            for (o, &j) in out.iter_mut().zip(self.idx) {
                *o = g[j] + y[j];
            }
            g.iter_mut().for_each(|t| *t = 0.0);
            y.iter_mut().for_each(|t| *t = 0.0);
        } else {
            // Branch-free: y is 1 on Ω and 0 elsewhere, so g gains exactly
            // r_i a_ij on Ω and stays 0 off it (a branch on Ω would be
            // mispredicted for about half the nonzeros).
            for &j in self.idx {
                y[j] = 1.0;
            }
            for (&i, &ri) in self.batch.iter().zip(r) {
                let (ix, vx) = self.sp.row(i);
                if binary {
                    for &j in ix {
                        let j = j as usize;
                        g[j] += ri * y[j];
                    }
                } else {
                    for (&j, &a) in ix.iter().zip(vx) {
                        let j = j as usize;
                        g[j] += ri * a * y[j];
                    }
                }
            }
            for (o, &j) in out.iter_mut().zip(self.idx) {
                *o = g[j];
                g[j] = 0.0;
                y[j] = 0.0;
            }
            if poisoned {
                g.iter_mut().for_each(|t| *t = 0.0);
            }
        }
        for &j in self.idx {
            w[j] = 0.0;
        }
    }
}

/// Σ_p w\[ix_p\] with four partial sums (so four loads and adds are in flight, not
/// a chain of dependent adds), combined as (s0 + s1) + (s2 + s3).
#[inline]
fn gather_sum(ix: &[u32], w: &[f64]) -> f64 {
    let mut s = [0.0f64; 4];
    let mut chunks = ix.chunks_exact(4);
    for c in &mut chunks {
        s[0] += w[c[0] as usize];
        s[1] += w[c[1] as usize];
        s[2] += w[c[2] as usize];
        s[3] += w[c[3] as usize];
    }
    for (t, &j) in chunks.remainder().iter().enumerate() {
        s[t] += w[j as usize];
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// Σ_p a_p w\[ix_p\], four partial sums as in [`gather_sum`].
#[inline]
fn gather_dot(ix: &[u32], a: &[f64], w: &[f64]) -> f64 {
    let mut s = [0.0f64; 4];
    let a = &a[..ix.len()];
    let mut ci = ix.chunks_exact(4);
    let mut ca = a.chunks_exact(4);
    for (c, v) in (&mut ci).zip(&mut ca) {
        s[0] += v[0] * w[c[0] as usize];
        s[1] += v[1] * w[c[1] as usize];
        s[2] += v[2] * w[c[2] as usize];
        s[3] += v[3] * w[c[3] as usize];
    }
    for (t, (&j, &v)) in ci.remainder().iter().zip(ca.remainder()).enumerate() {
        s[t] += v * w[j as usize];
    }
    (s[0] + s[1]) + (s[2] + s[3])
}
