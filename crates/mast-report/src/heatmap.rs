//! Heatmaps: one value per (x category, y category) cell, e.g. the final
//! loss over sparsity levels × step sizes, with diverged cells marked, a
//! colour bar, optional annotations and overlays (e.g. the theory step size
//! and the largest stable step size per sparsity level).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::{format_sig3, Axis};
use crate::error::{ReportError, Result};
use crate::figure::{
    begin, chart, check_names, draw_cross, draw_diamond, frame_methods, legend_row, text,
    y_label_area, AxisSpec, Figure, Frame, LegendEntry, Swatch, NOTE_SIZE,
};

/// How an overlay is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayStyle {
    /// Circles joined by a line (e.g. "theory γ" across sparsity levels).
    LineMarkers,
    /// Diamonds alone (e.g. "largest stable γ").
    Markers,
}

#[derive(Debug, Clone, PartialEq)]
struct Overlay {
    label: String,
    positions: Vec<Option<f64>>,
    style: OverlayStyle,
}

/// A category × category heatmap with a colour bar.
///
/// * Rows are y categories, drawn **bottom to top** in the order given;
///   each row holds one value per x category, left to right.
/// * A cell that is `None`, NaN or ±∞ counts as **diverged**: it is drawn
///   light grey with a "×", and the legend says "diverged".
/// * Colours follow the viridis map (dark = low) over the finite values, or
///   over [`Heatmap::color_range`]; [`Heatmap::log_color`] maps log10 of the
///   values (every finite value must then be positive).
/// * Overlays give, per x category, a y position as a **fractional category
///   index** (0 = centre of the first y category, 1.5 = halfway between the
///   second and the third; `None` = no mark); see [`fractional_index`].
///
/// ```
/// use mast_report::{Figure, Heatmap, OverlayStyle};
/// let fig = Heatmap::new("final loss")
///     .x_categories(["0.1", "0.5"])
///     .y_categories(["1e-2", "1e-1", "1e0"])
///     .values(vec![
///         vec![Some(0.40), Some(0.45)],
///         vec![Some(0.35), Some(0.38)],
///         vec![Some(0.33), None], // diverged
///     ])
///     .annotate(true)
///     .overlay("theory γ", vec![Some(1.2), Some(0.8)], OverlayStyle::LineMarkers);
/// assert!(fig.render_png().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    frame: Frame,
    x_categories: Vec<String>,
    y_categories: Vec<String>,
    values: Vec<Vec<Option<f64>>>,
    log_color: bool,
    reverse: bool,
    color_range: Option<(f64, f64)>,
    color_label: String,
    annotate: bool,
    overlays: Vec<Overlay>,
}

impl Heatmap {
    /// An empty heatmap with a title; add categories and values.
    pub fn new(title: impl Into<String>) -> Self {
        Heatmap {
            frame: Frame::new(title),
            x_categories: Vec::new(),
            y_categories: Vec::new(),
            values: Vec::new(),
            log_color: false,
            reverse: false,
            color_range: None,
            color_label: String::new(),
            annotate: false,
            overlays: Vec::new(),
        }
    }

    frame_methods!();

