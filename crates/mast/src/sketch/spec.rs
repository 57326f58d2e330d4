use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::registry::{
    self, BernoulliRecipe, IdentityRecipe, PermKRecipe, RandKRecipe, SketchContext, SketchRecipe,
};
use super::Sketch;
use crate::error::{MastError, Result};

/// A sketch named in a config or on the command line, parsed by the sketch
/// [`registry`] (so a registered sketch of the user's is named like a built-in):
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
/// It prints as its canonical text (which parses back), serialises as that
/// text, and two specs are equal when their canonical texts are.
///
/// ```
/// use mast::sketch::SketchSpec;
/// let s: SketchSpec = "rand-k:0.3".parse().unwrap();
/// assert_eq!(s, SketchSpec::rand_k_fraction(0.3));
/// assert_eq!((s.kind(), s.keep_fraction()), ("rand-k", Some(0.3)));
/// assert_eq!(s.to_string(), "rand-k:q=0.3");
/// assert_eq!(s.build(10).unwrap().expected_kept(), 3.0);
/// assert!("bernoulli:1.5".parse::<SketchSpec>().unwrap().build(10).is_err());
/// ```
#[derive(Clone)]
pub struct SketchSpec {
    kind: &'static str,
    recipe: Arc<dyn SketchRecipe>,
}

impl SketchSpec {
    /// A spec from a recipe, under the registered name `kind`.
    pub fn from_recipe(kind: &'static str, recipe: impl SketchRecipe + 'static) -> Self {
        SketchSpec {
            kind,
            recipe: Arc::new(recipe),
        }
    }

    /// `S = I`.
    pub fn identity() -> Self {
        Self::from_recipe("identity", IdentityRecipe)
    }

    /// Bernoulli with keep probability `p` (checked when built).
    pub fn bernoulli(p: f64) -> Self {
        Self::from_recipe("bernoulli", BernoulliRecipe { p, scaled: true })
    }

    /// Rand-K keeping exactly `k` coordinates.
    pub fn rand_k(k: usize) -> Self {
        Self::from_recipe("rand-k", RandKRecipe::Count(k))
    }

    /// Rand-K keeping a fraction `q = K/d`.
    pub fn rand_k_fraction(q: f64) -> Self {
        Self::from_recipe("rand-k", RandKRecipe::Fraction(q))
    }

    /// Perm-K over `m` nodes.
    pub fn perm_k(m: usize) -> Self {
        Self::from_recipe("perm-k", PermKRecipe(m))
    }

    /// Unscaled Bernoulli masks (the biased DropConnect baseline) with keep
    /// probability `p`.
    pub fn dropconnect(p: f64) -> Self {
        Self::from_recipe("dropconnect", BernoulliRecipe { p, scaled: false })
    }

    /// `KIND:fraction` through the registry: the sketch `kind` keeping a
    /// fraction `q` of the coordinates (what the experiments' sparsity axes
    /// mean); an error when `kind` does not take a fraction.
    ///
    /// ```
    /// use mast::sketch::SketchSpec;
    /// assert_eq!(SketchSpec::with_fraction("bernoulli", 0.25).unwrap(), SketchSpec::bernoulli(0.25));
    /// assert_eq!(SketchSpec::with_fraction("rand-k", 0.5).unwrap(), SketchSpec::rand_k_fraction(0.5));
    /// assert!(SketchSpec::with_fraction("perm-k", 0.5).is_err());
    /// ```
    pub fn with_fraction(kind: &str, q: f64) -> Result<Self> {
        // `{q:?}` always has a `.` or an exponent, so `rand-k` reads a fraction.
        let spec: SketchSpec = format!("{kind}:{q:?}").parse()?;
        match spec.keep_fraction() {
            Some(_) => Ok(spec),
            None => Err(MastError::param(
                "sketch",
                format!("`{kind}` is not given by a kept fraction (got `{spec}`)"),
            )),
        }
    }

    /// Builds the sketch in dimension `d`, validating its parameters (a sketch
    /// derived from the data fails here: use [`SketchSpec::build_in`]).
    pub fn build(&self, d: usize) -> Result<Box<dyn Sketch>> {
        self.build_in(&SketchContext::new(d))
    }

    /// Builds the sketch in a context (the dimension, and the objective where
    /// the sketch is derived from the data).
    pub fn build_in(&self, ctx: &SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        self.recipe.build(ctx)
    }

    /// The registered name of its sketch (`bernoulli`, `rand-k`, …).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The (expected) kept fraction, where the spec fixes one (`bernoulli:P`,
    /// `rand-k:q=Q`, `dropconnect:P`, `identity`).
    pub fn keep_fraction(&self) -> Option<f64> {
        self.recipe.keep_fraction()
    }

    /// M of a joint sketch over M nodes (`perm-k:M`).
    pub fn nodes(&self) -> Option<usize> {
        self.recipe.nodes()
    }

    /// Whether this is `S = I`.
    pub fn is_identity(&self) -> bool {
        self.recipe.is_identity()
    }

    /// The parsed recipe.
    pub fn recipe(&self) -> &dyn SketchRecipe {
        self.recipe.as_ref()
    }
}

impl Default for SketchSpec {
    fn default() -> Self {
        SketchSpec::identity()
    }
}

impl PartialEq for SketchSpec {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.recipe.spec() == other.recipe.spec()
    }
}

impl fmt::Debug for SketchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SketchSpec({:?})", self.recipe.spec())
    }
}

impl FromStr for SketchSpec {
    type Err = MastError;

    fn from_str(s: &str) -> Result<Self> {
        let (kind, recipe) = registry::parse(s)?;
        Ok(SketchSpec {
            kind,
            recipe: Arc::from(recipe),
        })
    }
}

impl fmt::Display for SketchSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.recipe.spec())
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

impl serde::Serialize for SketchSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for SketchSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
