//! Where the network trains: the CPU (burn's flex backend, the default and the
//! only device the tests use) or, in builds with the cargo feature `cuda` or
//! `wgpu`, a GPU through burn's CubeCL backends.
//!
//! Masks are still drawn on the host from mast's seeded streams and uploaded,
//! so a run's masks are the same on every device; the arithmetic of the
//! backends differs, so metrics agree across devices only to rounding.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{NnError, Result};

/// The device of a training run (`[train] device = "cpu" | "cuda" | "cuda:N" | "wgpu"`).
///
/// ```
/// use mast_nn::device::DeviceChoice;
/// let d: DeviceChoice = "cuda:1".parse().unwrap();
/// assert_eq!(d, DeviceChoice::Cuda(1));
/// assert_eq!(d.to_string(), "cuda:1");
/// assert_eq!("cpu".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
/// assert!("tpu".parse::<DeviceChoice>().is_err());
/// // The CPU is always there; the GPUs only in builds with their feature.
/// assert!(DeviceChoice::Cpu.device().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// burn's flex CPU backend.
    #[default]
    Cpu,
    /// NVIDIA GPU number N through CUDA (cargo feature `cuda`).
    Cuda(usize),
    /// The default GPU through wgpu (Vulkan, Metal, …; cargo feature `wgpu`).
    Wgpu,
}

impl DeviceChoice {
    /// Whether this is the CPU.
    pub fn is_cpu(&self) -> bool {
        *self == DeviceChoice::Cpu
    }

    /// The burn device (without autodiff); an error naming the cargo feature
    /// when this build lacks the backend.
    pub fn device(&self) -> Result<Device> {
        match *self {
            DeviceChoice::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda(i) => Ok(Device::cuda(i)),
            #[cfg(feature = "wgpu")]
            DeviceChoice::Wgpu => Ok(Device::wgpu(Default::default())),
            #[allow(unreachable_patterns)]
            other => Err(NnError::param(
                "train.device",
                format!(
                    "this build has no `{}` backend: rebuild with `--features mast-cli/{}` \
                     (see docs/neural.md, GPU)",
                    other,
                    other.feature()
                ),
            )),
        }
    }

    fn feature(&self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "",
            DeviceChoice::Cuda(_) => "cuda",
            DeviceChoice::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(0) => write!(f, "cuda"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
            DeviceChoice::Wgpu => write!(f, "wgpu"),
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = NnError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            NnError::param(
                "train.device",
                format!("unknown device `{s}`: expected cpu, cuda, cuda:N or wgpu"),
            )
        };
        match s.trim() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            "wgpu" => Ok(DeviceChoice::Wgpu),
            t => t
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(bad),
        }
    }
}

impl serde::Serialize for DeviceChoice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
