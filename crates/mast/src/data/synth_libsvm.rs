//! Seeded LIBSVM files shaped like the public benchmark sets (news20, rcv1, url,
//! epsilon), for scale tests and benchmarks (`mast data synth`).
//!
//! Every row is generated from its chunk's own random stream (chunks of
//! [`CHUNK_ROWS`] rows, streams 2¹⁹² draws apart), so the bytes written depend on
//! the seed and the shape only, never on the number of threads. Labels are ±1: the
//! sign of a planted sparse model's margin (less an intercept that balances the
//! classes) plus Gaussian noise. Column indices are
//! 1-based and strictly increasing; sparse shapes draw their columns from a
//! power law (column 1 is the most frequent), and the first training row always
//! holds the last column, so a loader that infers `d` from the largest index gets
//! the shape's `d`. Files are written atomically (temporary file, then rename).
//!
//! ```
//! use mast::data::synth_libsvm::{Part, SynthShape, SynthSpec};
//! let spec = SynthSpec::preset(SynthShape::Rcv1).scaled(0.01).unwrap();
//! let dir = std::env::temp_dir().join(format!("synth-doc-{}", std::process::id()));
//! let stats = spec.write(Part::Train, &dir.join("rcv1-like")).unwrap();
//! assert_eq!(stats.rows, spec.train_rows);
//! assert_eq!(stats.max_index, spec.cols);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::io::Write;
use std::path::Path;

use rand::Rng;
use rayon::prelude::*;

use super::synthetic::standard_normal;
use crate::error::{MastError, Result};
use crate::rng::{stream, MastRng, Stream};

/// Rows generated from one random stream (a unit of parallel work).
pub const CHUNK_ROWS: usize = 256;

/// Chunks generated in parallel before their text is written out (bounds memory).
const CHUNKS_PER_WAVE: usize = 16;

/// Rows drawn to set the planted model's intercept (see [`SynthSpec::intercept`]).
const PILOT_ROWS: usize = 1024;

/// Fraction of columns on which the planted model is nonzero.
const PLANTED_DENSITY: f64 = 0.1;

/// The dataset shapes `mast data synth` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthShape {
    /// news20.binary: d = 1,355,191, ~450 real nonzeros a row, unit rows, 20,000 + 5,000 rows.
    News20,
    /// rcv1.binary: d = 47,236, ~75 real nonzeros a row, unit rows, 20,242 + 5,000 rows.
    Rcv1,
    /// url: d = 3,231,961, ~115 nonzeros a row (20 real-valued columns in every row,
    /// the rest 0/1), 200,000 + 20,000 rows, rows not normalised.
    Url,
    /// epsilon: dense, 2,000 columns, unit rows, 100,000 + 10,000 rows.
    Epsilon,
}

impl SynthShape {
    /// Every shape, in the order `mast data synth --help` lists them.
    pub const ALL: [SynthShape; 4] = [
        SynthShape::News20,
        SynthShape::Rcv1,
        SynthShape::Url,
        SynthShape::Epsilon,
    ];

    /// The shape's name on the command line (`news20`, `rcv1`, `url`, `epsilon`).
    pub fn name(self) -> &'static str {
        match self {
            SynthShape::News20 => "news20",
            SynthShape::Rcv1 => "rcv1",
            SynthShape::Url => "url",
            SynthShape::Epsilon => "epsilon",
        }
    }
}

impl std::str::FromStr for SynthShape {
    type Err = MastError;

    fn from_str(s: &str) -> Result<Self> {
        SynthShape::ALL
            .into_iter()
            .find(|shape| shape.name() == s)
            .ok_or_else(|| {
                MastError::param(
                    "shape",
                    format!("unknown shape '{s}': expected news20, rcv1, url or epsilon"),
                )
            })
    }
}

