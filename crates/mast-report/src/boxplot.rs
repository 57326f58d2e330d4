//! Grouped Tukey box plots: groups along x (e.g. sparsity levels), several
//! series side by side in each group (e.g. ERM and MAST), one sample per
//! (series, group) cell.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use crate::axis::Axis;
use crate::error::{ReportError, Result};
use crate::figure::{
    category_chart, check_finite, check_names, darker, frame_methods, series_color, series_legend,
    Figure, Frame,
};
use crate::quantiles::BoxStats;

/// Grouped box plots with a legend and an optional reference line.
///
/// Each box shows the type-7 quartiles of its cell (see
/// [`Quartiles`](crate::Quartiles)) with the median as a dark line; whiskers
/// reach the most extreme samples within 1.5·IQR of the box; samples beyond
/// are drawn as small circles. The y range covers every sample of every
/// series (so all groups share one scale) unless [`BoxplotFigure::y_range`]
/// sets it, in which case parts outside are clipped.
///
/// A cell with no samples draws no box (e.g. a method not run at one
/// sparsity level); a series with no samples at all, a NaN or ±∞ sample, or
/// a series whose number of cells differs from the number of groups is an
/// error.
///
/// ```
/// use mast_report::{BoxplotFigure, Figure};
/// let fig = BoxplotFigure::new("final loss")
///     .groups(["0.1", "0.3"])
///     .series("erm", vec![vec![0.40, 0.42], vec![0.50, 0.55]])
///     .series("mast", vec![vec![0.39, 0.40], vec![]]); // not run at 0.3
/// assert!(fig.render_svg().unwrap().contains("final loss"));
/// let bad = BoxplotFigure::new("x").groups(["a", "b"]).series("s", vec![vec![1.0]]);
/// assert!(bad.render_png().is_err()); // one cell for two groups
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BoxplotFigure {
    frame: Frame,
    groups: Vec<String>,
    series: Vec<(String, Vec<Vec<f64>>)>,
    reference: Option<(f64, String)>,
    y_range: Option<(f64, f64)>,
}

impl BoxplotFigure {
    /// An empty box plot with a title; add groups and series.
    pub fn new(title: impl Into<String>) -> Self {
        BoxplotFigure {
            frame: Frame::new(title),
            groups: Vec::new(),
            series: Vec::new(),
            reference: None,
            y_range: None,
        }
    }

    frame_methods!();

    /// Sets the group labels along x, left to right.
    pub fn groups<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.groups = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a series: one sample list per group, in group order. Series are
    /// drawn side by side within each group, coloured in the order added.
    pub fn series(mut self, name: impl Into<String>, samples_per_group: Vec<Vec<f64>>) -> Self {
        self.series.push((name.into(), samples_per_group));
        self
    }

    /// Draws a dashed horizontal line at `y`, named `label` in the legend
    /// (e.g. the accuracy of the unpruned ERM model).
    pub fn reference_line(mut self, y: f64, label: impl Into<String>) -> Self {
        self.reference = Some((y, label.into()));
        self
    }

    /// Fixes the y range instead of covering all data.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Checks the data and computes the statistics of every cell
    /// (`stats[series][group]`, `None` for an empty cell).
    fn stats(&self) -> Result<Vec<Vec<Option<BoxStats>>>> {
        let n_groups = check_names(self.groups.iter().map(String::as_str), "group")?;
        check_names(self.series.iter().map(|(n, _)| n.as_str()), "series")?;
        let mut all = Vec::with_capacity(self.series.len());
        for (name, cells) in &self.series {
            if cells.len() != n_groups {
                return Err(ReportError::invalid(format!(
                    "series `{name}` has {} sample lists but there are {n_groups} groups",
                    cells.len()
                )));
            }
            if cells.iter().all(Vec::is_empty) {
                return Err(ReportError::invalid(format!(
                    "series `{name}` has no samples"
                )));
            }
            let mut row = Vec::with_capacity(n_groups);
            for (g, cell) in cells.iter().enumerate() {
                for (i, &v) in cell.iter().enumerate() {
                    check_finite(v, || {
                        format!("series `{name}`, group `{}`, sample {i}", self.groups[g])
                    })?;
                }
                row.push(if cell.is_empty() {
                    None
                } else {
                    Some(BoxStats::from_samples(cell)?)
                });
            }
            all.push(row);
        }
        if let Some((y, label)) = &self.reference {
            check_finite(*y, || format!("reference line `{label}`"))?;
        }
        Ok(all)
    }
}

