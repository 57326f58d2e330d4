//! LIBSVM text format: `label idx:val idx:val ...`, 1-based strictly increasing indices.
//!
//! Accepted: blank lines, trailing spaces, `#` comments (whole-line or trailing),
//! gzip-compressed files (detected by their magic bytes, whatever the name).
//! Rejected, with the file, line and problem named: index 0 or below, indices not
//! strictly increasing, non-numeric or non-finite values, a missing `:`, more than
//! two distinct labels, an empty file.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{CsrMatrix, Dataset, Design, LabelMap};
use crate::error::{MastError, Result};

/// A parsed LIBSVM file before labels are mapped and the feature count fixed.
#[derive(Debug, Clone)]
pub struct LibsvmFile {
    /// Where it came from.
    pub path: PathBuf,
    /// Raw label values, one per row.
    pub raw_labels: Vec<f64>,
    /// 1-based line number of each row (for error messages).
    pub lines: Vec<usize>,
    /// Largest feature index seen (1-based), 0 if none.
    pub max_index: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f64>,
}

/// Opens a file for reading, decompressing gzip transparently.
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead>> {
    let mut file = std::fs::File::open(path).map_err(|e| MastError::io(path, "cannot open", e))?;
    let mut magic = [0u8; 2];
    let n = file
        .read(&mut magic)
        .map_err(|e| MastError::io(path, "cannot read", e))?;
    let file = std::fs::File::open(path).map_err(|e| MastError::io(path, "cannot open", e))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

impl LibsvmFile {
    /// Reads and checks a LIBSVM file (plain or gzipped).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let reader = open_maybe_gz(path)?;
        Self::parse(reader, path)
    }

    /// Parses LIBSVM text from any reader; `path` is used in error messages.
    pub fn parse(reader: impl BufRead, path: &Path) -> Result<Self> {
        let err = |line: usize, message: String| MastError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut out = LibsvmFile {
            path: path.to_path_buf(),
            raw_labels: Vec::new(),
            lines: Vec::new(),
            max_index: 0,
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
        };
        // Distinct labels seen so far, with the first line of each.
        let mut label_set: Vec<(f64, usize)> = Vec::new();
        for (k, line) in reader.lines().enumerate() {
            let lineno = k + 1;
            let line = line.map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    err(lineno, format!("not valid text (UTF-8): {e}"))
                }
                _ => err(lineno, format!("read error: {e}")),
            })?;
            let content = match line.find('#') {
                Some(p) => &line[..p],
                None => &line[..],
            };
            let mut tokens = content.split_ascii_whitespace();
            let Some(label_tok) = tokens.next() else {
                continue; // blank or comment-only line
            };
            let label: f64 = label_tok
                .parse()
                .map_err(|_| err(lineno, format!("label '{label_tok}' is not a number")))?;
            if !label.is_finite() {
                return Err(err(lineno, format!("label '{label_tok}' is not finite")));
            }
            if !label_set.iter().any(|&(l, _)| l == label) {
                if label_set.len() == 2 {
                    return Err(err(
                        lineno,
                        format!(
                            "a third distinct label '{label_tok}': binary classification needs exactly two \
                             (already seen {} on line {} and {} on line {})",
                            label_set[0].0, label_set[0].1, label_set[1].0, label_set[1].1
                        ),
                    ));
                }
                label_set.push((label, lineno));
            }
            let mut prev: usize = 0;
            for tok in tokens {
                let (idx_s, val_s) = tok.split_once(':').ok_or_else(|| {
                    err(lineno, format!("'{tok}' is not of the form index:value"))
                })?;
                let idx: i64 = idx_s.parse().map_err(|_| {
                    err(lineno, format!("feature index '{idx_s}' is not an integer"))
                })?;
                if idx < 1 {
                    return Err(err(
                        lineno,
                        format!("feature index {idx} is below 1 (indices are 1-based)"),
                    ));
                }
                if idx > u32::MAX as i64 {
                    return Err(err(lineno, format!("feature index {idx} is too large")));
                }
                let idx = idx as usize;
                if idx <= prev {
                    return Err(err(
                        lineno,
                        format!(
                            "feature indices must be strictly increasing: {idx} comes after {prev}"
                        ),
                    ));
                }
                let val: f64 = val_s.parse().map_err(|_| {
                    err(
                        lineno,
                        format!("value '{val_s}' of feature {idx} is not a number"),
                    )
                })?;
                if !val.is_finite() {
                    return Err(err(
                        lineno,
                        format!("value '{val_s}' of feature {idx} is not finite"),
                    ));
                }
                prev = idx;
                if val != 0.0 {
                    out.indices.push((idx - 1) as u32);
                    out.values.push(val);
                }
            }
            out.max_index = out.max_index.max(prev);
            out.raw_labels.push(label);
            out.lines.push(lineno);
            out.indptr.push(out.indices.len());
        }
        if out.raw_labels.is_empty() {
            return Err(MastError::Data {
                path: path.to_path_buf(),
                message: "no data rows (the file is empty or holds only comments)".into(),
            });
        }
        Ok(out)
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.raw_labels.len()
    }

    /// Infers the ±1 mapping from this file's labels: of two distinct values the
    /// smaller becomes −1 (so {−1,+1}, {0,1} and {1,2} all map as expected).
    pub fn infer_label_map(&self) -> Result<LabelMap> {
        let mut distinct: Vec<f64> = Vec::new();
        for &l in &self.raw_labels {
            if !distinct.contains(&l) {
                distinct.push(l);
            }
        }
        if distinct.len() != 2 {
            return Err(MastError::Data {
                path: self.path.clone(),
                message: format!(
                    "training data needs two distinct labels, found only {}",
                    distinct[0]
                ),
            });
        }
        let (a, b) = (distinct[0].min(distinct[1]), distinct[0].max(distinct[1]));
        Ok(LabelMap {
            negative: a,
            positive: b,
        })
    }

    /// Builds the dataset with `n_features` columns and labels mapped by `map`.
    pub fn into_dataset(self, n_features: usize, map: &LabelMap) -> Result<Dataset> {
        if self.max_index > n_features {
            return Err(MastError::Data {
                path: self.path.clone(),
                message: format!(
                    "uses feature index {} but the feature count is {n_features}",
                    self.max_index
                ),
            });
        }
        let mut labels = Vec::with_capacity(self.n_rows());
        for (k, &raw) in self.raw_labels.iter().enumerate() {
            labels.push(map.map(raw).ok_or_else(|| MastError::Parse {
                path: self.path.clone(),
                line: self.lines[k],
                message: format!(
                    "label {raw} is neither of the training labels ({} → −1, {} → +1)",
                    map.negative, map.positive
                ),
            })?);
        }
        let name = self
            .path
            .file_name()
            .map(|s| s.to_string_lossy().trim_end_matches(".gz").to_string())
            .unwrap_or_else(|| "data".into());
        let csr = CsrMatrix::new(
            self.n_rows(),
            n_features,
            self.indptr,
            self.indices,
            self.values,
        );
        Ok(Dataset::new(name, Design::Sparse(csr), labels))
    }
}