/// How the values of a row are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SynthValues {
    /// Positive, tf-idf-like (log-normal) values on power-law columns.
    Positive,
    /// Every column present, standard normal values.
    DenseNormal,
    /// The first `real_cols` columns in every row with positive log-normal values,
    /// the remaining nonzeros 0/1 on power-law columns after them.
    RealThenBinary {
        /// Columns `1..=real_cols` are real-valued and present in every row.
        real_cols: usize,
    },
}

/// Everything that fixes a synthetic file's bytes (with the seed).
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    /// The shape it came from (names the files).
    pub shape: SynthShape,
    /// Rows of the training file.
    pub train_rows: usize,
    /// Rows of the test file (0: no test file).
    pub test_rows: usize,
    /// Number of columns d (the largest index of the training file).
    pub cols: usize,
    /// Mean nonzeros a row (rows draw uniformly from ⌈m/2⌉..=⌊3m/2⌋; dense: `cols`).
    pub nnz_per_row: usize,
    /// How values are drawn.
    pub values: SynthValues,
    /// Scale every row to Euclidean norm 1 (before the values are rounded to 6 decimals).
    pub unit_rows: bool,
    /// Exponent α of the power law P(column of rank r) ∝ (r + 1)^(−α).
    pub zipf_exponent: f64,
    /// Label noise: std of the Gaussian added to the margin, relative to the margin's own std.
    pub noise: f64,
    /// Master seed.
    pub seed: u64,
}

/// Which of the two files of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The training file.
    Train,
    /// The test file (other rows of the same distribution and planted model).
    Test,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SynthStats {
    /// Rows written.
    pub rows: usize,
    /// Nonzeros written.
    pub nnz: u64,
    /// Largest 1-based index written.
    pub max_index: usize,
    /// Rows labelled +1.
    pub positives: usize,
    /// Bytes of LIBSVM text.
    pub bytes: u64,
}

impl SynthStats {
    fn add(&mut self, other: &SynthStats) {
        self.rows += other.rows;
        self.nnz += other.nnz;
        self.max_index = self.max_index.max(other.max_index);
        self.positives += other.positives;
        self.bytes += other.bytes;
    }
}

impl SynthSpec {
    /// The full-size shape, seed [`crate::rng::DEFAULT_SEED`].
    ///
    /// ```
    /// use mast::data::synth_libsvm::{SynthShape, SynthSpec};
    /// assert_eq!(SynthSpec::preset(SynthShape::News20).cols, 1_355_191);
    /// ```
    pub fn preset(shape: SynthShape) -> Self {
        let base = SynthSpec {
            shape,
            train_rows: 20_000,
            test_rows: 5_000,
            cols: 1_355_191,
            nnz_per_row: 450,
            values: SynthValues::Positive,
            unit_rows: true,
            zipf_exponent: 1.1,
            noise: 0.3,
            seed: crate::rng::DEFAULT_SEED,
        };
        match shape {
            SynthShape::News20 => base,
            SynthShape::Rcv1 => SynthSpec {
                train_rows: 20_242,
                cols: 47_236,
                nnz_per_row: 75,
                ..base
            },
            SynthShape::Url => SynthSpec {
                train_rows: 200_000,
                test_rows: 20_000,
                cols: 3_231_961,
                nnz_per_row: 115,
                values: SynthValues::RealThenBinary { real_cols: 20 },
                unit_rows: false,
                ..base
            },
            SynthShape::Epsilon => SynthSpec {
                train_rows: 100_000,
                test_rows: 10_000,
                cols: 2_000,
                nnz_per_row: 2_000,
                values: SynthValues::DenseNormal,
                ..base
            },
        }
    }

