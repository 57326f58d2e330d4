//! File helpers shared by the experiments: safe folder names, config files.

use std::path::Path;

use crate::common::{DataSettings, ExpError, Result};

/// Makes a label safe as a file name: lowercase letters, digits, `.` and `-`.
pub(crate) fn slug(label: &str) -> String {
    let mut s = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '.' {
            s.push(c);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    let s = s.trim_matches('-').to_string();
    if s.is_empty() {
        "run".into()
    } else {
        s
    }
}

/// Reads a TOML experiment config: errors name the file; relative data paths
/// are taken relative to the file's folder.
pub(crate) fn load_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| ExpError::file(path, e))?;
    toml::from_str(&text).map_err(|e| ExpError::file(path, e.to_string().trim_end()))
}

/// The data settings with absolute, lexically normalised paths (so the
/// `config.toml` an experiment writes loads from anywhere).
pub(crate) fn absolute_data(data: &DataSettings) -> DataSettings {
    let fix = |p: &Path| {
        mast::run::config::normalize(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
    };
    let mut d = data.clone();
    d.train = fix(&data.train);
    d.test = fix(&data.test);
    d
}

/// Writes an experiment config as TOML (atomically).
pub(crate) fn write_toml<T: serde::Serialize>(path: &Path, cfg: &T) -> Result<()> {
    let text = toml::to_string_pretty(cfg).map_err(|e| ExpError::file(path, e))?;
    mast::run::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}