    /// Sets the x category labels, left to right.
    pub fn x_categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.x_categories = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the y category labels, bottom to top.
    pub fn y_categories<S: Into<String>>(mut self, labels: impl IntoIterator<Item = S>) -> Self {
        self.y_categories = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the cell values: `rows[j][i]` is the cell of y category `j`
    /// and x category `i`; `None`, NaN or ±∞ means diverged.
    pub fn values(mut self, rows: Vec<Vec<Option<f64>>>) -> Self {
        self.values = rows;
        self
    }

    /// Maps colours by log10 of the values.
    pub fn log_color(mut self, on: bool) -> Self {
        self.log_color = on;
        self
    }

    /// Reverses the colour map (bright = low), e.g. for accuracies.
    pub fn reverse_colors(mut self, on: bool) -> Self {
        self.reverse = on;
        self
    }

    /// Fixes the value range of the colour map; values outside get the end
    /// colours.
    pub fn color_range(mut self, lo: f64, hi: f64) -> Self {
        self.color_range = Some((lo, hi));
        self
    }

    /// Sets the label of the colour bar (e.g. "final loss").
    pub fn color_label(mut self, label: impl Into<String>) -> Self {
        self.color_label = label.into();
        self
    }

    /// Writes each finite value in its cell (3 significant digits), when it
    /// fits.
    pub fn annotate(mut self, on: bool) -> Self {
        self.annotate = on;
        self
    }

    /// Adds an overlay named `label`: per x category a fractional y
    /// category index, or `None` for no mark.
    pub fn overlay(
        mut self,
        label: impl Into<String>,
        positions: Vec<Option<f64>>,
        style: OverlayStyle,
    ) -> Self {
        self.overlays.push(Overlay {
            label: label.into(),
            positions,
            style,
        });
        self
    }

    /// Checks shapes, the colour scale and overlays; returns the colour axis.
    fn validate(&self) -> Result<Axis> {
        let nx = check_names(self.x_categories.iter().map(String::as_str), "x category")?;
        let ny = check_names(self.y_categories.iter().map(String::as_str), "y category")?;
        if self.values.len() != ny {
            return Err(ReportError::invalid(format!(
                "heatmap has {} value rows but {ny} y categories",
                self.values.len()
            )));
        }
        for (j, row) in self.values.iter().enumerate() {
            if row.len() != nx {
                return Err(ReportError::invalid(format!(
                    "heatmap row {j} (y = `{}`) has {} values but there are {nx} x categories",
                    self.y_categories[j],
                    row.len()
                )));
            }
        }
        let finite = self
            .values
            .iter()
            .flatten()
            .filter_map(|v| v.filter(|v| v.is_finite()));
        let axis = match self.color_range {
            Some((lo, hi)) => Axis::explicit(lo, hi, self.log_color, "colour range")?,
            None => {
                if finite.clone().next().is_none() {
                    return Err(ReportError::invalid(
                        "every heatmap cell is diverged: nothing to colour (set color_range to draw it anyway)",
                    ));
                }
                let (lo, hi) = colour_extent(finite.clone(), self.log_color)?;
                Axis::padded(lo, hi, self.log_color, 0.0)
            }
        };
        if self.log_color {
            if let Some(v) = finite.clone().find(|&v| v <= 0.0) {
                return Err(ReportError::invalid(format!(
                    "heatmap value {v} is not positive, so it has no colour on a log scale"
                )));
            }
        }
        for o in &self.overlays {
            if o.positions.len() != nx {
                return Err(ReportError::invalid(format!(
                    "overlay `{}` has {} positions but there are {nx} x categories",
                    o.label,
                    o.positions.len()
                )));
            }
            for (i, p) in o.positions.iter().enumerate() {
                let Some(p) = *p else { continue };
                if !(p.is_finite() && (-0.5..=ny as f64 - 0.5).contains(&p)) {
                    return Err(ReportError::invalid(format!(
                        "overlay `{}` at x = `{}`: position {p} is outside the y categories (−0.5 to {})",
                        o.label,
                        self.x_categories[i],
                        ny as f64 - 0.5
                    )));
                }
            }
        }
        Ok(axis)
    }

    fn colour(&self, axis: &Axis, v: f64) -> RGBColor {
        let t = if axis.hi > axis.lo {
            (axis.map(v) - axis.lo) / (axis.hi - axis.lo)
        } else {
            0.5
        };
        let t = t.clamp(0.0, 1.0);
        viridis(if self.reverse { 1.0 - t } else { t })
    }
}

/// Smallest and largest plot-space value of the finite cells.
fn colour_extent(values: impl Iterator<Item = f64>, log: bool) -> Result<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        if log && v <= 0.0 {
            return Err(ReportError::invalid(format!(
                "heatmap value {v} is not positive, so it has no colour on a log scale"
            )));
        }
        let p = if log { v.log10() } else { v };
        lo = lo.min(p);
        hi = hi.max(p);
    }
    Ok((lo, hi))
}

/// The position of `value` along an axis whose categories have the values
/// `axis_values` (strictly increasing or strictly decreasing), as a
/// fractional category index for [`Heatmap::overlay`]: linear interpolation
/// between neighbours (in log10 when `log`), extrapolated up to half a
/// category past either end. `None` when `value` lies further out, or the
/// inputs are unusable (non-finite, non-monotone, non-positive with `log`).
///
/// ```
/// use mast_report::fractional_index;
/// let gammas = [1e-3, 1e-2, 1e-1, 1.0];
/// let i = fractional_index(0.03, &gammas, true).unwrap();
/// assert!((i - (1.0 + 3f64.log10())).abs() < 1e-12);
/// assert_eq!(fractional_index(10.0, &gammas, true), None);
/// ```
pub fn fractional_index(value: f64, axis_values: &[f64], log: bool) -> Option<f64> {
    let map = |v: f64| {
        if !v.is_finite() || (log && v <= 0.0) {
            None
        } else if log {
            Some(v.log10())
        } else {
            Some(v)
        }
    };
    let v = map(value)?;
    let a: Vec<f64> = axis_values.iter().map(|&v| map(v)).collect::<Option<_>>()?;
    let n = a.len();
    if n == 0 {
        return None;
    }
    if n == 1 {
        return (v == a[0]).then_some(0.0);
    }
    let increasing = a[1] > a[0];
    if !a
        .windows(2)
        .all(|w| if increasing { w[1] > w[0] } else { w[1] < w[0] })
    {
        return None;
    }
    // Segment k joins categories k and k + 1; the end segments extrapolate.
    let k = a
        .windows(2)
        .position(|w| (w[0] - v) * (w[1] - v) <= 0.0)
        .unwrap_or(if (v - a[0]) * (a[1] - a[0]) < 0.0 {
            0
        } else {
            n - 2
        });
    let idx = k as f64 + (v - a[k]) / (a[k + 1] - a[k]);
    (-0.5..=n as f64 - 0.5).contains(&idx).then_some(idx)
}