/// A training set and an optional test set sharing feature count and label map.
#[derive(Debug, Clone)]
pub struct LibsvmPair {
    /// The training data.
    pub train: Dataset,
    /// The test data, if a file was given.
    pub test: Option<Dataset>,
    /// The label mapping (inferred from the training file).
    pub label_map: LabelMap,
}

/// Loads a training file and an optional test file. The feature count is
/// `n_features` if given, else the larger of the two files' largest index.
///
/// ```no_run
/// let pair = mast::data::load_libsvm_pair("data/a5a.gz", Some("data/a5a.t.gz"), None).unwrap();
/// assert_eq!(pair.train.n_features(), 123);
/// ```
pub fn load_libsvm_pair(
    train: impl AsRef<Path>,
    test: Option<impl AsRef<Path>>,
    n_features: Option<usize>,
) -> Result<LibsvmPair> {
    let train = LibsvmFile::read(train)?;
    let test = match test {
        Some(p) => Some(LibsvmFile::read(p)?),
        None => None,
    };
    let max_idx = train
        .max_index
        .max(test.as_ref().map_or(0, |t| t.max_index));
    let d = n_features.unwrap_or(max_idx);
    if d == 0 {
        return Err(MastError::Data {
            path: train.path.clone(),
            message: "no features: every row is empty".into(),
        });
    }
    let label_map = train.infer_label_map()?;
    let train = train.into_dataset(d, &label_map)?;
    let test = test.map(|t| t.into_dataset(d, &label_map)).transpose()?;
    Ok(LibsvmPair {
        train,
        test,
        label_map,
    })
}