    /// Shrinks (or grows) rows and columns by `factor`; nonzeros a row stay, at most
    /// half the (sparse) columns; dense shapes stay dense. Each count stays ≥ 1
    /// (test rows may round to 0).
    ///
    /// ```
    /// use mast::data::synth_libsvm::{SynthShape, SynthSpec};
    /// let s = SynthSpec::preset(SynthShape::Epsilon).scaled(0.01).unwrap();
    /// assert_eq!((s.train_rows, s.cols, s.nnz_per_row), (1_000, 20, 20));
    /// ```
    pub fn scaled(mut self, factor: f64) -> Result<Self> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(MastError::param(
                "scale",
                format!("must be a positive number, got {factor}"),
            ));
        }
        let scale = |v: usize| (v as f64 * factor).round() as usize;
        self.train_rows = scale(self.train_rows).max(1);
        self.test_rows = scale(self.test_rows);
        self.cols = scale(self.cols).max(2);
        match &mut self.values {
            SynthValues::DenseNormal => self.nnz_per_row = self.cols,
            SynthValues::Positive => self.nnz_per_row = self.nnz_per_row.min(self.cols / 2),
            SynthValues::RealThenBinary { real_cols } => {
                *real_cols = (*real_cols).min(self.cols / 4).max(1);
                self.nnz_per_row = self
                    .nnz_per_row
                    .min(*real_cols + (self.cols - *real_cols) / 2);
            }
        }
        self.nnz_per_row = self.nnz_per_row.max(1);
        self.check()?;
        Ok(self)
    }

    /// Checks that the counts are consistent (called by [`SynthSpec::write`]).
    pub fn check(&self) -> Result<()> {
        if self.train_rows == 0 {
            return Err(MastError::param("rows", "the training file needs a row"));
        }
        if self.cols == 0 || self.cols > u32::MAX as usize {
            return Err(MastError::param(
                "cols",
                format!("must be in 1..={}, got {}", u32::MAX, self.cols),
            ));
        }
        if self.nnz_per_row == 0 || self.nnz_per_row > self.cols {
            return Err(MastError::param(
                "nnz",
                format!(
                    "nonzeros a row must be in 1..=cols ({}), got {}",
                    self.cols, self.nnz_per_row
                ),
            ));
        }
        match self.values {
            SynthValues::DenseNormal if self.nnz_per_row != self.cols => Err(MastError::param(
                "nnz",
                format!(
                    "{} is dense: a row holds every column ({}), not {}",
                    self.shape.name(),
                    self.cols,
                    self.nnz_per_row
                ),
            )),
            SynthValues::RealThenBinary { real_cols }
                if real_cols >= self.cols || self.nnz_per_row <= real_cols =>
            {
                Err(MastError::param(
                    "nnz",
                    format!(
                        "{}: the {real_cols} real-valued columns leave no room for binary ones \
                         (cols {}, nonzeros a row {})",
                        self.shape.name(),
                        self.cols,
                        self.nnz_per_row
                    ),
                ))
            }
            _ if !(self.zipf_exponent.is_finite() && self.zipf_exponent > 0.0) => Err(
                MastError::param("zipf_exponent", "must be a positive number"),
            ),
            _ if !(self.noise.is_finite() && self.noise >= 0.0) => {
                Err(MastError::param("noise", "must be a nonnegative number"))
            }
            _ => Ok(()),
        }
    }

    /// Rows of `part`.
    pub fn rows(&self, part: Part) -> usize {
        match part {
            Part::Train => self.train_rows,
            Part::Test => self.test_rows,
        }
    }

    /// The random stream of chunk `chunk` of `part`: the synthetic stream of the seed
    /// after `1 + 2·chunk` (train) or `2 + 2·chunk` (test) long jumps of 2¹⁹² draws.
    fn chunk_streams(&self, part: Part, chunks: usize) -> Vec<MastRng> {
        let mut rng = stream(self.seed, Stream::Synthetic);
        rng.long_jump();
        if part == Part::Test {
            rng.long_jump();
        }
        let mut out = Vec::with_capacity(chunks);
        for _ in 0..chunks {
            out.push(rng.clone());
            rng.long_jump();
            rng.long_jump();
        }
        out
    }

    /// Writes `part` to `path` atomically (a temporary file beside it, then a rename),
    /// generating chunks in parallel on the current rayon pool.
    pub fn write(&self, part: Part, path: &Path) -> Result<SynthStats> {
        self.check()?;
        crate::atomic_file::write_atomic_with(path, |tmp| self.write_to(part, tmp))
    }

    fn write_to(&self, part: Part, tmp: &Path) -> Result<SynthStats> {
        let rows = self.rows(part);
        let chunks = rows.div_ceil(CHUNK_ROWS);
        let streams = self.chunk_streams(part, chunks);
        let intercept = self.intercept();
        let file =
            std::fs::File::create(tmp).map_err(|e| MastError::io(tmp, "cannot create", e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut total = SynthStats::default();
        for wave in (0..chunks).collect::<Vec<_>>().chunks(CHUNKS_PER_WAVE) {
            let texts: Vec<(Vec<u8>, SynthStats)> = wave
                .par_iter()
                .map(|&c| {
                    let first = c * CHUNK_ROWS;
                    let count = CHUNK_ROWS.min(rows - first);
                    let force_last = part == Part::Train && c == 0;
                    self.chunk_text(streams[c].clone(), count, force_last, intercept)
                })
                .collect();
            for (text, stats) in &texts {
                out.write_all(text)
                    .map_err(|e| MastError::io(tmp, "cannot write", e))?;
                total.add(stats);
            }
        }
        let file = out
            .into_inner()
            .map_err(|e| MastError::io(tmp, "cannot write", e.into_error()))?;
        file.sync_all()
            .map_err(|e| MastError::io(tmp, "cannot sync", e))?;
        Ok(total)
    }

    /// The LIBSVM text of `count` rows drawn from `rng`; `force_last`: the first row
    /// holds the last column.
    fn chunk_text(
        &self,
        mut rng: MastRng,
        count: usize,
        force_last: bool,
        intercept: f64,
    ) -> (Vec<u8>, SynthStats) {
        let mut text = Vec::with_capacity(count * self.nnz_per_row * 14);
        let mut stats = SynthStats::default();
        let mut cols: Vec<u32> = Vec::with_capacity(2 * self.nnz_per_row);
        let mut vals: Vec<f64> = Vec::with_capacity(2 * self.nnz_per_row);
        for r in 0..count {
            self.draw_row(&mut rng, &mut cols, &mut vals, force_last && r == 0);
            round_values(&mut vals);
            let margin = self.margin(&cols, &vals) - intercept;
            // The margin's std over planted models: √(density · ‖row‖²).
            let spread = (PLANTED_DENSITY * vals.iter().map(|v| v * v).sum::<f64>()).sqrt();
            let noisy = margin + self.noise * spread * standard_normal(&mut rng);
            let positive = noisy >= 0.0;
            text.extend_from_slice(if positive { b"+1" } else { b"-1" });
            for (&j, &v) in cols.iter().zip(&vals) {
                text.push(b' ');
                write_uint(&mut text, u64::from(j) + 1);
                text.push(b':');
                write_value(&mut text, v);
            }
            text.push(b'\n');
            stats.rows += 1;
            stats.nnz += cols.len() as u64;
            stats.positives += usize::from(positive);
            stats.max_index = stats
                .max_index
                .max(cols.last().map_or(0, |&j| j as usize + 1));
        }
        stats.bytes = text.len() as u64;
        (text, stats)
    }

    /// The planted model's margin on a row.
    fn margin(&self, cols: &[u32], vals: &[f64]) -> f64 {
        cols.iter()
            .zip(vals)
            .map(|(&j, &v)| planted_weight(self.seed, j) * v)
            .sum()
    }

    /// The median margin of `PILOT_ROWS` (1,024) rows drawn from the seed's synthetic
    /// stream itself (the chunks' streams start a long jump later). Columns in
    /// nearly every row (a power law's head, url's real-valued block) give all
    /// margins a common offset; subtracting the median balances the two labels.
    pub fn intercept(&self) -> f64 {
        let mut rng = stream(self.seed, Stream::Synthetic);
        let (mut cols, mut vals) = (Vec::new(), Vec::new());
        let mut margins: Vec<f64> = (0..PILOT_ROWS)
            .map(|_| {
                self.draw_row(&mut rng, &mut cols, &mut vals, false);
                round_values(&mut vals);
                self.margin(&cols, &vals)
            })
            .collect();
        margins.sort_unstable_by(f64::total_cmp);
        0.5 * (margins[PILOT_ROWS / 2 - 1] + margins[PILOT_ROWS / 2])
    }

    /// Fills `cols` (0-based, strictly increasing) and `vals` with one row.
    fn draw_row(
        &self,
        rng: &mut MastRng,
        cols: &mut Vec<u32>,
        vals: &mut Vec<f64>,
        force_last: bool,
    ) {
        cols.clear();
        vals.clear();
        match self.values {
            SynthValues::DenseNormal => {
                cols.extend(0..self.cols as u32);
                vals.extend((0..self.cols).map(|_| standard_normal(rng)));
            }
            SynthValues::Positive => {
                let target = row_nnz(rng, self.nnz_per_row, self.cols);
                power_law_columns(rng, 0, self.cols, target, self.zipf_exponent, cols);
                vals.extend(cols.iter().map(|_| (0.5 * standard_normal(rng)).exp()));
            }
            SynthValues::RealThenBinary { real_cols } => {
                let binary_cols = self.cols - real_cols;
                let target = row_nnz(rng, self.nnz_per_row - real_cols, binary_cols);
                cols.extend(0..real_cols as u32);
                vals.extend((0..real_cols).map(|_| (0.5 * standard_normal(rng)).exp()));
                power_law_columns(
                    rng,
                    real_cols,
                    binary_cols,
                    target,
                    self.zipf_exponent,
                    cols,
                );
                vals.resize(cols.len(), 1.0);
            }
        }
        if force_last {
            let last = self.cols as u32 - 1;
            if let Some(end) = cols.last_mut() {
                // Sorted and distinct: if `last` is absent, every column is below it.
                *end = last;
            }
        }
        if self.unit_rows {
            let norm = vals.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                vals.iter_mut().for_each(|v| *v /= norm);
            }
        }
    }
}