impl Figure for BoxplotFigure {
    fn size(&self) -> (u32, u32) {
        (self.frame.width, self.frame.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let stats = self.stats()?;
        let y_axis = match self.y_range {
            Some((lo, hi)) => Axis::explicit(lo, hi, false, "box plot y range")?,
            None => {
                let data = self
                    .series
                    .iter()
                    .flat_map(|(_, c)| c.iter().flatten().copied());
                let reference = self.reference.iter().map(|(y, _)| *y);
                Axis::covering(data.chain(reference), false, 0.06, "box plot data")?
            }
        };
        let n_groups = self.groups.len();
        let legend = series_legend(
            self.series.iter().map(|(name, _)| name),
            self.reference.as_ref().map(|(_, label)| (label, REFERENCE)),
        );
        category_chart(root, &self.frame, &legend, &self.groups, &y_axis, |chart| {
            let pa = chart.plotting_area();
            let (lo, hi) = (y_axis.lo, y_axis.hi);
            let clamp = |v: f64| v.clamp(lo, hi);
            // Faint separators between groups.
            for g in 1..n_groups {
                let x = g as f64 - 0.5;
                pa.draw(&PathElement::new(
                    vec![(x, lo), (x, hi)],
                    RGBColor(0xE4, 0xE4, 0xE4).stroke_width(1),
                ))?;
            }
            if let Some((y, _)) = &self.reference {
                if (lo..=hi).contains(y) {
                    pa.draw(&DashedPathElement::new(
                        vec![(-0.5, *y), (n_groups as f64 - 0.5, *y)],
                        9,
                        6,
                        REFERENCE.stroke_width(2),
                    ))?;
                }
            }
            let n_series = self.series.len();
            let slot = 0.8 / n_series as f64;
            let half = (slot * 0.36).min(0.18);
            for (s, row) in stats.iter().enumerate() {
                let color = series_color(s);
                let edge = darker(color);
                for (g, cell) in row.iter().enumerate() {
                    let Some(b) = cell else { continue };
                    let x = g as f64 - 0.4 + slot * (s as f64 + 0.5);
                    let q = &b.quartiles;
                    // Whiskers with caps.
                    for (from, to) in [(q.q1, b.whisker_low), (q.q3, b.whisker_high)] {
                        pa.draw(&PathElement::new(
                            vec![(x, clamp(from)), (x, clamp(to))],
                            edge.stroke_width(2),
                        ))?;
                        if (lo..=hi).contains(&to) {
                            pa.draw(&PathElement::new(
                                vec![(x - half * 0.5, to), (x + half * 0.5, to)],
                                edge.stroke_width(2),
                            ))?;
                        }
                    }
                    // Box and median.
                    let corners = [(x - half, clamp(q.q3)), (x + half, clamp(q.q1))];
                    pa.draw(&Rectangle::new(corners, color.mix(0.55).filled()))?;
                    pa.draw(&Rectangle::new(corners, edge.stroke_width(2)))?;
                    if (lo..=hi).contains(&q.median) {
                        pa.draw(&PathElement::new(
                            vec![(x - half, q.median), (x + half, q.median)],
                            RGBColor(0x20, 0x20, 0x20).stroke_width(3),
                        ))?;
                    }
                    for &o in b.outliers.iter().filter(|o| (lo..=hi).contains(*o)) {
                        pa.draw(&Circle::new((x, o), 3, edge.stroke_width(1)))?;
                    }
                }
            }
            Ok(())
        })
    }
}

/// The colour of reference lines.
const REFERENCE: RGBColor = RGBColor(0x40, 0x40, 0x40);
