//! What every figure shares: the [`Figure`] trait (render to RGB, PNG, SVG;
//! save atomically), the page frame (title, axis labels, size), the colour
//! palette, the legend row and the chart builder.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::Ticked;
use crate::error::{ReportError, Result};
use crate::font;
use crate::io::{ensure_dir, write_atomic};

/// Default figure width in pixels.
pub const DEFAULT_WIDTH: u32 = 900;
/// Default figure height in pixels.
pub const DEFAULT_HEIGHT: u32 = 560;

/// Font sizes in pixels.
pub(crate) const TITLE_SIZE: f64 = 22.0;
pub(crate) const DESC_SIZE: f64 = 17.0;
pub(crate) const TICK_SIZE: f64 = 14.0;
pub(crate) const LEGEND_SIZE: f64 = 15.0;
pub(crate) const NOTE_SIZE: f64 = 13.0;

/// Ten distinguishable colours (Tableau 10), used in series order.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4E, 0x79, 0xA7),
    RGBColor(0xF2, 0x8E, 0x2B),
    RGBColor(0x59, 0xA1, 0x4F),
    RGBColor(0xE1, 0x57, 0x59),
    RGBColor(0xB0, 0x7A, 0xA1),
    RGBColor(0x76, 0xB7, 0xB2),
    RGBColor(0x9C, 0x75, 0x5F),
    RGBColor(0xED, 0xC9, 0x48),
    RGBColor(0xFF, 0x9D, 0xA7),
    RGBColor(0xBA, 0xB0, 0xAC),
];

/// The colour of the `i`-th series (the palette repeats after ten).
pub fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A text style of the embedded font at `size` pixels.
pub(crate) fn text(size: f64) -> TextStyle<'static> {
    TextStyle::from((font::FAMILY, size).into_font()).color(&BLACK)
}

/// An RGB image rendered in memory: `pixels` holds `width·height` RGB
/// triples, row by row from the top left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major RGB bytes, `3·width·height` of them.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// The colour at `(x, y)`, or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = 3 * (y as usize * self.width as usize + x as usize);
        Some([self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]])
    }

    /// Encodes the image as PNG.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| ReportError::Plot(format!("PNG encoder: {e}")))?;
        writer
            .write_image_data(&self.pixels)
            .map_err(|e| ReportError::Plot(format!("PNG encoder: {e}")))?;
        writer
            .finish()
            .map_err(|e| ReportError::Plot(format!("PNG encoder: {e}")))?;
        Ok(out)
    }
}

/// A figure that can be drawn on any plotters backend and saved as PNG and
/// SVG. Implementors only provide [`Figure::size`] and [`Figure::draw`].
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Validates the data and draws the whole figure onto `root` (which it
    /// fills with white first). Bad data is reported before anything is
    /// drawn.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;

    /// Renders into an in-memory RGB image (text rasterised with the
    /// embedded font, glyphs at their true positions).
    fn render_rgb(&self) -> Result<RgbImage> {
        let (width, height) = checked_size(self.size())?;
        let mut pixels = vec![255u8; 3 * width as usize * height as usize];
        {
            let backend = font::TextFix(BitMapBackend::with_buffer(&mut pixels, (width, height)));
            let root = backend.into_drawing_area();
            self.draw(&root)?;
            root.present()?;
        }
        Ok(RgbImage {
            width,
            height,
            pixels,
        })
    }

    /// Renders to PNG bytes.
    fn render_png(&self) -> Result<Vec<u8>> {
        self.render_rgb()?.to_png()
    }

    /// Renders to an SVG document. Text stays text (family `sans-serif`).
    fn render_svg(&self) -> Result<String> {
        let size = checked_size(self.size())?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            self.draw(&root)?;
            root.present()?;
        }
        Ok(svg)
    }

    /// Writes `dir/stem.png` and `dir/stem.svg` (creating `dir`), each
    /// atomically through a `.tmp` file in `dir`, and returns their paths,
    /// PNG first. `stem` must be a plain file name without extension.
    fn save(&self, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
        check_stem(stem)?;
        // Render both before writing either, so bad data writes nothing.
        let png = self.render_png()?;
        let svg = self.render_svg()?;
        ensure_dir(dir)?;
        let png_path = dir.join(format!("{stem}.png"));
        let svg_path = dir.join(format!("{stem}.svg"));
        write_atomic(&png_path, &png)?;
        write_atomic(&svg_path, svg.as_bytes())?;
        Ok(vec![png_path, svg_path])
    }
}

fn checked_size((w, h): (u32, u32)) -> Result<(u32, u32)> {
    if !(200..=10_000).contains(&w) || !(150..=10_000).contains(&h) {
        return Err(ReportError::invalid(format!(
            "figure size {w}×{h} px: width must be in 200..=10000 and height in 150..=10000"
        )));
    }
    Ok((w, h))
}

