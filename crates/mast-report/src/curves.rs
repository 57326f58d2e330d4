//! Mean curves with shaded bands: training curves over seeds (loss or
//! accuracy against iterations), each series a mean line inside a
//! translucent lower/upper band.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axis::Axis;
use crate::error::{ReportError, Result};
use crate::figure::{
    begin, chart, check_finite, check_names, frame_methods, legend_row, series_color, AxisSpec,
    Figure, Frame, LegendEntry, Swatch,
};
use crate::quantiles::{mean_std, quantile};

/// How [`BandCurves::series_from_runs`] summarises the runs at each x.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Band {
    /// Line at the mean, band from the smallest to the largest run.
    MinMax,
    /// Line at the mean, band at mean ± k sample standard deviations.
    StdDev(f64),
    /// Line at the median, band between the two given type-7 quantile
    /// levels (e.g. `Quantiles(0.1, 0.9)`).
    Quantiles(f64, f64),
}

#[derive(Debug, Clone, PartialEq)]
enum SeriesData {
    Explicit {
        mean: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
    },
    Runs {
        runs: Vec<Vec<f64>>,
        band: Band,
    },
}

/// Mean (or median) lines with translucent bands over shared x values.
///
/// * Every series has one value per x; x must be finite and strictly
///   increasing; every value finite; `lower ≤ upper` at each x.
/// * **Log y** ([`BandCurves::log_y`]): line values must be positive (an
///   error otherwise). Band values `≤ 0` — a mean − 2·std band of a loss
///   near zero — are **clamped** to the bottom of the axis, which is placed
///   below the smallest positive value drawn.
/// * **Log x** ([`BandCurves::log_x`]): every x must be positive (an error
///   otherwise; drop iteration 0 or plot `iteration + 1`).
///
/// ```
/// use mast_report::{Band, BandCurves, Figure};
/// let runs = vec![vec![1.0, 0.5, 0.3], vec![1.2, 0.6, 0.25]];
/// let fig = BandCurves::new("training loss")
///     .x_values(vec![1.0, 10.0, 100.0])
///     .log_x(true)
///     .log_y(true)
///     .series_from_runs("mast", runs, Band::MinMax)
///     .series("erm", vec![0.9, 0.4, 0.2], vec![0.8, 0.35, 0.18], vec![1.0, 0.45, 0.22]);
/// assert!(fig.render_png().is_ok());
/// let bad = BandCurves::new("x").x_values(vec![1.0, 2.0]).series("s", vec![1.0], vec![1.0], vec![1.0]);
/// assert!(bad.render_png().is_err()); // one value for two x
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BandCurves {
    frame: Frame,
    x: Vec<f64>,
    series: Vec<(String, SeriesData)>,
    log_x: bool,
    log_y: bool,
    y_range: Option<(f64, f64)>,
}

/// A series after validation: line and band, one value per x.
struct Resolved {
    line: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl BandCurves {
    /// An empty figure with a title; set the x values and add series.
    pub fn new(title: impl Into<String>) -> Self {
        BandCurves {
            frame: Frame::new(title),
            x: Vec::new(),
            series: Vec::new(),
            log_x: false,
            log_y: false,
            y_range: None,
        }
    }

    frame_methods!();

    /// Sets the x values shared by all series (e.g. iteration numbers).
    pub fn x_values(mut self, x: Vec<f64>) -> Self {
        self.x = x;
        self
    }

    /// Adds a series from its line and band values, one each per x.
    pub fn series(
        mut self,
        name: impl Into<String>,
        mean: Vec<f64>,
        lower: Vec<f64>,
        upper: Vec<f64>,
    ) -> Self {
        self.series
            .push((name.into(), SeriesData::Explicit { mean, lower, upper }));
        self
    }

    /// Adds a series summarising several runs (e.g. one per seed), each
    /// with one value per x, as `band` says.
    pub fn series_from_runs(
        mut self,
        name: impl Into<String>,
        runs: Vec<Vec<f64>>,
        band: Band,
    ) -> Self {
        self.series
            .push((name.into(), SeriesData::Runs { runs, band }));
        self
    }

    /// Log10 x axis (x must be positive).
    pub fn log_x(mut self, on: bool) -> Self {
        self.log_x = on;
        self
    }

    /// Log10 y axis (see the type docs for non-positive values).
    pub fn log_y(mut self, on: bool) -> Self {
        self.log_y = on;
        self
    }

    /// Fixes the y range (data units) instead of covering all values.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    fn resolve(&self) -> Result<Vec<Resolved>> {
        let n = self.x.len();
        if n == 0 {
            return Err(ReportError::invalid("band curves: no x values"));
        }
        for (i, &x) in self.x.iter().enumerate() {
            check_finite(x, || format!("x value {i}"))?;
            if self.log_x && x <= 0.0 {
                return Err(ReportError::invalid(format!(
                    "x value {i} is {x}: a log x axis needs positive x"
                )));
            }
            if i > 0 && x <= self.x[i - 1] {
                return Err(ReportError::invalid(format!(
                    "x values must increase strictly: x[{i}] = {x} follows {}",
                    self.x[i - 1]
                )));
            }
        }
        check_names(self.series.iter().map(|(s, _)| s.as_str()), "series")?;
        self.series
            .iter()
            .map(|(name, data)| {
                let r = resolve_one(name, data, n)?;
                for i in 0..n {
                    check_finite(r.line[i], || format!("series `{name}`, line value {i}"))?;
                    check_finite(r.lower[i], || {
                        format!("series `{name}`, lower band value {i}")
                    })?;
                    check_finite(r.upper[i], || {
                        format!("series `{name}`, upper band value {i}")
                    })?;
                    if r.lower[i] > r.upper[i] {
                        return Err(ReportError::invalid(format!(
                            "series `{name}` at x[{i}]: lower band {} is above upper band {}",
                            r.lower[i], r.upper[i]
                        )));
                    }
                    if self.log_y && r.line[i] <= 0.0 {
                        return Err(ReportError::invalid(format!(
                            "series `{name}` at x[{i}]: value {} cannot be drawn on a log y axis",
                            r.line[i]
                        )));
                    }
                }
                Ok(r)
            })
            .collect()
    }
}

