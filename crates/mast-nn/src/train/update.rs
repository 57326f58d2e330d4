//! The SGD update of a step: on the kept parts of a neuron-level step, and on the
//! host in place for CPU runs (fused with the weight masks), with the same f32
//! results as burn's tensor operations.

use burn::tensor::{DType, IndexingUpdateOp, Int, Tensor, TensorData};

/// Learning rate, momentum and weight decay of an SGD step.
#[derive(Debug, Clone, Copy)]
pub(super) struct HyperParams {
    pub(super) lr: f64,
    pub(super) mom: f64,
    pub(super) wd: f64,
}

/// The kept rows and columns of one parameter seen as `[rows, cols]` (`None`:
/// every row or column), as device index tensors and on the host.
#[derive(Debug, Clone, Copy)]
pub(super) struct Axes<'a> {
    pub(super) rows: Option<(&'a Tensor<1, Int>, &'a [usize])>,
    pub(super) cols: Option<(&'a Tensor<1, Int>, &'a [usize])>,
    /// Gather and scatter f32 tensors on the host (CPU backend): burn flex's
    /// `select` along dimension 1 moves one bounds-checked element at a time.
    pub(super) host: bool,
}

impl Axes<'_> {
    pub(super) fn on_host(&self, t: &Tensor<2>) -> bool {
        self.host && t.dtype() == DType::F32
    }

    /// `w` `[rows, cols]` itself and its kept part. On the host, `w` is rebuilt from
    /// its data without a copy where it was the only handle on it.
    pub(super) fn gather(&self, w: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        if self.on_host(&w) {
            return self.gather_host(w);
        }
        let mut part = w.clone();
        if let Some((r, _)) = self.rows {
            part = part.select(0, r.clone());
        }
        if let Some((c, _)) = self.cols {
            part = part.select(1, c.clone());
        }
        (w, part)
    }

    pub(super) fn gather_host(&self, w: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [_, c] = w.dims();
        let device = w.device();
        let data = w.into_data();
        let src: &[f32] = data.as_slice().expect("an f32 tensor");
        let all_rows: Vec<usize>;
        let rows = match self.rows {
            Some((_, r)) => r,
            None => {
                all_rows = (0..src.len() / c.max(1)).collect();
                &all_rows
            }
        };
        let nc = self.cols.map_or(c, |(_, k)| k.len());
        let mut out = Vec::with_capacity(rows.len() * nc);
        for &i in rows {
            let row = &src[i * c..(i + 1) * c];
            match self.cols {
                Some((_, cols)) => out.extend(cols.iter().map(|&j| row[j])),
                None => out.extend_from_slice(row),
            }
        }
        let part = Tensor::from_data(TensorData::new(out, [rows.len(), nc]), &device);
        (Tensor::from_data(data, &device), part)
    }

    /// Adds `gk` (the gradient of the kept part) into the kept rows and columns of
    /// `base` in place, so the result is `base + g` for the full gradient `g` (zero
    /// off the kept entries), entry by entry exactly as a dense add.
    pub(super) fn add(&self, base: Tensor<2>, gk: Tensor<2>) -> Tensor<2> {
        if self.on_host(&base) && self.on_host(&gk) {
            return self.add_host(base, gk);
        }
        match (self.rows, self.cols) {
            (None, None) => base + gk,
            (None, Some((c, _))) => base.select_assign(1, c.clone(), gk, IndexingUpdateOp::Add),
            (Some((r, _)), None) => base.select_assign(0, r.clone(), gk, IndexingUpdateOp::Add),
            (Some((r, _)), Some((c, _))) => {
                // The kept rows (contiguous copies), their kept columns updated, put back.
                let sub = base.clone().select(0, r.clone()).select_assign(
                    1,
                    c.clone(),
                    gk,
                    IndexingUpdateOp::Add,
                );
                base.select_assign(0, r.clone(), sub, IndexingUpdateOp::Assign)
            }
        }
    }

    pub(super) fn add_host(&self, base: Tensor<2>, gk: Tensor<2>) -> Tensor<2> {
        let [_, c] = base.dims();
        let device = base.device();
        let mut data = base.into_data();
        let g = gk.into_data();
        let g: &[f32] = g.as_slice().expect("an f32 tensor");
        let dst: &mut [f32] = data.as_mut_slice().expect("an f32 tensor");
        let nc = self.cols.map_or(c, |(_, k)| k.len());
        for (n, grow) in g.chunks_exact(nc.max(1)).enumerate() {
            let i = self.rows.map_or(n, |(_, rows)| rows[n]);
            let row = &mut dst[i * c..(i + 1) * c];
            match self.cols {
                Some((_, cols)) => cols.iter().zip(grow).for_each(|(&j, &v)| row[j] += v),
                None => row.iter_mut().zip(grow).for_each(|(d, &v)| *d += v),
            }
        }
        Tensor::from_data(data, &device)
    }
}