/// Checks that a file stem is a plain, non-empty name.
pub(crate) fn check_stem(stem: &str) -> Result<()> {
    let bad = stem.is_empty()
        || stem == "."
        || stem == ".."
        || stem.contains(['/', '\\', '\0'])
        || stem.trim() != stem;
    if bad {
        return Err(ReportError::invalid(format!(
            "file stem `{stem}` must be a plain non-empty name without path separators"
        )));
    }
    Ok(())
}

/// Title, axis labels and size: the part every figure shares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub width: u32,
    pub height: u32,
}

impl Frame {
    pub fn new(title: impl Into<String>) -> Self {
        Frame {
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
        }
    }
}

/// Builder methods for the shared [`Frame`] of a figure type.
macro_rules! frame_methods {
    () => {
        /// Sets the title drawn centred above the plot (empty: no title).
        pub fn title(mut self, title: impl Into<String>) -> Self {
            self.frame.title = title.into();
            self
        }

        /// Sets the label under the x axis.
        pub fn x_label(mut self, label: impl Into<String>) -> Self {
            self.frame.x_label = label.into();
            self
        }

        /// Sets the label left of the y axis (drawn rotated).
        pub fn y_label(mut self, label: impl Into<String>) -> Self {
            self.frame.y_label = label.into();
            self
        }

        /// Sets the size in pixels (default 900×560). Sizes outside
        /// 200..=10000 × 150..=10000 are rejected when rendering.
        pub fn size(mut self, width: u32, height: u32) -> Self {
            self.frame.width = width;
            self.frame.height = height;
            self
        }
    };
}
pub(crate) use frame_methods;

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    /// A filled box with a darker border (box plots, bars).
    Box(RGBColor),
    /// A translucent band with its mean line (band curves).
    Band(RGBColor),
    /// A dashed line (reference lines).
    Dashed(RGBColor),
    /// A line through a marker (overlays).
    LineMarker(RGBColor),
    /// A marker alone (overlays).
    Marker(RGBColor),
    /// A grey cell with a cross (diverged heatmap cells).
    Cross(RGBColor),
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub swatch: Swatch,
}

const SWATCH_W: i32 = 26;

/// Fills `root` white, registers the font and draws the title; returns the
/// y coordinate below it.
pub(crate) fn begin<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> Result<i32> {
    font::register_fonts()?;
    root.fill(&WHITE)?;
    if title.trim().is_empty() {
        return Ok(8);
    }
    let (w, _) = root.dim_in_pixel();
    let style = text(TITLE_SIZE).pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(title.to_string(), (w as i32 / 2, 12), style))?;
    Ok(12 + TITLE_SIZE as i32 + 10)
}

/// Draws `entries` as centred rows starting at `top`, wrapping when a row
/// would be wider than the figure; returns the y coordinate below them.
pub(crate) fn legend_row<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
    top: i32,
) -> Result<i32> {
    if entries.is_empty() {
        return Ok(top);
    }
    let (w, _) = root.dim_in_pixel();
    let style = text(LEGEND_SIZE);
    let gap = 22;
    let mut widths = Vec::with_capacity(entries.len());
    for e in entries {
        let (tw, _) = root.estimate_text_size(&e.label, &style)?;
        widths.push(SWATCH_W + 7 + tw as i32);
    }
    // Greedy rows.
    let max_row = w as i32 - 60;
    let mut rows: Vec<Vec<usize>> = vec![vec![]];
    let mut row_w = 0;
    for (i, &ew) in widths.iter().enumerate() {
        let extra = if row_w == 0 { ew } else { gap + ew };
        if row_w > 0 && row_w + extra > max_row {
            rows.push(vec![]);
            row_w = ew;
        } else {
            row_w += extra;
        }
        rows.last_mut().expect("one row at least").push(i);
    }
    let row_h = LEGEND_SIZE as i32 + 9;
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|&i| widths[i]).sum::<i32>() + gap * (row.len() as i32 - 1);
        let mut x = (w as i32 - total) / 2;
        let y = top + r as i32 * row_h + row_h / 2;
        for &i in row {
            draw_swatch(root, entries[i].swatch, x, y)?;
            let label_style = style.pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                entries[i].label.clone(),
                (x + SWATCH_W + 7, y),
                label_style,
            ))?;
            x += widths[i] + gap;
        }
    }
    Ok(top + rows.len() as i32 * row_h + 6)
}

