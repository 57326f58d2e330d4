//! An NVRTC-only stand-in for `cubecl-llvm` 0.11.3.
//!
//! `cubecl-cuda` 0.11 always links its LLVM backend, and `cubecl-llvm`'s build
//! script downloads an LLVM bundle (`tracel-llvm-bundler`), which an offline
//! build cannot do. mast builds `cubecl-cuda` with its `cpp` feature, so every
//! kernel goes through CUDA C++ and NVRTC, and the LLVM backend is never run:
//! this crate keeps the names `cubecl-cuda` refers to (the PTX version table,
//! the feature narrowing, the compiler and module types, copied from 0.11.3)
//! and makes compiling through LLVM a clear error instead of a download.

pub mod nvptx;
pub mod shared;

pub use shared::{LlvmTarget, NvptxModule, PlironArtifact, PlironCompiler, PlironOptions};