/// The SGD update of one parameter `x` (as `[rows, cols]`) whose gradient `g` is
/// zero off the kept entries and `gk` on them: `d = g + wd·x`; with momentum
/// `v ← mom·v + d` (`v = d` on the first step) and `d = v`; `x ← x − lr·d`. Every
/// entry is computed with the same operations as the dense update in
/// [`Trainer::step`], without forming `g` where it can be avoided (see [`Axes::add`]).
pub(super) fn sgd_kept(
    x: Tensor<2>,
    vel: &mut Option<Tensor<1>>,
    axes: Axes<'_>,
    gk: Tensor<2>,
    hp: HyperParams,
) -> Tensor<2> {
    let shape = x.dims();
    let g_plus_decay = (hp.wd > 0.0).then(|| axes.add(x.clone().mul_scalar(hp.wd), gk.clone()));
    if hp.mom > 0.0 {
        let v = match (vel.take(), g_plus_decay) {
            (Some(v), Some(d)) => v.reshape(shape).mul_scalar(hp.mom) + d,
            (Some(v), None) => axes.add(v.reshape(shape).mul_scalar(hp.mom), gk),
            (None, Some(d)) => d,
            (None, None) => axes.add(Tensor::zeros(shape, &x.device()), gk),
        };
        *vel = Some(v.clone().reshape([shape[0] * shape[1]]));
        x - v.mul_scalar(hp.lr)
    } else {
        match g_plus_decay {
            Some(d) => x - d.mul_scalar(hp.lr),
            // x + (−lr·g) is x − lr·g exactly, and x where g = 0.
            None => axes.add(x, gk.mul_scalar(-hp.lr)),
        }
    }
}

/// The SGD update of one parameter `x` on the host, in place in its buffer, with
/// gradient `g` (`m ⊙ g` with a mask `m`): `d = g + wd·x`; with momentum
/// `v ← mom·v + d` (`v = d` on the first step, in `g`'s buffer) and `d = v`;
/// `x ← x − lr·d`. Entry by entry the same f32 operations as the tensor update in
/// [`Trainer::step`] (the scalars rounded to f32 as burn's flex backend does).
pub(super) fn sgd_host(
    x: Tensor<1>,
    vel: &mut Option<Tensor<1>>,
    g: Tensor<1>,
    m: Option<&[f32]>,
    hp: HyperParams,
) -> Tensor<1> {
    let device = x.device();
    let mut xd = x.into_data();
    let mut gd = g.into_data().convert::<f32>();
    let xs: &mut [f32] = xd.as_mut_slice().expect("an f32 tensor");
    let gs: &mut [f32] = gd.as_mut_slice().expect("an f32 gradient");
    let s = Scalars {
        lr: hp.lr as f32,
        mom: hp.mom as f32,
        wd: hp.wd as f32,
    };
    let momentum = hp.mom > 0.0;
    let mut vd = if momentum {
        vel.take().map(|v| v.into_data().convert::<f32>())
    } else {
        None
    };
    let vs: Option<&mut [f32]> = vd
        .as_mut()
        .map(|v| v.as_mut_slice().expect("an f32 velocity"));
    // One loop per case, so that each vectorises without branches.
    match (m, hp.wd > 0.0) {
        (Some(m), true) => sgd_wide::<true, true>(xs, gs, vs, m, momentum, s),
        (Some(m), false) => sgd_wide::<true, false>(xs, gs, vs, m, momentum, s),
        (None, true) => sgd_wide::<false, true>(xs, gs, vs, &[], momentum, s),
        (None, false) => sgd_wide::<false, false>(xs, gs, vs, &[], momentum, s),
    }
    if momentum {
        *vel = Some(Tensor::from_data(vd.unwrap_or(gd), &device));
    }
    Tensor::from_data(xd, &device)
}

