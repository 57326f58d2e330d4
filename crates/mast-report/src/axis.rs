//! Numeric axes: linear or log10 scale, padded ranges, "nice" tick positions
//! and tick labels. Figures plot in *plot space* (log10 of the data on a log
//! axis), so one chart type serves every scale.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

use crate::error::{ReportError, Result};

/// A numeric axis: its scale and its range in plot space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Axis {
    /// Whether the axis is log10.
    pub log: bool,
    /// Lower end in plot space.
    pub lo: f64,
    /// Upper end in plot space.
    pub hi: f64,
}

impl Axis {
    /// An axis covering `values` (data space) with `pad` (a fraction of the
    /// span) added on both ends. On a log axis every value must be positive.
    /// `what` names the axis in error messages.
    pub fn covering(
        values: impl IntoIterator<Item = f64>,
        log: bool,
        pad: f64,
        what: &str,
    ) -> Result<Axis> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values {
            if !v.is_finite() {
                return Err(ReportError::invalid(format!(
                    "{what}: value {v} is not finite"
                )));
            }
            if log && v <= 0.0 {
                return Err(ReportError::invalid(format!(
                    "{what}: value {v} is not positive, so it has no place on a log axis"
                )));
            }
            let p = if log { v.log10() } else { v };
            lo = lo.min(p);
            hi = hi.max(p);
        }
        if lo > hi {
            return Err(ReportError::invalid(format!("{what}: no values")));
        }
        Ok(Axis::padded(lo, hi, log, pad))
    }

    /// An axis over the data-space range `[lo, hi]`, unpadded.
    pub fn explicit(lo: f64, hi: f64, log: bool, what: &str) -> Result<Axis> {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(ReportError::invalid(format!(
                "{what}: range [{lo}, {hi}] must be finite with lower < upper"
            )));
        }
        if log && lo <= 0.0 {
            return Err(ReportError::invalid(format!(
                "{what}: range [{lo}, {hi}] must be positive on a log axis"
            )));
        }
        let map = |v: f64| if log { v.log10() } else { v };
        Ok(Axis {
            log,
            lo: map(lo),
            hi: map(hi),
        })
    }

    /// `[lo, hi]` in plot space widened by `pad`·span on both ends; a single
    /// value gets a span of its own.
    pub fn padded(lo: f64, hi: f64, log: bool, pad: f64) -> Axis {
        let span = hi - lo;
        let (lo, hi) = if span > 0.0 {
            (lo - pad * span, hi + pad * span)
        } else if log {
            (lo - 0.5, hi + 0.5)
        } else {
            let half = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
            (lo - half, hi + half)
        };
        Axis { log, lo, hi }
    }

    /// Data space → plot space.
    pub fn map(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }

    /// The range in plot space.
    pub fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }

    /// Labelled ("bold") and unlabelled ("light") tick positions, in plot
    /// space.
    pub fn ticks(&self) -> (Vec<f64>, Vec<f64>) {
        if self.log {
            log_ticks(self.lo, self.hi)
        } else {
            let step = nice_step(self.hi - self.lo, 6.0);
            let bold = steps(self.lo, self.hi, step);
            let light = steps(self.lo, self.hi, step / 2.0)
                .into_iter()
                .filter(|t| !bold.iter().any(|b| (b - t).abs() < step * 1e-6))
                .collect();
            (bold, light)
        }
    }

    /// The label of the tick at plot-space position `t`.
    pub fn label(&self, t: f64) -> String {
        if self.log {
            log_label(t)
        } else {
            let step = nice_step(self.hi - self.lo, 6.0);
            format_with_step(t, step)
        }
    }
}

