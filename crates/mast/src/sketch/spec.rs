use std::fmt;
use std::str::FromStr;

use super::{Bernoulli, DropConnect, Identity, PermK, RandK, Sketch};
use crate::error::{MastError, Result};

/// A sketch named in a config or on the command line:
///
/// | text | sketch |
/// |---|---|
/// | `identity` | no sparsification |
/// | `bernoulli:0.5` | keep each coordinate with probability 0.5 (KEEP, not drop) |
/// | `rand-k:0.3` or `rand-k:q=0.3` | keep a fraction q = K/d (a number with a `.`) |
/// | `rand-k:12` or `rand-k:k=12` | keep exactly K = 12 coordinates (a whole number) |
/// | `perm-k:4` | Perm-K over 4 nodes (for Algorithm 1: one node's block) |
/// | `dropconnect:0.5` | the biased baseline: keep with probability 0.5, NO 1/p rescaling |
///
/// ```
/// use mast::sketch::SketchSpec;
/// let s: SketchSpec = "rand-k:0.3".parse().unwrap();
/// assert_eq!(s, SketchSpec::RandKFraction(0.3));
/// assert_eq!(s.build(10).unwrap().expected_kept(), 3.0);
/// assert!("bernoulli:1.5".parse::<SketchSpec>().unwrap().build(10).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SketchSpec {
    /// `S = I`.
    Identity,
    /// Bernoulli with one keep probability.
    Bernoulli(f64),
    /// Rand-K with K given.
    RandKCount(usize),
    /// Rand-K with q = K/d given.
    RandKFraction(f64),
    /// Perm-K over M nodes.
    PermK(usize),
    /// Unscaled Bernoulli masks (biased baseline) with this keep probability.
    DropConnect(f64),
}

impl SketchSpec {
    /// Builds the sketch in dimension `d`, validating its parameters.
    pub fn build(&self, d: usize) -> Result<Box<dyn Sketch>> {
        Ok(match *self {
            SketchSpec::Identity => Box::new(Identity::new(d)),
            SketchSpec::Bernoulli(p) => Box::new(Bernoulli::new(d, p)?),
            SketchSpec::RandKCount(k) => Box::new(RandK::new(d, k)?),
            SketchSpec::RandKFraction(q) => Box::new(RandK::with_fraction(d, q)?),
            SketchSpec::PermK(m) => Box::new(PermK::new(d, m)?),
            SketchSpec::DropConnect(p) => Box::new(DropConnect::new(d, p)?),
        })
    }
}

impl FromStr for SketchSpec {
    type Err = MastError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |msg: String| MastError::param("sketch", msg);
        let s = s.trim();
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
            None => (s.to_ascii_lowercase(), None),
        };
        let missing = || bad(format!("`{s}` needs a parameter, e.g. `{kind}:0.5`"));
        let num = |a: &str| {
            a.parse::<f64>()
                .map_err(|_| bad(format!("`{a}` in `{s}` is not a number")))
        };
        match kind.as_str() {
            "identity" | "none" => match arg {
                None => Ok(SketchSpec::Identity),
                Some(a) => Err(bad(format!("`identity` takes no parameter, got `{a}`"))),
            },
            "bernoulli" | "dropconnect" | "drop-connect" => {
                let a = arg.ok_or_else(missing)?;
                let a = a.strip_prefix("p=").or(a.strip_prefix("keep_prob=")).unwrap_or(a);
                if kind == "bernoulli" {
                    Ok(SketchSpec::Bernoulli(num(a)?))
                } else {
                    Ok(SketchSpec::DropConnect(num(a)?))
                }
            }
            "dropout" => Err(bad(format!(
                "`{s}` is ambiguous: use `bernoulli:P` (keep probability P, rescaled by 1/P: the \
                 unbiased MAST sketch) or `dropconnect:P` (keep probability P, unscaled: the biased baseline)"
            ))),
            "rand-k" | "randk" | "rand_k" => {
                let a = arg.ok_or_else(missing)?;
                if let Some(q) = a.strip_prefix("q=") {
                    Ok(SketchSpec::RandKFraction(num(q)?))
                } else if let Some(k) = a.strip_prefix("k=") {
                    k.parse()
                        .map(SketchSpec::RandKCount)
                        .map_err(|_| bad(format!("K = `{k}` in `{s}` is not a whole number")))
                } else if a.contains('.') || a.contains('e') {
                    Ok(SketchSpec::RandKFraction(num(a)?))
                } else {
                    a.parse()
                        .map(SketchSpec::RandKCount)
                        .map_err(|_| bad(format!("`{a}` in `{s}` is neither a fraction nor a count")))
                }
            }
            "perm-k" | "permk" | "perm_k" => {
                let a = arg.ok_or_else(missing)?;
                let a = a.strip_prefix("m=").unwrap_or(a);
                a.parse()
                    .map(SketchSpec::PermK)
                    .map_err(|_| bad(format!("node count `{a}` in `{s}` is not a whole number")))
            }
            _ => Err(bad(format!(
                "unknown sketch `{s}`: use identity, bernoulli:P, rand-k:Q (fraction) or rand-k:k=K, perm-k:M, dropconnect:P"
            ))),
        }
    }
}

impl fmt::Display for SketchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SketchSpec::Identity => write!(f, "identity"),
            SketchSpec::Bernoulli(p) => write!(f, "bernoulli:{p}"),
            SketchSpec::RandKCount(k) => write!(f, "rand-k:k={k}"),
            SketchSpec::RandKFraction(q) => write!(f, "rand-k:q={q}"),
            SketchSpec::PermK(m) => write!(f, "perm-k:{m}"),
            SketchSpec::DropConnect(p) => write!(f, "dropconnect:{p}"),
        }
    }
}

impl TryFrom<String> for SketchSpec {
    type Error = MastError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<SketchSpec> for String {
    fn from(s: SketchSpec) -> String {
        s.to_string()
    }
}
