//! Data: LIBSVM loading, dense and sparse matrices, synthetic generators, splits,
//! and sharding among the nodes of a distributed run.

mod bit_rows;
mod buffer;
pub mod cache;
mod csr;
mod dataset;
mod dense;
pub mod libsvm;
mod libsvm_text;
pub mod memory;
mod shard;
pub mod split;
pub mod synth_libsvm;
pub mod synthetic;

pub use bit_rows::BitRows;
pub use buffer::{Buffer, Plain, SharedPtr};
pub use csr::{Csc, CsrMatrix};
pub use dataset::{Dataset, Design, LabelMap};
pub use dense::DenseMatrix;
pub use libsvm::{load_libsvm_pair, LibsvmFile, LibsvmPair};
pub use shard::Sharding;