/// The viridis colour map at `t ∈ [0, 1]` (9 anchors, linear in between).
fn viridis(t: f64) -> RGBColor {
    const ANCHORS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let s = t.clamp(0.0, 1.0) * (ANCHORS.len() - 1) as f64;
    let k = (s.floor() as usize).min(ANCHORS.len() - 2);
    let f = s - k as f64;
    let (a, b) = (ANCHORS[k], ANCHORS[k + 1]);
    let mix = |x: u8, y: u8| (x as f64 + f * (y as f64 - x as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

const DIVERGED: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const OVERLAY_COLORS: [RGBColor; 3] = [
    RGBColor(0xE1, 0x35, 0x38),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0xFF, 0xFF, 0xFF),
];
/// Width of the colour bar itself, in pixels.
const BAR_WIDTH: i32 = 24;

impl Figure for Heatmap {
    fn size(&self) -> (u32, u32) {
        (self.frame.width, self.frame.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let caxis = self.validate()?;
        let (nx, ny) = (self.x_categories.len(), self.y_categories.len());
        let any_diverged = self
            .values
            .iter()
            .flatten()
            .any(|v| !v.is_some_and(f64::is_finite));
        let mut entries = Vec::new();
        if any_diverged {
            entries.push(LegendEntry {
                label: "diverged".into(),
                swatch: Swatch::Cross(DIVERGED),
            });
        }
        for (k, o) in self.overlays.iter().enumerate() {
            let c = OVERLAY_COLORS[k % OVERLAY_COLORS.len()];
            entries.push(LegendEntry {
                label: o.label.clone(),
                swatch: match o.style {
                    OverlayStyle::LineMarkers => Swatch::LineMarker(c),
                    OverlayStyle::Markers => Swatch::Marker(c),
                },
            });
        }
        let top = begin(root, &self.frame.title)?;
        let top = legend_row(root, &entries, top)?;
        let (_, area) = root.split_vertically(top);
        let (w, _) = area.dim_in_pixel();
        let (c_bold, _) = caxis.ticks();
        let c_label = |v: &f64| caxis.label(*v);
        let no_label = |_: &f64| String::new();
        // The x spec of the colour bar repeats the heatmap's x description so
        // both charts reserve the same height below; the bar draws no ticks
        // and its description is blank.
        let blank_desc = if self.frame.x_label.is_empty() {
            ""
        } else {
            " "
        };
        let bar_x = AxisSpec {
            range: 0.0..1.0,
            bold: vec![],
            light: vec![],
            label: &no_label,
            desc: blank_desc,
            grid: false,
        };
        let bar_y = AxisSpec {
            range: caxis.range(),
            bold: c_bold,
            light: vec![],
            label: &c_label,
            desc: &self.color_label,
            grid: false,
        };
        let strip = BAR_WIDTH + y_label_area(root, &bar_y)? + 8 + 16;
        let (main, bar) = area.split_horizontally(w as i32 - strip);

        let x_label = |v: &f64| category(&self.x_categories, *v);
        let y_label = |v: &f64| category(&self.y_categories, *v);
        let centres = |n: usize| (0..n).map(|i| i as f64 + 0.5).collect::<Vec<_>>();
        let chart = chart(
            &main,
            AxisSpec {
                range: 0.0..nx as f64,
                bold: centres(nx),
                light: vec![],
                label: &x_label,
                desc: &self.frame.x_label,
                grid: false,
            },
            AxisSpec {
                range: 0.0..ny as f64,
                bold: centres(ny),
                light: vec![],
                label: &y_label,
                desc: &self.frame.y_label,
                grid: false,
            },
            8,
            false,
        )?;
        let pa = chart.plotting_area();
        for (j, row) in self.values.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                let (x, y) = (i as f64, j as f64);
                let fill = match v {
                    Some(v) if v.is_finite() => self.colour(&caxis, *v),
                    _ => DIVERGED,
                };
                pa.draw(&Rectangle::new([(x, y), (x + 1.0, y + 1.0)], fill.filled()))?;
                pa.draw(&Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    WHITE.stroke_width(1),
                ))?;
            }
        }
        // Cell size in pixels decides marks and annotation sizes.
        let (x0, y0) = chart.backend_coord(&(0.0, 0.0));
        let (x1, y1) = chart.backend_coord(&(1.0, 1.0));
        let (cw, ch) = ((x1 - x0).abs(), (y0 - y1).abs());
        for (j, row) in self.values.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                let centre = chart.backend_coord(&(i as f64 + 0.5, j as f64 + 0.5));
                match v {
                    Some(v) if v.is_finite() => {
                        if self.annotate {
                            self.annotate_cell(root, centre, (cw, ch), *v, &caxis)?;
                        }
                    }
                    _ => {
                        let r = (cw.min(ch) / 5).clamp(3, 9);
                        draw_cross(root, centre, r, &RGBColor(0x66, 0x66, 0x66))?;
                    }
                }
            }
        }
        for (k, o) in self.overlays.iter().enumerate() {
            let c = OVERLAY_COLORS[k % OVERLAY_COLORS.len()];
            // Markers alone sit in the left part of their cell when the
            // centre carries an annotation (x is categorical, so this moves
            // nothing that has meaning).
            let dx = if self.annotate && o.style == OverlayStyle::Markers {
                0.17
            } else {
                0.5
            };
            let px: Vec<Option<(i32, i32)>> = o
                .positions
                .iter()
                .enumerate()
                .map(|(i, p)| p.map(|p| chart.backend_coord(&(i as f64 + dx, p + 0.5))))
                .collect();
            match o.style {
                OverlayStyle::LineMarkers => {
                    for w in px.windows(2) {
                        if let [Some(a), Some(b)] = w {
                            root.draw(&PathElement::new(vec![*a, *b], BLACK.stroke_width(5)))?;
                            root.draw(&PathElement::new(vec![*a, *b], c.stroke_width(3)))?;
                        }
                    }
                    for p in px.iter().flatten() {
                        root.draw(&Circle::new(*p, 6, WHITE.filled()))?;
                        root.draw(&Circle::new(*p, 6, c.stroke_width(3)))?;
                    }
                }
                OverlayStyle::Markers => {
                    for p in px.iter().flatten() {
                        draw_diamond(root, *p, 9, BLACK)?;
                        draw_diamond(root, *p, 7, c)?;
                    }
                }
            }
        }
        self.colour_bar(&bar, &caxis, bar_x, bar_y)
    }
}

