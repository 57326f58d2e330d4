//! The sketch registry: every sketch a spec string can name (`bernoulli:0.5`,
//! `perm-k:4`, …) is an entry here — a name, its aliases, a usage line, a
//! one-line description and a parser — so a new sketch is one file plus one
//! [`register`] call, and the CLI's help lists [`registered`] sketches.
//!
//! A parser turns the text after `NAME:` into a [`SketchRecipe`]: a parsed,
//! not yet built sketch that prints its canonical spec and builds the sketch in
//! a [`SketchContext`] (the dimension, and the objective for data-derived
//! sketches). [`super::SketchSpec`] wraps a recipe.
//!
//! A user's own sketch, registered at run time (the `custom_sketch` example
//! does this with a whole block-dropout sketch):
//!
//! ```
//! use mast::sketch::registry::{self, SketchArgs, SketchContext, SketchEntry, SketchRecipe};
//! use mast::sketch::{Bernoulli, Sketch, SketchSpec};
//!
//! /// `half`: Bernoulli(1/2) under another name.
//! #[derive(Debug)]
//! struct Half;
//! impl SketchRecipe for Half {
//!     fn spec(&self) -> String {
//!         "half".into()
//!     }
//!     fn build(&self, ctx: &SketchContext<'_>) -> mast::Result<Box<dyn Sketch>> {
//!         Ok(Box::new(Bernoulli::new(ctx.dim, 0.5)?))
//!     }
//!     fn keep_fraction(&self) -> Option<f64> {
//!         Some(0.5)
//!     }
//! }
//!
//! registry::register(SketchEntry::new("half", "half", "Bernoulli(1/2)", |a: &SketchArgs<'_>| {
//!     a.no_parameter()?;
//!     Ok(Box::new(Half))
//! }));
//! let s: SketchSpec = "half".parse().unwrap();
//! assert_eq!((s.kind(), s.keep_fraction()), ("half", Some(0.5)));
//! assert_eq!(s.build(10).unwrap().expected_kept(), 5.0);
//! assert!(registry::registered().iter().any(|e| e.name == "half"));
//! ```

use std::fmt::Debug;
use std::sync::{OnceLock, RwLock};

use super::{Bernoulli, DropConnect, Identity, PermK, RandK, Sketch};
use crate::error::{MastError, Result};
use crate::objective::Objective;

/// What a sketch is built from: the dimension, and (where the run has one) the
/// objective, for sketches derived from the data (e.g. keep probabilities from
/// [`Objective::coordinate_smoothness`]).
#[derive(Clone, Copy)]
pub struct SketchContext<'a> {
    /// The dimension d.
    pub dim: usize,
    /// The objective the sketch will serve, where known.
    pub objective: Option<&'a dyn Objective>,
}

impl<'a> SketchContext<'a> {
    /// Dimension `dim`, no objective.
    pub fn new(dim: usize) -> Self {
        SketchContext {
            dim,
            objective: None,
        }
    }

    /// Dimension `f.dim()`, with the objective `f`.
    pub fn with_objective(f: &'a dyn Objective) -> Self {
        SketchContext {
            dim: f.dim(),
            objective: Some(f),
        }
    }
}

impl Debug for SketchContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SketchContext")
            .field("dim", &self.dim)
            .field("objective", &self.objective.map(|_| "…"))
            .finish()
    }
}

/// A parsed sketch spec: what a registered parser returns, and what
/// [`super::SketchSpec`] holds.
pub trait SketchRecipe: Send + Sync + Debug {
    /// The canonical spec text; it must parse back to an equal recipe
    /// (`SketchSpec` compares recipes by this text).
    fn spec(&self) -> String;