fn resolve_one(name: &str, data: &SeriesData, n: usize) -> Result<Resolved> {
    let wrong = |what: &str, len: usize| {
        ReportError::invalid(format!(
            "series `{name}`: {what} has {len} values but there are {n} x values"
        ))
    };
    match data {
        SeriesData::Explicit { mean, lower, upper } => {
            for (what, v) in [("line", mean), ("lower band", lower), ("upper band", upper)] {
                if v.len() != n {
                    return Err(wrong(what, v.len()));
                }
            }
            Ok(Resolved {
                line: mean.clone(),
                lower: lower.clone(),
                upper: upper.clone(),
            })
        }
        SeriesData::Runs { runs, band } => {
            if runs.is_empty() {
                return Err(ReportError::invalid(format!("series `{name}` has no runs")));
            }
            for (r, run) in runs.iter().enumerate() {
                if run.len() != n {
                    return Err(wrong(&format!("run {r}"), run.len()));
                }
            }
            let mut out = Resolved {
                line: Vec::with_capacity(n),
                lower: Vec::with_capacity(n),
                upper: Vec::with_capacity(n),
            };
            let mut column = Vec::with_capacity(runs.len());
            for i in 0..n {
                column.clear();
                column.extend(runs.iter().map(|run| run[i]));
                let at = |e: ReportError| {
                    ReportError::invalid(format!("series `{name}` at x[{i}]: {e}"))
                };
                let (line, lo, hi) = match *band {
                    Band::MinMax => {
                        let (m, _) = mean_std(&column).map_err(at)?;
                        let lo = column.iter().copied().fold(f64::INFINITY, f64::min);
                        let hi = column.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        (m, lo, hi)
                    }
                    Band::StdDev(k) => {
                        let (m, s) = mean_std(&column).map_err(at)?;
                        (m, m - k.abs() * s, m + k.abs() * s)
                    }
                    Band::Quantiles(a, b) => (
                        quantile(&column, 0.5).map_err(at)?,
                        quantile(&column, a.min(b)).map_err(at)?,
                        quantile(&column, a.max(b)).map_err(at)?,
                    ),
                };
                out.line.push(line);
                out.lower.push(lo);
                out.upper.push(hi);
            }
            Ok(out)
        }
    }
}

impl Figure for BandCurves {
    fn size(&self) -> (u32, u32) {
        (self.frame.width, self.frame.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let series = self.resolve()?;
        let x_axis = Axis::covering(self.x.iter().copied(), self.log_x, 0.0, "x values")?;
        let y_axis = match self.y_range {
            Some((lo, hi)) => Axis::explicit(lo, hi, self.log_y, "y range")?,
            None => {
                let values = series
                    .iter()
                    .flat_map(|s| s.line.iter().chain(&s.lower).chain(&s.upper).copied())
                    .filter(|&v| !self.log_y || v > 0.0);
                Axis::covering(values, self.log_y, 0.05, "curve values")?
            }
        };
        let entries: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (name, _))| LegendEntry {
                label: name.clone(),
                swatch: Swatch::Band(series_color(i)),
            })
            .collect();
        let top = begin(root, &self.frame.title)?;
        let top = legend_row(root, &entries, top)?;
        let (_, area) = root.split_vertically(top);
        let (x_bold, x_light) = x_axis.ticks();
        let (y_bold, y_light) = y_axis.ticks();
        let x_label = |v: &f64| x_axis.label(*v);
        let y_label = |v: &f64| y_axis.label(*v);
        let chart = chart(
            &area,
            AxisSpec {
                range: x_axis.range(),
                bold: x_bold,
                light: x_light,
                label: &x_label,
                desc: &self.frame.x_label,
                grid: true,
            },
            AxisSpec {
                range: y_axis.range(),
                bold: y_bold,
                light: y_light,
                label: &y_label,
                desc: &self.frame.y_label,
                grid: true,
            },
            28,
            false,
        )?;
        let pa = chart.plotting_area();
        // Plot-space values clamped into the visible range (log clamps
        // non-positive band values to the bottom).
        let py = |v: f64| {
            let p = if self.log_y {
                if v > 0.0 {
                    v.log10()
                } else {
                    f64::NEG_INFINITY
                }
            } else {
                v
            };
            p.clamp(y_axis.lo, y_axis.hi)
        };
        let xs: Vec<f64> = self.x.iter().map(|&x| x_axis.map(x)).collect();
        // Bands first, so every line lies on top of every band.
        for (i, s) in series.iter().enumerate() {
            let mut poly: Vec<(f64, f64)> =
                xs.iter().zip(&s.upper).map(|(&x, &u)| (x, py(u))).collect();
            poly.extend(xs.iter().zip(&s.lower).rev().map(|(&x, &l)| (x, py(l))));
            pa.draw(&Polygon::new(poly, series_color(i).mix(0.2).filled()))?;
        }
        for (i, s) in series.iter().enumerate() {
            let points: Vec<(f64, f64)> =
                xs.iter().zip(&s.line).map(|(&x, &m)| (x, py(m))).collect();
            pa.draw(&PathElement::new(points, series_color(i).stroke_width(2)))?;
        }
        Ok(())
    }
}