fn draw_swatch<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    swatch: Swatch,
    x: i32,
    y: i32,
) -> Result<()> {
    let (l, r) = (x, x + SWATCH_W);
    match swatch {
        Swatch::Box(c) => {
            root.draw(&Rectangle::new(
                [(l + 3, y - 7), (r - 3, y + 7)],
                c.mix(0.75).filled(),
            ))?;
            root.draw(&Rectangle::new(
                [(l + 3, y - 7), (r - 3, y + 7)],
                darker(c).stroke_width(1),
            ))?;
        }
        Swatch::Band(c) => {
            root.draw(&Rectangle::new(
                [(l, y - 7), (r, y + 7)],
                c.mix(0.22).filled(),
            ))?;
            root.draw(&PathElement::new(vec![(l, y), (r, y)], c.stroke_width(3)))?;
        }
        Swatch::Dashed(c) => {
            for s in (l..r).step_by(8) {
                root.draw(&PathElement::new(
                    vec![(s, y), ((s + 5).min(r), y)],
                    c.stroke_width(2),
                ))?;
            }
        }
        Swatch::LineMarker(c) => {
            root.draw(&PathElement::new(vec![(l, y), (r, y)], c.stroke_width(2)))?;
            root.draw(&Circle::new((x + SWATCH_W / 2, y), 5, WHITE.filled()))?;
            root.draw(&Circle::new((x + SWATCH_W / 2, y), 5, c.stroke_width(2)))?;
        }
        Swatch::Marker(c) => {
            draw_diamond(root, (x + SWATCH_W / 2, y), 7, c)?;
        }
        Swatch::Cross(c) => {
            root.draw(&Rectangle::new(
                [(l + 3, y - 8), (r - 3, y + 8)],
                c.filled(),
            ))?;
            draw_cross(root, (x + SWATCH_W / 2, y), 5, &RGBColor(0x55, 0x55, 0x55))?;
        }
    }
    Ok(())
}

/// A filled diamond with a white edge, centred on pixel `c`.
pub(crate) fn draw_diamond<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    r: i32,
    color: RGBColor,
) -> Result<()> {
    let pts = vec![(x, y - r), (x + r, y), (x, y + r), (x - r, y)];
    root.draw(&Polygon::new(pts.clone(), color.filled()))?;
    let mut closed = pts;
    closed.push((x, y - r));
    root.draw(&PathElement::new(closed, WHITE.stroke_width(1)))?;
    Ok(())
}

/// An "×" of half-size `r` centred on pixel `c`.
pub(crate) fn draw_cross<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (x, y): (i32, i32),
    r: i32,
    color: &RGBColor,
) -> Result<()> {
    root.draw(&PathElement::new(
        vec![(x - r, y - r), (x + r, y + r)],
        color.stroke_width(2),
    ))?;
    root.draw(&PathElement::new(
        vec![(x - r, y + r), (x + r, y - r)],
        color.stroke_width(2),
    ))?;
    Ok(())
}

/// `c` darkened by a third (edges of filled shapes).
pub(crate) fn darker(c: RGBColor) -> RGBColor {
    let f = |v: u8| (v as f64 * 0.65) as u8;
    RGBColor(f(c.0), f(c.1), f(c.2))
}

/// The coordinate system of every chart: f64 axes with explicit ticks.
pub(crate) type Coords = Cartesian2d<Ticked, Ticked>;

/// One axis of a chart: plot-space range, labelled and light ticks, a tick
/// label function and the axis description.
pub(crate) struct AxisSpec<'a> {
    pub range: std::ops::Range<f64>,
    pub bold: Vec<f64>,
    pub light: Vec<f64>,
    pub label: &'a dyn Fn(&f64) -> String,
    pub desc: &'a str,
    /// Draw grid lines across the plot for this axis' ticks.
    pub grid: bool,
}

/// Width for the y tick labels plus the rotated description.
pub(crate) fn y_label_area<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    y: &AxisSpec<'_>,
) -> Result<i32> {
    let tick = text(TICK_SIZE);
    let mut widest = 0u32;
    for t in &y.bold {
        widest = widest.max(area.estimate_text_size(&(y.label)(t), &tick)?.0);
    }
    Ok(widest as i32
        + 14
        + if y.desc.is_empty() {
            4
        } else {
            DESC_SIZE as i32 + 14
        })
}

