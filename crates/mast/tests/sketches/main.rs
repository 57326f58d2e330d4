#![allow(clippy::needless_range_loop)] // index loops mirror the formulas
//! Integration tests for the sketches of `mast::sketch` (MAST.md §1).
//!
//! Exact oracles: every small sketch is checked against its own exact enumeration
//! (`Sketch::enumerate`) and against the closed forms of MAST.md §1; the samplers
//! (`Sketch::draw`, `PermK::draw_joint`) are checked against those enumerations
//! by goodness-of-fit tests, and at large d by z-score / chi-square bounds.

use std::collections::{HashMap, HashSet};

use mast::linalg::SymMatrix;
use mast::rng::{stream, MastRng, Stream};
use mast::sketch::*;
use mast::MastError;
use proptest::prelude::*;
use rand::Rng;

mod api;
mod cases;
mod exact;
mod operators;
mod perm_k;
mod sampling;
