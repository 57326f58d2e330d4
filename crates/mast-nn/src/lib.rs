//! # mast-nn — MAST for neural networks, on burn's flex CPU backend
//!
//! MAST trains `x` to minimise `f_D(x) = E_S f(v + S(x − v))`. For a network,
//! `x` is the list of its parameter tensors; every step draws a sketch `S` per
//! tensor on the host (mast's seeded generators), the forward pass uses
//! `v + S(x − v)`, and autodiff returns `Sᵀ∇f(v + S(x − v))`.
//!
//! - [`data`]: IDX (MNIST, Fashion-MNIST) and the 8×8 digits CSV, normalisation,
//!   seeded minibatches.
//! - [`model`]: an MLP, a small CNN and a small ResNet as functions of flat
//!   parameter tensors.
//! - [`mask`]: the methods (plain training, Dropout, DropConnect, MAST with
//!   Bernoulli, Rand-K and neuron-level sketches) and their host masks.
//! - [`train`]: SGD on the masked model, evaluation.
//! - [`prune`]: random pruning of trained models.
//! - [`config`], [`experiment`], [`report`], [`figures`]: the `nn-prune` experiment,
//!   with the same figures and `index.html` as the linear-model experiments.

#![warn(missing_docs)]

pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod experiment;
pub mod figures;
pub mod lanes;
pub mod mask;
pub mod model;
pub mod prune;
pub mod report;
pub mod single;
pub mod train;

pub use burn;
pub use error::{NnError, Result};
