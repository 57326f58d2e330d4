use rand::RngCore;

use super::{Sketch, SketchDraw};
use crate::error::{MastError, Result};
use crate::rng::MastRng;

/// Gaussian sketch ("Gaussian dropout"): `S = Diag(ξ)` with `ξ_j ~ N(1, σ²)`
/// independent, so `E[S] = I` and `E[SᵀS] = (1 + σ²) I`.
///
/// `σ² = (1 − p)/p` gives the variance of a [`super::Bernoulli`] sketch with keep
/// probability p ([`Gaussian::matching_bernoulli`]). Every coordinate is kept (a
/// draw's support is all of `0..d`); the scales are unbounded, so
/// `L_S^max = sup λmax(SᵀS) = ∞` and the worst-case theory step does not apply:
/// runs with it take a constant step size.
///
/// Normal deviates come from the ziggurat method (Marsaglia & Tsang 2000, 256
/// layers; exact), in coordinate order (same seed, same draws).
///
/// ```
/// use mast::sketch::{Gaussian, Sketch};
/// let s = Gaussian::new(10, 1.0).unwrap();
/// assert_eq!((s.l_d(), s.mu_d()), (2.0, 2.0));
/// assert_eq!(Gaussian::matching_bernoulli(10, 0.5).unwrap().variance(), 1.0);
/// assert!(s.l_s_max().is_infinite());
/// ```
#[derive(Debug, Clone)]
pub struct Gaussian {
    d: usize,
    sigma2: f64,
}

impl Gaussian {
    /// `ξ_j ~ N(1, sigma2)` in dimension `d`; `sigma2` must be finite and > 0.
    pub fn new(d: usize, sigma2: f64) -> Result<Self> {
        if !(sigma2 > 0.0 && sigma2.is_finite()) {
            return Err(MastError::param(
                "sketch",
                format!("gaussian: the variance σ² must be finite and > 0, got {sigma2}"),
            ));
        }
        Ok(Gaussian { d, sigma2 })
    }

    /// The Gaussian sketch with the variance of Bernoulli(`keep_prob`):
    /// `σ² = (1 − p)/p` (p < 1).
    pub fn matching_bernoulli(d: usize, keep_prob: f64) -> Result<Self> {
        if !(keep_prob > 0.0 && keep_prob < 1.0) {
            return Err(MastError::param(
                "keep_prob",
                format!("must be in (0, 1) for a matching Gaussian, got {keep_prob}"),
            ));
        }
        Self::new(d, (1.0 - keep_prob) / keep_prob)
    }

    /// σ².
    pub fn variance(&self) -> f64 {
        self.sigma2
    }
}

/// A uniform in (0, 1]: 53 bits, never 0 (so its logarithm is finite).
fn open_uniform(rng: &mut MastRng) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Layers of the ziggurat.
const LAYERS: usize = 256;
/// Where the tail starts (Marsaglia & Tsang 2000, 256 layers).
const TAIL: f64 = 3.654_152_885_361_009;
/// The area of each layer (and of the base: the tail plus a rectangle).
const AREA: f64 = 0.004_928_673_233_99;

/// The ziggurat's layer edges `x_0 > x_1 = R > … > x_256 = 0` and the density
/// `f(x) = exp(−x²/2)` at them.
struct Ziggurat {
    x: [f64; LAYERS + 1],
    f: [f64; LAYERS + 1],
}

fn ziggurat() -> &'static Ziggurat {
    static TABLE: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let pdf = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; LAYERS + 1];
        x[0] = AREA / pdf(TAIL);
        x[1] = TAIL;
        for i in 1..LAYERS - 1 {
            x[i + 1] = (-2.0 * (AREA / x[i] + pdf(x[i])).ln()).sqrt();
        }
        x[LAYERS] = 0.0;
        let mut f = [0.0; LAYERS + 1];
        for i in 0..=LAYERS {
            f[i] = pdf(x[i]);
        }
        Ziggurat { x, f }
    })
}

/// A standard normal deviate by the ziggurat method (Marsaglia & Tsang 2000):
/// one generator output and a multiply for about 99% of the draws; exact.
#[inline]
fn standard_normal(rng: &mut MastRng, z: &Ziggurat) -> f64 {
    loop {
        let bits = rng.next_u64();
        let layer = (bits & 0xff) as usize;
        let negative = (bits >> 8) & 1 == 1;
        let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        let x = u * z.x[layer];
        let signed = |t: f64| if negative { -t } else { t };
        if x < z.x[layer + 1] {
            return signed(x);
        }
        if layer == 0 {
            // The tail beyond R (Marsaglia 1964).
            loop {
                let a = -open_uniform(rng).ln() / TAIL;
                let b = -open_uniform(rng).ln();
                if 2.0 * b > a * a {
                    return signed(TAIL + a);
                }
            }
        }
        // The wedge between the layer's rectangle and the density.
        let v = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        if z.f[layer + 1] + v * (z.f[layer] - z.f[layer + 1]) < (-0.5 * x * x).exp() {
            return signed(x);
        }
    }
}

impl Sketch for Gaussian {
    fn dim(&self) -> usize {
        self.d
    }

    fn spec(&self) -> String {
        format!("gaussian:{}", self.sigma2)
    }

    fn draw(&self, rng: &mut MastRng, out: &mut SketchDraw) {
        out.clear();
        out.indices.extend(0..self.d);
        out.scales.reserve(self.d);
        let sigma = self.sigma2.sqrt();
        let table = ziggurat();
        let mut local = rng.clone();
        out.scales
            .extend((0..self.d).map(|_| 1.0 + sigma * standard_normal(&mut local, table)));
        *rng = local;
    }

    fn second_moment(&self, j: usize, l: usize) -> f64 {
        if j == l {
            1.0 + self.sigma2
        } else {
            1.0
        }
    }

    fn l_s_max(&self) -> f64 {
        f64::INFINITY
    }

    fn expected_kept(&self) -> f64 {
        self.d as f64
    }

    fn enumerate(&self) -> Option<Vec<(f64, SketchDraw)>> {
        None
    }
}

/// The recipe of `gaussian:S2` / `gaussian:p=P`.
#[derive(Debug)]
pub(crate) struct GaussianRecipe {
    sigma2: f64,
}

impl super::registry::SketchRecipe for GaussianRecipe {
    fn spec(&self) -> String {
        format!("gaussian:{}", self.sigma2)
    }
    fn build(&self, ctx: &super::registry::SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        Ok(Box::new(Gaussian::new(ctx.dim, self.sigma2)?))
    }
}

/// Parses `gaussian:S2` (the variance σ²) or `gaussian:p=P` (σ² = (1 − P)/P).
pub(crate) fn parse(
    a: &super::registry::SketchArgs<'_>,
) -> Result<Box<dyn super::registry::SketchRecipe>> {
    let v = a.required()?;
    let sigma2 = match v
        .strip_prefix("p=")
        .or_else(|| v.strip_prefix("keep_prob="))
    {
        Some(p) => {
            let p = a.number(p)?;
            if !(p > 0.0 && p < 1.0) {
                return Err(a.error(format!(
                    "`{}`: the matching keep probability must be in (0, 1), got {p}",
                    a.text
                )));
            }
            (1.0 - p) / p
        }
        None => a.number(a.strip_key(v, &["sigma2", "var"]))?,
    };
    Gaussian::new(1, sigma2)?;
    Ok(Box::new(GaussianRecipe { sigma2 }))
}