impl Heatmap {
    /// Writes `v` centred on pixel `centre` if it fits in the cell.
    fn annotate_cell<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        centre: (i32, i32),
        (cw, ch): (i32, i32),
        v: f64,
        caxis: &Axis,
    ) -> Result<()> {
        let label = format_sig3(v);
        let fill = self.colour(caxis, v);
        let luminance = 0.299 * fill.0 as f64 + 0.587 * fill.1 as f64 + 0.114 * fill.2 as f64;
        let ink = if luminance < 140.0 { WHITE } else { BLACK };
        let mut size = NOTE_SIZE;
        while size >= 9.0 {
            let style = text(size);
            let (tw, th) = root.estimate_text_size(&label, &style)?;
            if (tw as i32) < cw - 6 && (th as i32) < ch - 4 {
                let style = style.color(&ink).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new(label, centre, style))?;
                return Ok(());
            }
            size -= 1.0;
        }
        Ok(())
    }

    /// The colour bar: a vertical gradient with ticks on the right.
    fn colour_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caxis: &Axis,
        x: AxisSpec<'_>,
        y: AxisSpec<'_>,
    ) -> Result<()> {
        let (_, area) = area.split_horizontally(16);
        let chart = chart(&area, x, y, 4, true)?;
        let pa = chart.plotting_area();
        let steps = 120;
        let span = caxis.hi - caxis.lo;
        for s in 0..steps {
            let a = caxis.lo + span * s as f64 / steps as f64;
            let b = caxis.lo + span * (s + 1) as f64 / steps as f64;
            let t = (s as f64 + 0.5) / steps as f64;
            let c = viridis(if self.reverse { 1.0 - t } else { t });
            pa.draw(&Rectangle::new([(0.0, a), (1.0, b)], c.filled()))?;
        }
        Ok(())
    }
}

/// The label of the category whose centre is at `v` (`i + 0.5`).
fn category(labels: &[String], v: f64) -> String {
    let i = (v - 0.5).round();
    if i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].clone()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_index_interpolates_and_extrapolates_half_a_cell() {
        let g = [1.0, 2.0, 3.0];
        assert_eq!(fractional_index(2.5, &g, false), Some(1.5));
        assert_eq!(fractional_index(0.6, &g, false), Some(-0.4));
        assert_eq!(fractional_index(0.4, &g, false), None);
        assert_eq!(fractional_index(2.5, &[3.0, 2.0, 1.0], false), Some(0.5));
        assert_eq!(fractional_index(2.5, &[1.0, 3.0, 2.0], false), None);
        assert_eq!(fractional_index(-1.0, &g, true), None);
    }

    #[test]
    fn viridis_ends() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
    }
}