/// Runs `f` compiled for AVX-512 or AVX2 where the CPU has them (selected at run
/// time), so that its element-wise loops use wide vectors. The same f32 results on
/// every path: separate IEEE multiplies and adds (Rust never fuses them).
#[inline(always)]
pub(super) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// The SGD scalars rounded to f32, as burn's flex backend rounds `mul_scalar`'s.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scalars {
    pub(super) lr: f32,
    pub(super) mom: f32,
    pub(super) wd: f32,
}

/// [`sgd_loop`] compiled for AVX-512 or AVX2 where the CPU has them (selected at
/// run time), with the same f32 results on every path.
fn sgd_wide<const MASK: bool, const DECAY: bool>(
    xs: &mut [f32],
    gs: &mut [f32],
    vs: Option<&mut [f32]>,
    m: &[f32],
    momentum: bool,
    s: Scalars,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<const MASK: bool, const DECAY: bool>(
            xs: &mut [f32],
            gs: &mut [f32],
            vs: Option<&mut [f32]>,
            m: &[f32],
            momentum: bool,
            s: Scalars,
        ) {
            sgd_loop::<MASK, DECAY>(xs, gs, vs, m, momentum, s)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<const MASK: bool, const DECAY: bool>(
            xs: &mut [f32],
            gs: &mut [f32],
            vs: Option<&mut [f32]>,
            m: &[f32],
            momentum: bool,
            s: Scalars,
        ) {
            sgd_loop::<MASK, DECAY>(xs, gs, vs, m, momentum, s)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { avx512::<MASK, DECAY>(xs, gs, vs, m, momentum, s) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { avx2::<MASK, DECAY>(xs, gs, vs, m, momentum, s) };
        }
    }
    sgd_loop::<MASK, DECAY>(xs, gs, vs, m, momentum, s)
}

/// The entries of [`sgd_host`]: `g ← m ⊙ g` (`MASK`), `g ← g + x·wd` (`DECAY`);
/// with momentum `v ← v·mom + g` into `vs`, or into `gs` on the first step (`vs`
/// absent); `x ← x − d·lr`. Separate multiplies and adds, no fused multiply-add.
#[inline(always)]
fn sgd_loop<const MASK: bool, const DECAY: bool>(
    xs: &mut [f32],
    gs: &mut [f32],
    vs: Option<&mut [f32]>,
    m: &[f32],
    momentum: bool,
    s: Scalars,
) {
    let n = xs.len();
    assert!(gs.len() == n && (!MASK || m.len() == n));
    let grad = |j: usize, g: f32, x: f32| {
        let g = if MASK { g * m[j] } else { g };
        if DECAY {
            g + x * s.wd
        } else {
            g
        }
    };
    match (momentum, vs) {
        (true, Some(vs)) => {
            assert!(vs.len() == n);
            for j in 0..n {
                let v = vs[j] * s.mom + grad(j, gs[j], xs[j]);
                vs[j] = v;
                xs[j] -= v * s.lr;
            }
        }
        (true, None) => {
            for j in 0..n {
                let v = grad(j, gs[j], xs[j]);
                gs[j] = v;
                xs[j] -= v * s.lr;
            }
        }
        (false, _) => {
            for j in 0..n {
                let d = grad(j, gs[j], xs[j]);
                xs[j] -= d * s.lr;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tensor_to_vec;
    use crate::train::cpu;

    /// The host gathers and scatters (CPU) equal the device ones (`select`,
    /// `select_assign`), for every combination of kept rows and columns.
    #[test]
    pub(super) fn host_and_device_gather_and_add_agree() {
        let dev = cpu();
        let (r, c) = (7, 9);
        let host_rows = vec![1usize, 2, 5];
        let host_cols = vec![0usize, 3, 4, 8];
        let idx = |v: &[usize]| {
            let v: Vec<i64> = v.iter().map(|&u| u as i64).collect();
            let n = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [n]), &dev)
        };
        let (rows_t, cols_t) = (idx(&host_rows), idx(&host_cols));
        let mat = |n: usize, m: usize, seed: usize| {
            let v: Vec<f32> = (0..n * m)
                .map(|i| ((i * 37 + seed * 11) % 23) as f32 * 0.25 - 2.0)
                .collect();
            Tensor::<2>::from_data(TensorData::new(v, [n, m]), &dev)
        };
        for (use_rows, use_cols) in [(false, false), (true, false), (false, true), (true, true)] {
            let axes = |host| Axes {
                rows: use_rows.then_some((&rows_t, host_rows.as_slice())),
                cols: use_cols.then_some((&cols_t, host_cols.as_slice())),
                host,
            };
            let (nr, nc) = (
                if use_rows { host_rows.len() } else { r },
                if use_cols { host_cols.len() } else { c },
            );
            let w = mat(r, c, 1);
            let (w_back, on_host) = axes(true).gather(w.clone());
            let (_, on_device) = axes(false).gather(w.clone());
            assert_eq!(on_host.dims(), [nr, nc]);
            assert_eq!(tensor_to_vec(on_host), tensor_to_vec(on_device));
            assert_eq!(tensor_to_vec(w_back), tensor_to_vec(w.clone()));
            let g = mat(nr, nc, 2);
            let on_host = tensor_to_vec(axes(true).add(w.clone(), g.clone()));
            let on_device = tensor_to_vec(axes(false).add(w.clone(), g));
            assert_eq!(on_host, on_device);
            assert_ne!(on_host, tensor_to_vec(w));
        }
    }

    /// The fused host update equals the tensor update of the dense step bit for
    /// bit: `g ← g ⊙ m`, `g ← g + wd·x`, `v ← mom·v + g` (or `v = g`), `x ← x − lr·v`.
    #[test]
    fn host_update_equals_the_tensor_update_bitwise() {
        let dev = cpu();
        let n = 1037; // not a multiple of any vector width
        let vec = |seed: u32| -> Vec<f32> {
            (0..n as u32)
                .map(|i| {
                    let h = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 10_007;
                    (h as f32 / 10_007.0 - 0.5) * 3.7
                })
                .collect()
        };
        let t = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [n]), &dev);
        let (x0, g0, v0) = (vec(1), vec(2), vec(3));
        let m: Vec<f32> = vec(4)
            .iter()
            .map(|&u| if u > 0.0 { 1.0 / 0.7 } else { 0.0 })
            .collect();
        for (mom, wd, masked, first) in [
            (0.9, 1e-4, true, false),
            (0.9, 1e-4, true, true),
            (0.0, 1e-4, true, false),
            (0.9, 0.0, false, false),
            (0.0, 0.0, false, true),
            (0.9, 0.0, true, true),
        ] {
            let hp = HyperParams {
                lr: 0.0213,
                mom,
                wd,
            };
            // The tensor update.
            let x = t(&x0);
            let mut g = t(&g0);
            if masked {
                g = g * t(&m);
            }
            if wd > 0.0 {
                g = g + x.clone().mul_scalar(wd);
            }
            let (d, v_want) = if mom > 0.0 {
                let v = if first { g } else { t(&v0).mul_scalar(mom) + g };
                (v.clone(), Some(tensor_to_vec(v)))
            } else {
                (g, None)
            };
            let x_want = tensor_to_vec(x - d.mul_scalar(hp.lr));
            // The host update.
            let mut vel = (!first && mom > 0.0).then(|| t(&v0));
            let x_got = sgd_host(t(&x0), &mut vel, t(&g0), masked.then_some(&m[..]), hp);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            let case = format!("mom {mom} wd {wd} masked {masked} first {first}");
            assert_eq!(bits(&tensor_to_vec(x_got)), bits(&x_want), "{case}: x");
            let v_got = vel.map(tensor_to_vec);
            assert_eq!(
                v_got.as_deref().map(bits),
                v_want.as_deref().map(bits),
                "{case}: v"
            );
        }
    }
}