    /// Builds the sketch, validating its parameters against the context.
    fn build(&self, ctx: &SketchContext<'_>) -> Result<Box<dyn Sketch>>;

    /// The (expected) fraction of coordinates kept, where the spec fixes one
    /// without knowing d (`bernoulli:0.3`, `rand-k:q=0.3`).
    fn keep_fraction(&self) -> Option<f64> {
        None
    }

    /// The node count of a joint sketch over the nodes of Algorithm 2
    /// (`perm-k:M`): such a sketch is drawn once for all nodes, and the run
    /// must have this many.
    fn nodes(&self) -> Option<usize> {
        None
    }

    /// Whether the sketch is `S = I`.
    fn is_identity(&self) -> bool {
        false
    }
}

/// The text of a spec, split for a parser: `kind:arg` (both trimmed).
#[derive(Debug, Clone, Copy)]
pub struct SketchArgs<'a> {
    /// The whole spec text, trimmed (for error messages).
    pub text: &'a str,
    /// The name as written (lower-cased), one of the entry's name or aliases.
    pub kind: &'a str,
    /// The text after the first `:`, if any.
    pub arg: Option<&'a str>,
}

impl<'a> SketchArgs<'a> {
    /// An error about the parameter `sketch`.
    pub fn error(&self, message: impl Into<String>) -> MastError {
        MastError::param("sketch", message.into())
    }

    /// The parameter, or an error saying one is needed.
    pub fn required(&self) -> Result<&'a str> {
        self.arg.ok_or_else(|| {
            self.error(format!(
                "`{}` needs a parameter, e.g. `{}:0.5`",
                self.text, self.kind
            ))
        })
    }

    /// Refuses a parameter.
    pub fn no_parameter(&self) -> Result<()> {
        match self.arg {
            None => Ok(()),
            Some(a) => Err(self.error(format!("`{}` takes no parameter, got `{a}`", self.kind))),
        }
    }

    /// `a` as a number (any f64 text, range checks are the sketch's).
    pub fn number(&self, a: &str) -> Result<f64> {
        a.parse::<f64>()
            .map_err(|_| self.error(format!("`{a}` in `{}` is not a number", self.text)))
    }

    /// `a` with one of the `names=` prefixes removed, if it has one.
    pub fn strip_key<'b>(&self, a: &'b str, names: &[&str]) -> &'b str {
        names
            .iter()
            .find_map(|n| a.strip_prefix(n).and_then(|r| r.strip_prefix('=')))
            .unwrap_or(a)
    }
}

/// How a registered parser turns [`SketchArgs`] into a recipe.
pub type ParseFn = fn(&SketchArgs<'_>) -> Result<Box<dyn SketchRecipe>>;

/// One registered sketch.
#[derive(Clone)]
pub struct SketchEntry {
    /// The canonical name (what [`super::SketchSpec::kind`] returns).
    pub name: &'static str,
    /// Other names it is written as (matched case-insensitively, as the name).
    pub aliases: &'static [&'static str],
    /// How it is written, e.g. `bernoulli:P`.
    pub usage: &'static str,
    /// A one-line description.
    pub about: &'static str,
    /// Whether [`registered`] lists it (false for names kept only to explain
    /// themselves, like `dropout`).
    pub listed: bool,
    /// The parser.
    pub parse: ParseFn,
}

impl SketchEntry {
    /// A listed entry without aliases.
    pub fn new(
        name: &'static str,
        usage: &'static str,
        about: &'static str,
        parse: ParseFn,
    ) -> Self {
        SketchEntry {
            name,
            aliases: &[],
            usage,
            about,
            listed: true,
            parse,
        }
    }

    /// With these aliases.
    pub fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// Left out of [`registered`] (still parsed).
    pub fn unlisted(mut self) -> Self {
        self.listed = false;
        self
    }

    fn answers_to(&self, kind: &str) -> bool {
        self.name.eq_ignore_ascii_case(kind)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(kind))
    }
}

impl Debug for SketchEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SketchEntry")
            .field("name", &self.name)
            .field("aliases", &self.aliases)
            .field("usage", &self.usage)
            .finish()
    }
}

fn table() -> &'static RwLock<Vec<SketchEntry>> {
    static TABLE: OnceLock<RwLock<Vec<SketchEntry>>> = OnceLock::new();
    TABLE.get_or_init(|| RwLock::new(builtins()))
}