/// Rounds values to the 6 decimals written, never to 0 (a loader would drop a 0).
fn round_values(vals: &mut [f64]) {
    for v in vals.iter_mut() {
        let micro = (*v * 1e6).round();
        *v = if micro == 0.0 {
            v.signum() * 1e-6
        } else {
            micro * 1e-6
        };
    }
}

/// Nonzeros of one row: uniform on ⌈m/2⌉..=⌊3m/2⌋ (mean m), within 1..=available.
fn row_nnz(rng: &mut MastRng, mean: usize, available: usize) -> usize {
    let (lo, hi) = (mean.div_ceil(2), mean + mean / 2);
    rng.random_range(lo..=hi).clamp(1, available)
}

/// Appends `target` distinct sorted columns of `offset..offset + n` to `cols`,
/// column `offset + r` with probability ∝ (r + 1)^(−α) (a continuous power law,
/// inverted); duplicates are redrawn. Above half of the range, or when redraws
/// stall, the missing columns are drawn uniformly among the unused ones.
fn power_law_columns(
    rng: &mut MastRng,
    offset: usize,
    n: usize,
    target: usize,
    alpha: f64,
    cols: &mut Vec<u32>,
) {
    let start = cols.len();
    let mut picked: Vec<u32> = Vec::with_capacity(target * 2);
    if 2 * target <= n {
        let top = (n as f64 + 1.0).powf(1.0 - alpha) - 1.0;
        let inv = 1.0 / (1.0 - alpha);
        let mut attempts = 0;
        while picked.len() < target && attempts < 32 {
            attempts += 1;
            for _ in picked.len()..target {
                let u: f64 = rng.random();
                let x = if (alpha - 1.0).abs() < 1e-9 {
                    ((n as f64 + 1.0).ln() * u).exp()
                } else {
                    (1.0 + u * top).powf(inv)
                };
                let r = ((x.floor() as usize).max(1) - 1).min(n - 1);
                picked.push(r as u32);
            }
            picked.sort_unstable();
            picked.dedup();
        }
        // Stalled (a very heavy head): uniform draws among the unused columns.
        while picked.len() < target {
            let r = rng.random_range(0..n as u32);
            if let Err(at) = picked.binary_search(&r) {
                picked.insert(at, r);
            }
        }
    } else {
        // Selection sampling (Knuth's algorithm S): uniform, in increasing order.
        let mut left = target;
        for r in 0..n {
            if left == 0 {
                break;
            }
            if rng.random_range(0..n - r) < left {
                picked.push(r as u32);
                left -= 1;
            }
        }
    }
    cols.extend(picked.iter().map(|&r| r + offset as u32));
    debug_assert!(cols[start..].windows(2).all(|w| w[0] < w[1]));
}

