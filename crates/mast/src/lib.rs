//! # mast — Model-Agnostic Sparsified Training
//!
//! MAST trains `x` to minimise `f_D(x) = E_S f(v + S(x − v))`, where `S` is a
//! random unbiased sketch (dropout-style masks rescaled by 1/p, Rand-K, Perm-K),
//! so that the trained model stays accurate when it is sparsified.
//!
//! Data flows one way through the modules:
//!
//! `data` → `objective` (f) → `sketch` (D) → `sketched` (f_S, ∇f_S, f_D) →
//! `algorithm` (one step at a time) → `run` (executor, observers, run folders).
//!
//! ```
//! use std::sync::Arc;
//! use mast::prelude::*;
//!
//! let data = Arc::new(mast::data::synthetic::gaussian_planted(200, 10, 0.1, Task::Classification, 1));
//! let f = LogisticRegression::new(data, 1e-2).unwrap();
//! let sketch = SketchSpec::rand_k_fraction(0.5).build(10).unwrap();
//! let mut solver = DoubleSketchedSgd::new(
//!     sketch, Variant::Exact, StepSize::Theory { multiplier: 1.0 }, 7).unwrap();
//! let problem = MastProblem::new(&f, Shift::zero(10));
//! let mut state = solver.init(&problem).unwrap();
//! for _ in 0..100 {
//!     solver.next_iter(&problem, &mut state).unwrap();
//! }
//! assert!(f.loss(&state.x) < std::f64::consts::LN_2);
//! ```

#![warn(missing_docs)]

pub mod algorithm;
pub mod atomic_file;
pub mod data;
pub mod engine;
pub mod error;
pub mod linalg;
pub mod objective;
pub mod rng;
pub mod run;
pub mod sampling;
pub mod serde_util;
pub mod sketch;
pub mod sketched;
pub mod theory;

pub use error::{MastError, Result};

/// How to add a sketch, a loss and an algorithm: `docs/extending.md`, included
/// here so that `cargo test --doc` compiles and runs its examples.
#[doc = include_str!("../../../docs/extending.md")]
#[doc(hidden)]
pub mod extending {}

/// The project's `README.md`, included so that `cargo test --doc` runs its example
/// (a code fence without a language is compiled as Rust: mark shell output `text`).
#[doc = include_str!("../../../README.md")]
#[doc(hidden)]
pub mod readme {}

/// The names most programs need.
pub mod prelude {
    pub use crate::algorithm::{
        DoubleSketchedSgd, GradientDescent, IterState, MastProblem, Solver, StepSize, Variant,
    };
    pub use crate::data::synthetic::Task;
    pub use crate::data::{Dataset, Design};
    pub use crate::error::{MastError, Result};
    pub use crate::objective::{
        LeastSquares, LogisticRegression, Objective, Quadratic, Rows, Shift,
    };
    pub use crate::sketch::{Bernoulli, Identity, PermK, RandK, Sketch, SketchDraw, SketchSpec};
}
