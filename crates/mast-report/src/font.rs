//! The embedded font. Plotters' `ab_glyph` text backend loads no system
//! fonts: text renders only for registered families. This crate ships
//! DejaVu Sans (`assets/DejaVuSans.ttf`, Bitstream Vera license in
//! `assets/DejaVuSans-LICENSE.txt`) inside the binary and registers it once,
//! under the generic family names, before anything is drawn.

use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::error::{ReportError, Result};

/// The TrueType bytes of DejaVu Sans, embedded at compile time.
pub const DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family every figure of this crate draws its text with. SVG files name
/// it too, so viewers substitute their own sans-serif font.
pub const FAMILY: &str = "sans-serif";

static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Registers the embedded font with plotters under `sans-serif`, `serif` and
/// `monospace` (all styles fall back to the regular face). Runs once per
/// process; later calls return the first outcome. Every figure calls it
/// before drawing, so callers only need it when they draw plotters text of
/// their own.
///
/// ```
/// mast_report::register_fonts().unwrap();
/// mast_report::register_fonts().unwrap(); // idempotent
/// ```
pub fn register_fonts() -> Result<()> {
    REGISTERED
        .get_or_init(|| {
            for family in ["sans-serif", "serif", "monospace"] {
                plotters::style::register_font(family, FontStyle::Normal, DEJAVU_SANS)
                    .map_err(|_| format!("the embedded font cannot be parsed as `{family}`"))?;
            }
            Ok(())
        })
        .clone()
        .map_err(ReportError::Plot)
}
