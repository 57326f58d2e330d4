//! # mast-experiments — the paper's experiments, one command each
//!
//! Each experiment runs many configured trainings (through [`mast::run::train()`],
//! so every configuration gets an ordinary run folder), writes every number to
//! CSV, draws figures with [`mast_report`] (PNG and SVG), and writes an
//! `index.html` that shows figures, tables and the commands that reproduce them.
//!
//! - [`prune`]: pruning robustness (the paper's Figure 1): ERM vs MAST models
//!   under random masks, as box plots per sparsity level.
//! - [`curves`]: training curves over seeds, mean and band, methods on one axis.
//! - [`grid`]: step size × sparsity heatmaps for Algorithms 1 and 2, with the
//!   theory step drawn on them.
//! - [`reproduce`]: the paper's a5a suite end to end (`mast reproduce paper`).
//!
//! Configurations run in parallel (rayon, one thread each); every run is
//! deterministic for its seed, so the CSVs are identical whatever the thread count.

#![warn(missing_docs)]

pub mod common;
pub mod curves;
pub mod grid;
pub mod prune;
pub mod reproduce;

pub use common::{ExpError, Progress, Result};