/// The planted model's weight on column `j` (0-based): nonzero on a
/// [`PLANTED_DENSITY`] share of the columns, standard normal there; a hash of
/// (seed, j), so no d-vector is stored and any chunk can evaluate it.
fn planted_weight(seed: u64, j: u32) -> f64 {
    let h = splitmix64(seed ^ splitmix64(u64::from(j) ^ 0x6d61_7374_706c_616e));
    if ((h >> 11) as f64) * (1.0 / (1u64 << 53) as f64) >= PLANTED_DENSITY {
        return 0.0;
    }
    let (a, b) = (splitmix64(h), splitmix64(h ^ 0x9e37_79b9_7f4a_7c15));
    let u = ((a >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
    let v = (b >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// SplitMix64's output function (a bijective 64-bit mix).
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Appends `v` in decimal.
fn write_uint(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` with exactly 6 decimals (`0.047123`, `-1.500000`, `1` for exactly 1).
fn write_value(out: &mut Vec<u8>, v: f64) {
    if v == 1.0 {
        out.push(b'1');
        return;
    }
    let micro = (v.abs() * 1e6).round() as u64;
    if v < 0.0 {
        out.push(b'-');
    }
    write_uint(out, micro / 1_000_000);
    out.push(b'.');
    let frac = micro % 1_000_000;
    let mut digits = [b'0'; 6];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    out.extend_from_slice(&digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_with_six_decimals() {
        let mut out = Vec::new();
        for v in [0.047_123_4, -1.5, 1.0, 12.000_000_4, 1e-6] {
            write_value(&mut out, v);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0.047123 -1.500000 1 12.000000 0.000001 "
        );
        let mut out = Vec::new();
        write_uint(&mut out, 0);
        write_uint(&mut out, 1_355_191);
        assert_eq!(out, b"01355191");
    }

    #[test]
    fn power_law_columns_are_distinct_sorted_and_head_heavy() {
        let mut rng = stream(1, Stream::Synthetic);
        let mut head = 0;
        for target in [1, 5, 40, 60, 100] {
            let mut cols = vec![];
            power_law_columns(&mut rng, 3, 100, target, 1.1, &mut cols);
            assert_eq!(cols.len(), target);
            assert!(cols.windows(2).all(|w| w[0] < w[1]));
            assert!(cols.iter().all(|&c| (3..103).contains(&c)));
            head += usize::from(cols.contains(&3));
        }
        // Column 0 of the range has probability ≈ 0.2 a draw (α = 1.1, n = 100):
        // a row of ≥ 5 draws misses it with probability < 0.33, all 4 of them < 0.012.
        assert!(head >= 2, "{head}");
    }

    #[test]
    fn planted_weights_have_the_planted_density() {
        let nonzero = (0..100_000u32)
            .filter(|&j| planted_weight(7, j) != 0.0)
            .count();
        // Binomial(1e5, 0.1): std ≈ 95.
        assert!((9_500..10_500).contains(&nonzero), "{nonzero}");
    }
}