/// The multiple of 1, 2 or 5 times a power of ten closest to `span / target`.
pub(crate) fn nice_step(span: f64, target: f64) -> f64 {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let m = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Multiples of `step` inside `[lo, hi]`.
fn steps(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last.max(first - 1))
        .map(|k| {
            let v = k as f64 * step;
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// Formats `v` with as many decimals as a tick step of `step` needs;
/// scientific notation for very large or very small magnitudes.
pub(crate) fn format_with_step(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().max(step.abs());
    if !(1e-3..1e5).contains(&mag) {
        return format_sci(v);
    }
    let decimals = (-step.abs().log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// Compact scientific notation: `1e-3`, `2.5e4`.
pub fn format_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v:.2e}");
    // `2.50e-3` → `2.5e-3`, `1.00e4` → `1e4`.
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exp}")
}

/// Three significant digits: `0.345`, `12.3`, `1.2e-4` (cell and bar
/// annotations).
pub(crate) fn format_sig3(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if (-2..=3).contains(&mag) {
        let decimals = (2 - mag).max(0) as usize;
        format!("{v:.decimals$}")
    } else {
        format_sci(v)
    }
}

/// Unicode superscript digits for an integer exponent.
fn superscript(k: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if k < 0 {
        s.push('⁻');
    }
    for c in k.unsigned_abs().to_string().chars() {
        s.push(DIGITS[c.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// The label of a log-axis tick at `t = log10(value)`: `10⁻²` for powers
/// of ten, plain decimals (`0.02`, `350`) for other values of moderate
/// size, `2×10⁻⁵` otherwise.
fn log_label(t: f64) -> String {
    let v = 10f64.powf(t);
    if (t - t.round()).abs() < 1e-9 {
        return format!("10{}", superscript(t.round() as i64));
    }
    if (1e-3..1e5).contains(&v) {
        // Four significant digits, trailing zeros trimmed.
        let decimals = (3 - v.log10().floor() as i32).max(0) as usize;
        let s = format!("{v:.decimals$}");
        return if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
    }
    let k = t.floor();
    let m = 10f64.powf(t - k);
    if (m - m.round()).abs() < 1e-6 {
        format!("{}×10{}", m.round() as i64, superscript(k as i64))
    } else {
        format_sci(v)
    }
}

/// Ticks of a log axis spanning plot-space `[lo, hi]`: decades labelled
/// (every other one when there are many); 2× and 5× labelled too when the
/// axis spans less than two decades; the other integer multiples light.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let first = lo.floor() as i64;
    let last = hi.ceil() as i64;
    let decades = (last - first).max(1);
    let every = if decades > 8 { (decades + 5) / 6 } else { 1 };
    let (mut bold, mut light) = (Vec::new(), Vec::new());
    let inside = |t: f64| t >= lo - 1e-9 && t <= hi + 1e-9;
    for k in first..=last {
        for m in 1..10 {
            let t = k as f64 + (m as f64).log10();
            if !inside(t) {
                continue;
            }
            let labelled = if m == 1 {
                k.rem_euclid(every) == 0
            } else {
                (m == 2 || m == 5) && hi - lo < 2.0
            };
            if labelled {
                bold.push(t);
            } else if decades <= 3 {
                light.push(t);
            }
        }
    }
    if bold.len() < 2 {
        // Less than a decade with no round value inside: linear ticks in
        // data space, placed logarithmically.
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        let step = nice_step(b - a, 5.0);
        bold = steps(a, b, step)
            .into_iter()
            .filter(|&v| v > 0.0)
            .map(f64::log10)
            .collect();
        light.clear();
    }
    (bold, light)
}

/// A plotters coordinate: a linear f64 range whose tick positions are given
/// explicitly (labelled `bold`, unlabelled `light`).
#[derive(Debug, Clone)]
pub(crate) struct Ticked {
    pub lo: f64,
    pub hi: f64,
    pub bold: Vec<f64>,
    pub light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = ((v - self.lo) / span).clamp(-10.0, 11.0);
        limit.0 + ((limit.1 - limit.0) as f64 * t + 1e-3).floor() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_nice() {
        let a = Axis {
            log: false,
            lo: 0.0,
            hi: 1.0,
        };
        let (bold, _) = a.ticks();
        assert_eq!(bold.len(), 6);
        assert_eq!(a.label(bold[1]), "0.2");
    }

    #[test]
    fn log_labels() {
        assert_eq!(log_label(-2.0), "10⁻²");
        assert_eq!(log_label(3.0), "10³");
        assert_eq!(log_label(2f64.log10()), "2");
        assert_eq!(log_label(0.35f64.log10()), "0.35");
        assert_eq!(log_label(2e-5f64.log10()), "2×10⁻⁵");
        assert_eq!(format_sci(0.0025), "2.5e-3");
        assert_eq!(format_sci(10000.0), "1e4");
        assert_eq!(format_sig3(0.34567), "0.346");
        assert_eq!(format_sig3(12.345), "12.3");
        assert_eq!(format_sig3(0.00012), "1.2e-4");
    }

    #[test]
    fn narrow_log_axis_still_has_ticks() {
        let a = Axis::covering([0.33, 0.39], true, 0.0, "c").unwrap();
        let (bold, _) = a.ticks();
        assert!(bold.len() >= 2, "{bold:?}");
        assert_eq!(a.label(bold[0]), "0.33");
    }

    #[test]
    fn log_axis_rejects_non_positive() {
        assert!(Axis::covering([1.0, 0.0], true, 0.05, "y").is_err());
        assert!(Axis::covering([1.0, f64::NAN], false, 0.05, "y").is_err());
        assert!(Axis::covering([], false, 0.05, "y").is_err());
    }
}
