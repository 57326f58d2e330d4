//! The NVPTX target: only the PTX version table survives here.

pub mod ptx_version;
