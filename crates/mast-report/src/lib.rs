//! # mast-report — figures and self-contained HTML reports for experiments
//!
//! A small plotting and report library that takes plain numbers, so linear
//! model and neural network experiments alike can use it. It knows nothing
//! about MAST itself.
//!
//! * [`BoxplotFigure`]: grouped Tukey box plots (e.g. accuracy per sparsity
//!   level, ERM vs MAST) with an optional reference line;
//! * [`BandCurves`]: mean curves with a shaded band (training curves over
//!   seeds), linear or log axes;
//! * [`Heatmap`]: a value per (x, y) category pair with a colour bar,
//!   diverged cells, annotations and overlays (e.g. final loss over sparsity
//!   × step size with the theory step size drawn on top);
//! * [`BarChart`]: grouped bars with value labels (benchmark ratios);
//! * [`HtmlReport`]: one HTML file with the figures embedded, tables and the
//!   commands that reproduce the experiment; [`markdown_table`];
//! * [`Quartiles`], [`BoxStats`], [`quantile`], [`mean_std`]: summaries.
//!
//! Every figure implements [`Figure`]: render to RGB, PNG or SVG, or
//! [`Figure::save`] both files atomically. Text uses the embedded DejaVu Sans
//! font (see [`register_fonts`]), so output does not depend on the fonts
//! installed. Bad input (empty, NaN, mismatched lengths) is an error, never a
//! panic.
//!
//! ```
//! use mast_report::{BoxplotFigure, Figure};
//! let fig = BoxplotFigure::new("test accuracy after pruning")
//!     .x_label("sparsity q")
//!     .y_label("accuracy")
//!     .groups(["0.1", "0.5"])
//!     .series("erm", vec![vec![0.80, 0.81, 0.79], vec![0.70, 0.72, 0.69]])
//!     .series("mast", vec![vec![0.82, 0.83, 0.82], vec![0.79, 0.80, 0.78]])
//!     .reference_line(0.845, "unpruned ERM");
//! let png = fig.render_png().unwrap();
//! assert_eq!(&png[..4], b"\x89PNG");
//! ```
#![warn(missing_docs)]
#![deny(missing_docs)]

mod axis;
mod bars;
mod boxplot;
mod curves;
mod error;
mod figure;
mod font;
mod heatmap;
mod html;
mod io;
mod prune;
mod quantiles;

pub use axis::format_sci;
pub use bars::BarChart;
pub use boxplot::BoxplotFigure;
pub use curves::{Band, BandCurves};
pub use error::{ReportError, Result};
pub use figure::{series_color, Figure, RgbImage, DEFAULT_HEIGHT, DEFAULT_WIDTH, PALETTE};
pub use font::{register_fonts, DEJAVU_SANS};
pub use heatmap::{fractional_index, Heatmap, OverlayStyle};
pub use html::{base64_encode, html_escape, markdown_table, HtmlReport};
pub use io::write_atomic;
pub use prune::{prune_figures, PrunedModel};
pub use quantiles::{mean_std, quantile, BoxStats, Quartiles};

/// The plotters version this crate draws with, re-exported so callers can
/// implement [`Figure`] or draw onto the same backends.
pub use plotters;
