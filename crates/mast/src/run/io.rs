//! Atomic file output: write to a temporary file beside the target, then rename.

use std::io::Write;
use std::path::Path;

use crate::error::{MastError, Result};

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename):
/// a reader sees the old file or the new one, never a partial one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f =
            std::fs::File::create(tmp).map_err(|e| MastError::io(tmp, "cannot create", e))?;
        f.write_all(bytes)
            .map_err(|e| MastError::io(tmp, "cannot write", e))?;
        f.sync_all()
            .map_err(|e| MastError::io(tmp, "cannot sync", e))
    })
}

/// Makes `path` atomically: `write` fills a temporary file beside it, which is then
/// renamed into place (and removed if `write` or the rename fails).
pub fn write_atomic_with<T>(path: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| MastError::io(dir, "cannot create folder", e))?;
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = write(&tmp).and_then(|out| {
        std::fs::rename(&tmp, path)
            .map_err(|e| MastError::io(path, "cannot rename into place", e))?;
        Ok(out)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(value)
        .map_err(|e| MastError::Numerical(format!("cannot serialise {}: {e}", path.display())))?;
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

/// Reads a JSON file.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| MastError::io(path, "cannot read", e))?;
    serde_json::from_str(&text).map_err(|e| MastError::Config {
        path: path.to_path_buf(),
        message: format!("invalid JSON: {e}"),
    })
}

/// Serde helper for `f64` fields that may be NaN or infinite: JSON writes those as
/// `null`, and this reads `null` back as NaN (`#[serde(deserialize_with = ...)]`).
pub fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Reads a solver's or engine's saved state back from a checkpoint; `what`
/// names it in the error.
pub fn from_state<T: serde::de::DeserializeOwned>(
    saved: &serde_json::Value,
    what: &str,
) -> Result<T> {
    serde_json::from_value(saved.clone())
        .map_err(|e| MastError::param("checkpoint", format!("{what} state: {e}")))
}