/// Builds the chart on `area` and draws its axes, ticks and grid.
pub(crate) fn chart<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: AxisSpec<'b>,
    y: AxisSpec<'b>,
    right_margin: i32,
    y_on_right: bool,
) -> Result<ChartContext<'a, DB, Coords>> {
    // Room for the widest y tick label plus the rotated description.
    let tick = text(TICK_SIZE);
    let mut widest = 0u32;
    for t in &y.bold {
        widest = widest.max(area.estimate_text_size(&(y.label)(t), &tick)?.0);
    }
    let y_area = widest as i32
        + 14
        + if y.desc.is_empty() {
            4
        } else {
            DESC_SIZE as i32 + 14
        };
    let x_area = TICK_SIZE as i32
        + 16
        + if x.desc.is_empty() {
            4
        } else {
            DESC_SIZE as i32 + 14
        };
    let xr = Ticked {
        lo: x.range.start,
        hi: x.range.end,
        bold: x.bold.clone(),
        light: x.light.clone(),
    };
    let yr = Ticked {
        lo: y.range.start,
        hi: y.range.end,
        bold: y.bold.clone(),
        light: y.light.clone(),
    };
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(6)
        .margin_right(right_margin)
        .margin_left(6)
        .margin_bottom(6)
        .x_label_area_size(x_area);
    if y_on_right {
        builder.right_y_label_area_size(y_area);
    } else {
        builder.y_label_area_size(y_area);
    }
    let mut chart = builder.build_cartesian_2d(xr, yr)?;
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(x.label)
        .y_label_formatter(y.label)
        .x_labels(x.bold.len().max(1))
        .y_labels(y.bold.len().max(1))
        .label_style(tick)
        .axis_desc_style(text(DESC_SIZE))
        .bold_line_style(RGBColor(0xDD, 0xDD, 0xDD).stroke_width(1))
        .light_line_style(RGBColor(0xF0, 0xF0, 0xF0).stroke_width(1))
        .axis_style(RGBColor(0x44, 0x44, 0x44).stroke_width(1))
        .set_all_tick_mark_size(5);
    if !x.desc.is_empty() {
        mesh.x_desc(x.desc);
    }
    if !y.desc.is_empty() {
        mesh.y_desc(y.desc);
    }
    if !x.grid {
        mesh.disable_x_mesh();
    }
    if !y.grid {
        mesh.disable_y_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// Checks a series or group name list for emptiness and duplicates.
pub(crate) fn check_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> Result<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    for name in names {
        if !seen.insert(name) {
            return Err(ReportError::invalid(format!(
                "{what} `{name}` appears twice"
            )));
        }
        n += 1;
    }
    if n == 0 {
        return Err(ReportError::invalid(format!("no {what}s")));
    }
    Ok(n)
}

/// Errors unless `v` is finite; `what` says where the value comes from.
pub(crate) fn check_finite(v: f64, what: impl FnOnce() -> String) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ReportError::invalid(format!(
            "{} is {v} (must be finite)",
            what()
        )))
    }
}

/// Legend entries of a categorical chart: a filled box per series, then the
/// dashed reference line, if any, in `reference` colour.
pub(crate) fn series_legend<'a>(
    names: impl Iterator<Item = &'a String>,
    reference: Option<(&String, RGBColor)>,
) -> Vec<LegendEntry> {
    let mut entries: Vec<LegendEntry> = names
        .enumerate()
        .map(|(i, name)| LegendEntry {
            label: name.clone(),
            swatch: Swatch::Box(series_color(i)),
        })
        .collect();
    if let Some((label, color)) = reference {
        entries.push(LegendEntry {
            label: label.clone(),
            swatch: Swatch::Dashed(color),
        });
    }
    entries
}

/// The frame of a categorical chart (bar charts, box plots): the title and the
/// legend row, then axes with one labelled tick per category at x = 0, 1, …
/// and `y_axis` on the left with grid lines; `draw` then fills the plot.
pub(crate) fn category_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    frame: &Frame,
    legend: &[LegendEntry],
    categories: &[String],
    y_axis: &crate::axis::Axis,
    draw: impl FnOnce(&ChartContext<'_, DB, Coords>) -> Result<()>,
) -> Result<()> {
    let top = begin(root, &frame.title)?;
    let top = legend_row(root, legend, top)?;
    let (_, area) = root.split_vertically(top);
    let n = categories.len();
    let x_label = |v: &f64| {
        let i = v.round();
        if i >= 0.0 && (i as usize) < n {
            categories[i as usize].clone()
        } else {
            String::new()
        }
    };
    let (y_bold, y_light) = y_axis.ticks();
    let y_label = |v: &f64| y_axis.label(*v);
    let chart = chart(
        &area,
        AxisSpec {
            range: -0.5..n as f64 - 0.5,
            bold: (0..n).map(|i| i as f64).collect(),
            light: vec![],
            label: &x_label,
            desc: &frame.x_label,
            grid: false,
        },
        AxisSpec {
            range: y_axis.range(),
            bold: y_bold,
            light: y_light,
            label: &y_label,
            desc: &frame.y_label,
            grid: true,
        },
        24,
        false,
    )?;
    draw(&chart)
}
