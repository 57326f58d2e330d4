//! Atomic file writes: write `NAME.tmp` in the same folder, then rename it over
//! `NAME`, so a reader never sees a half-written figure or report.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{ReportError, Result};

/// The temporary file `write_atomic` writes before renaming: `NAME.tmp` next
/// to `path`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically: to `path.tmp` first (flushed and
/// synced), then renamed over `path`. The parent folder must exist. On any
/// failure the temporary file is removed.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("mast-report-doc-io-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("hello.txt");
/// mast_report::write_atomic(&path, b"hello").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// assert!(!dir.join("hello.txt.tmp").exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.file_name().is_none() {
        return Err(ReportError::invalid(format!(
            "`{}` is not a file path",
            path.display()
        )));
    }
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = fs::File::create(&tmp).map_err(|source| ReportError::Io {
            path: tmp.clone(),
            action: "cannot create",
            source,
        })?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|source| ReportError::Io {
                path: tmp.clone(),
                action: "cannot write",
                source,
            })?;
        drop(file);
        fs::rename(&tmp, path).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            action: "cannot rename the temporary file onto",
            source,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` (and its parents) if it does not exist.
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| ReportError::Io {
        path: dir.to_path_buf(),
        action: "cannot create folder",
        source,
    })
}
