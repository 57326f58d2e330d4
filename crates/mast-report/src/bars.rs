//! Grouped bar charts: categories along x, one bar per series in each
//! category, value labels on the bars (e.g. benchmark time ratios).

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::{format_sig3, Axis};
use crate::error::{ReportError, Result};
use crate::figure::{
    category_chart, check_finite, check_names, darker, frame_methods, series_color, series_legend,
    text, Figure, Frame, NOTE_SIZE,
};

/// Grouped bars with a legend, value labels and an optional reference line.
///
/// Every series has one finite value per category. On a linear y axis bars
/// start at 0 (negative values hang down); on a log y axis
/// ([`BarChart::log_y`]) every value must be positive and bars start at the
/// bottom of the axis.
///
/// ```
/// use mast_report::{BarChart, Figure};
/// let fig = BarChart::new("time per step relative to dense")
///     .categories(["d = 1e3", "d = 1e4"])
///     .series("q = 0.5", vec![0.55, 0.52])
///     .series("q = 0.9", vec![0.16, 0.12])
///     .reference_line(1.0, "dense step")
///     .log_y(true);
/// assert!(fig.render_svg().unwrap().contains("dense step"));
/// assert!(BarChart::new("x").categories(["a"]).series("s", vec![f64::NAN]).render_png().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    frame: Frame,
    categories: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
    log_y: bool,
    value_labels: bool,
    reference: Option<(f64, String)>,
    y_range: Option<(f64, f64)>,
}

impl BarChart {
    /// An empty bar chart with a title; value labels are on by default.
    pub fn new(title: impl Into<String>) -> Self {
        BarChart {
            frame: Frame::new(title),
            categories: Vec::new(),
            series: Vec::new(),
            log_y: false,
            value_labels: true,
            reference: None,
            y_range: None,
        }
    }

    frame_methods!();

    /// Sets the category labels along x, left to right.
    pub fn categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.categories = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a series: one value per category.
    pub fn series(mut self, name: impl Into<String>, values: Vec<f64>) -> Self {
        self.series.push((name.into(), values));
        self
    }

    /// Log10 y axis (values must be positive).
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self
    }

    /// Writes each value above its bar (3 significant digits) when it fits
    /// (default on).
    pub fn value_labels(mut self, on: bool) -> Self {
        self.value_labels = on;
        self
    }

    /// Draws a dashed horizontal line at `y`, named `label` in the legend
    /// (e.g. ratio 1).
    pub fn reference_line(mut self, y: f64, label: impl Into<String>) -> Self {
        self.reference = Some((y, label.into()));
        self
    }

    /// Fixes the y range instead of covering all values.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    fn validate(&self) -> Result<()> {
        let n = check_names(self.categories.iter().map(String::as_str), "category")?;
        check_names(self.series.iter().map(|(s, _)| s.as_str()), "series")?;
        for (name, values) in &self.series {
            if values.len() != n {
                return Err(ReportError::invalid(format!(
                    "series `{name}` has {} values but there are {n} categories",
                    values.len()
                )));
            }
            for (i, &v) in values.iter().enumerate() {
                check_finite(v, || {
                    format!("series `{name}`, category `{}`", self.categories[i])
                })?;
                if self.log_y && v <= 0.0 {
                    return Err(ReportError::invalid(format!(
                        "series `{name}`, category `{}`: {v} cannot be drawn on a log y axis",
                        self.categories[i]
                    )));
                }
            }
        }
        if let Some((y, label)) = &self.reference {
            check_finite(*y, || format!("reference line `{label}`"))?;
            if self.log_y && *y <= 0.0 {
                return Err(ReportError::invalid(format!(
                    "reference line `{label}` at {y} cannot be drawn on a log y axis"
                )));
            }
        }
        Ok(())
    }
}

const REFERENCE: RGBColor = RGBColor(0x40, 0x40, 0x40);

impl Figure for BarChart {
    fn size(&self) -> (u32, u32) {
        (self.frame.width, self.frame.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        self.validate()?;
        let values = self.series.iter().flat_map(|(_, v)| v.iter().copied());
        let reference = self.reference.iter().map(|(y, _)| *y);
        let y_axis = match self.y_range {
            Some((lo, hi)) => Axis::explicit(lo, hi, self.log_y, "bar chart y range")?,
            None if self.log_y => {
                let mut a = Axis::covering(values.chain(reference), true, 0.0, "bar values")?;
                // Bars need a floor below the smallest value and room above
                // the largest for its label.
                let span = (a.hi - a.lo).max(0.5);
                a.lo = (a.lo - 0.15 * span).floor().min(a.lo - 0.15 * span);
                a.hi += 0.12 * span;
                a
            }
            None => {
                let mut a = Axis::covering(
                    values.chain(reference).chain([0.0]),
                    false,
                    0.0,
                    "bar values",
                )?;
                let span = a.hi - a.lo;
                if a.hi > 0.0 {
                    a.hi += 0.1 * span;
                }
                if a.lo < 0.0 {
                    a.lo -= 0.1 * span;
                }
                a
            }
        };
        let n = self.categories.len();
        let legend = series_legend(
            self.series.iter().map(|(name, _)| name),
            self.reference.as_ref().map(|(_, label)| (label, REFERENCE)),
        );
        category_chart(
            root,
            &self.frame,
            &legend,
            &self.categories,
            &y_axis,
            |chart| {
                let pa = chart.plotting_area();
                let (lo, hi) = (y_axis.lo, y_axis.hi);
                let base = if self.log_y { lo } else { 0.0f64.clamp(lo, hi) };
                let slot = 0.8 / self.series.len() as f64;
                let half = slot * 0.42;
                let slot_px = {
                    let (a, _) = chart.backend_coord(&(0.0, lo));
                    let (b, _) = chart.backend_coord(&(slot, lo));
                    (b - a).abs()
                };
                for (s, (_, values)) in self.series.iter().enumerate() {
                    let color = series_color(s);
                    for (i, &v) in values.iter().enumerate() {
                        let x = i as f64 - 0.4 + slot * (s as f64 + 0.5);
                        let y = y_axis.map(v).clamp(lo, hi);
                        let corners = [(x - half, base), (x + half, y)];
                        pa.draw(&Rectangle::new(corners, color.mix(0.85).filled()))?;
                        pa.draw(&Rectangle::new(corners, darker(color).stroke_width(1)))?;
                        if self.value_labels {
                            let (px, py) = chart.backend_coord(&(x, y));
                            let below = y < base;
                            let label = format_sig3(v);
                            let mut size = NOTE_SIZE;
                            while size >= 9.0 {
                                let style = text(size);
                                let (tw, _) = root.estimate_text_size(&label, &style)?;
                                if tw as i32 <= slot_px + 4 {
                                    let (vpos, dy) = if below {
                                        (VPos::Top, 7)
                                    } else {
                                        (VPos::Bottom, -7)
                                    };
                                    let style = style.pos(Pos::new(HPos::Center, vpos));
                                    root.draw(&Text::new(label, (px, py + dy), style))?;
                                    break;
                                }
                                size -= 1.0;
                            }
                        }
                    }
                }
                if let Some((y, _)) = &self.reference {
                    let y = y_axis.map(*y);
                    if (lo..=hi).contains(&y) {
                        pa.draw(&DashedPathElement::new(
                            vec![(-0.5, y), (n as f64 - 0.5, y)],
                            9,
                            6,
                            REFERENCE.stroke_width(2),
                        ))?;
                    }
                }
                Ok(())
            },
        )
    }
}