/// Registers a sketch (replacing an entry of the same name, so registering
/// twice is harmless). Takes effect for every later parse in this process.
pub fn register(entry: SketchEntry) {
    let mut t = table().write().unwrap_or_else(|e| e.into_inner());
    match t.iter_mut().find(|e| e.name == entry.name) {
        Some(old) => *old = entry,
        None => t.push(entry),
    }
}

/// The listed registered sketches, in registration order (built-ins first).
pub fn registered() -> Vec<SketchEntry> {
    let t = table().read().unwrap_or_else(|e| e.into_inner());
    t.iter().filter(|e| e.listed).cloned().collect()
}

/// The entry answering to `kind` (a name or an alias, any case).
pub fn lookup(kind: &str) -> Option<SketchEntry> {
    let t = table().read().unwrap_or_else(|e| e.into_inner());
    t.iter().find(|e| e.answers_to(kind)).cloned()
}

/// The registered sketches as `usage  about` lines (for help texts).
pub fn help() -> String {
    let entries = registered();
    let w = entries.iter().map(|e| e.usage.len()).max().unwrap_or(0);
    entries
        .iter()
        .map(|e| format!("{:w$}  {}", e.usage, e.about))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses a spec text through the registry: the registered name (and the
/// recipe).
pub(crate) fn parse(s: &str) -> Result<(&'static str, Box<dyn SketchRecipe>)> {
    let text = s.trim();
    let (kind, arg) = match text.split_once(':') {
        Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
        None => (text.to_ascii_lowercase(), None),
    };
    let args = SketchArgs {
        text,
        kind: &kind,
        arg,
    };
    match lookup(&kind) {
        Some(entry) => Ok((entry.name, (entry.parse)(&args)?)),
        None => {
            let usages: Vec<&str> = registered().iter().map(|e| e.usage).collect();
            Err(args.error(format!(
                "unknown sketch `{text}`: use {}",
                usages.join(", ")
            )))
        }
    }
}

// ---- the built-in sketches -------------------------------------------------

/// `S = I`.
#[derive(Debug)]
pub(crate) struct IdentityRecipe;

impl SketchRecipe for IdentityRecipe {
    fn spec(&self) -> String {
        "identity".into()
    }
    fn build(&self, ctx: &SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        Ok(Box::new(Identity::new(ctx.dim)))
    }
    fn keep_fraction(&self) -> Option<f64> {
        Some(1.0)
    }
    fn is_identity(&self) -> bool {
        true
    }
}

/// Bernoulli (rescaled) or DropConnect (unscaled) with one keep probability.
#[derive(Debug)]
pub(crate) struct BernoulliRecipe {
    pub p: f64,
    pub scaled: bool,
}

impl SketchRecipe for BernoulliRecipe {
    fn spec(&self) -> String {
        if self.scaled {
            format!("bernoulli:{}", self.p)
        } else {
            format!("dropconnect:{}", self.p)
        }
    }
    fn build(&self, ctx: &SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        Ok(if self.scaled {
            Box::new(Bernoulli::new(ctx.dim, self.p)?)
        } else {
            Box::new(DropConnect::new(ctx.dim, self.p)?)
        })
    }
    fn keep_fraction(&self) -> Option<f64> {
        Some(self.p)
    }
}

/// Rand-K with K or q = K/d given.
#[derive(Debug)]
pub(crate) enum RandKRecipe {
    Count(usize),
    Fraction(f64),
}

impl SketchRecipe for RandKRecipe {
    fn spec(&self) -> String {
        match self {
            RandKRecipe::Count(k) => format!("rand-k:k={k}"),
            RandKRecipe::Fraction(q) => format!("rand-k:q={q}"),
        }
    }
    fn build(&self, ctx: &SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        Ok(match *self {
            RandKRecipe::Count(k) => Box::new(RandK::new(ctx.dim, k)?),
            RandKRecipe::Fraction(q) => Box::new(RandK::with_fraction(ctx.dim, q)?),
        })
    }
    fn keep_fraction(&self) -> Option<f64> {
        match *self {
            RandKRecipe::Fraction(q) => Some(q),
            RandKRecipe::Count(_) => None,
        }
    }
}

/// Perm-K over M nodes.
#[derive(Debug)]
pub(crate) struct PermKRecipe(pub usize);

impl SketchRecipe for PermKRecipe {
    fn spec(&self) -> String {
        format!("perm-k:{}", self.0)
    }
    fn build(&self, ctx: &SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        Ok(Box::new(PermK::new(ctx.dim, self.0)?))
    }
    fn nodes(&self) -> Option<usize> {
        Some(self.0)
    }
}

fn parse_identity(a: &SketchArgs<'_>) -> Result<Box<dyn SketchRecipe>> {
    a.no_parameter().map_err(|_| {
        a.error(format!(
            "`identity` takes no parameter, got `{}`",
            a.arg.unwrap_or_default()
        ))
    })?;
    Ok(Box::new(IdentityRecipe))
}

fn parse_keep_prob(a: &SketchArgs<'_>, scaled: bool) -> Result<Box<dyn SketchRecipe>> {
    let v = a.strip_key(a.required()?, &["p", "keep_prob"]);
    Ok(Box::new(BernoulliRecipe {
        p: a.number(v)?,
        scaled,
    }))
}

fn parse_rand_k(a: &SketchArgs<'_>) -> Result<Box<dyn SketchRecipe>> {
    let v = a.required()?;
    let s = a.text;
    Ok(Box::new(if let Some(q) = v.strip_prefix("q=") {
        RandKRecipe::Fraction(a.number(q)?)
    } else if let Some(k) = v.strip_prefix("k=") {
        RandKRecipe::Count(
            k.parse()
                .map_err(|_| a.error(format!("K = `{k}` in `{s}` is not a whole number")))?,
        )
    } else if v.contains('.') || v.contains('e') {
        RandKRecipe::Fraction(a.number(v)?)
    } else {
        RandKRecipe::Count(
            v.parse().map_err(|_| {
                a.error(format!("`{v}` in `{s}` is neither a fraction nor a count"))
            })?,
        )
    }))
}

fn parse_perm_k(a: &SketchArgs<'_>) -> Result<Box<dyn SketchRecipe>> {
    let v = a.required()?;
    let v = v.strip_prefix("m=").unwrap_or(v);
    let m = v.parse().map_err(|_| {
        a.error(format!(
            "node count `{v}` in `{}` is not a whole number",
            a.text
        ))
    })?;
    Ok(Box::new(PermKRecipe(m)))
}

fn parse_dropout(a: &SketchArgs<'_>) -> Result<Box<dyn SketchRecipe>> {
    Err(a.error(format!(
        "`{}` is ambiguous: use `bernoulli:P` (keep probability P, rescaled by 1/P: the \
         unbiased MAST sketch) or `dropconnect:P` (keep probability P, unscaled: the biased baseline)",
        a.text
    )))
}

fn builtins() -> Vec<SketchEntry> {
    vec![
        SketchEntry::new("identity", "identity", "no sparsification (S = I)", parse_identity)
            .aliases(&["none"]),
        SketchEntry::new(
            "bernoulli",
            "bernoulli:P",
            "keep each coordinate with probability P (KEEP, not drop), rescaled by 1/P",
            |a| parse_keep_prob(a, true),
        ),
        SketchEntry::new(
            "rand-k",
            "rand-k:Q | rand-k:k=K",
            "keep a fraction Q = K/d (a number with a `.`) or exactly K coordinates, rescaled by d/K",
            parse_rand_k,
        )
        .aliases(&["randk", "rand_k"]),
        SketchEntry::new(
            "perm-k",
            "perm-k:M",
            "Perm-K over M nodes: one permutation cut into M blocks (Algorithm 1: one node's block)",
            parse_perm_k,
        )
        .aliases(&["permk", "perm_k"]),
        SketchEntry::new(
            "dropconnect",
            "dropconnect:P",
            "the biased baseline: keep with probability P, NO 1/P rescaling",
            |a| parse_keep_prob(a, false),
        )
        .aliases(&["drop-connect"]),
        SketchEntry::new("dropout", "dropout", "ambiguous: see bernoulli and dropconnect", parse_dropout)
            .unlisted(),
    ]
}
