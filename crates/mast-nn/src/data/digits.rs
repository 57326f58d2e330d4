//! The 8×8 handwritten digits (scikit-learn's `digits`) as a gzipped CSV:
//! no header, 64 integer pixel values in 0..=16, then the class label 0..=9.

use std::path::Path;

use super::idx::read_maybe_gz;
use crate::error::{NnError, Result};

/// Pixels per digit image.
pub const DIGITS_PIXELS: usize = 64;

/// Parses digits CSV text: returns the pixels (`n · 64`, values 0..=16) and labels.
pub fn parse_digits(text: &str, path: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |m: String| NnError::data(path, format!("line {}: {m}", i + 1));
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != DIGITS_PIXELS + 1 {
            return Err(err(format!(
                "{} fields, expected {} (64 pixels and a label)",
                fields.len(),
                DIGITS_PIXELS + 1
            )));
        }
        for f in &fields[..DIGITS_PIXELS] {
            let v: f64 = f
                .parse()
                .map_err(|_| err(format!("pixel `{f}` is not a number")))?;
            if !(0.0..=16.0).contains(&v) || v.fract() != 0.0 {
                return Err(err(format!("pixel {v} is not an integer in 0..=16")));
            }
            pixels.push(v as u8);
        }
        let l: f64 = fields[DIGITS_PIXELS]
            .parse()
            .map_err(|_| err(format!("label `{}` is not a number", fields[DIGITS_PIXELS])))?;
        if !(0.0..=9.0).contains(&l) || l.fract() != 0.0 {
            return Err(err(format!("label {l} is not a digit 0..=9")));
        }
        labels.push(l as u8);
    }
    if labels.is_empty() {
        return Err(NnError::data(path, "no digits in the file"));
    }
    Ok((pixels, labels))
}

/// Reads the digits CSV (plain or gzipped).
pub fn read_digits(path: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let bytes = read_maybe_gz(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
        NnError::data(
            path,
            format!("line {line}: not UTF-8 text (expected a CSV file)"),
        )
    })?;
    parse_digits(&text, path)
}
