//! Atomic file output (write to a temporary file beside the target, then
//! rename) and JSON files: used by every layer (data, runs, experiments), so it
//! lives at the bottom of the crate; `mast::run::io` re-exports it.

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
