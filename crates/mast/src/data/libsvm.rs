//! LIBSVM text format: `label idx:val idx:val ...`, 1-based strictly increasing indices.
//!
//! Accepted: blank lines, trailing spaces, `#` comments (whole-line or trailing),
//! gzip-compressed files (detected by their magic bytes, whatever the name).
//! Rejected, with the file, line and problem named: index 0 or below, indices not
//! strictly increasing, non-numeric or non-finite values, a missing `:`, more than
//! two distinct labels, an empty file.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::cache::{self, CacheOptions};
use super::libsvm_text::{self, ParsedText};
use super::{memory, Buffer, CsrMatrix, Dataset, Design, LabelMap};
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
    pub(crate) indptr: Buffer<usize>,
    pub(crate) indices: Buffer<u32>,
    pub(crate) values: Buffer<f64>,
}

/// Whether `path` starts with the gzip magic bytes.
fn is_gzip(path: &Path) -> Result<bool> {
    let mut file = std::fs::File::open(path).map_err(|e| MastError::io(path, "cannot open", e))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(MastError::io(path, "cannot read", e)),
        }
    }
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// Opens a file for reading, decompressing gzip transparently.
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn BufRead>> {
    let gz = is_gzip(path)?;
    let file = std::fs::File::open(path).map_err(|e| MastError::io(path, "cannot open", e))?;
    if gz {
        Ok(Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
            file,
        ))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// Reads all of `reader`. On a read error, returns the error a line-by-line
/// parse meets first: one on a complete line before the failure, else the read
/// error on the line being read.
fn read_all(mut reader: impl Read, path: &Path) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    match reader.read_to_end(&mut text) {
        Ok(_) => Ok(text),
        Err(e) => {
            let complete = memchr::memrchr(b'\n', &text).map_or(0, |k| k + 1);
            if let Err(err @ (MastError::Parse { .. } | MastError::OutOfMemory { .. })) =
                libsvm_text::parse_text(&text[..complete], path)
            {
                return Err(err);
            }
            let line = memchr::memchr_iter(b'\n', &text[..complete]).count() + 1;
            Err(MastError::Parse {
                path: path.to_path_buf(),
                line,
                message: match e.kind() {
                    std::io::ErrorKind::InvalidData => format!("not valid text (UTF-8): {e}"),
                    _ => format!("read error: {e}"),
                },
            })
        }
    }
}

impl LibsvmFile {
    /// Reads and checks a LIBSVM file (plain or gzipped), through the binary
    /// cache ([`super::cache`]) configured by the environment
    /// ([`CacheOptions::from_env`]).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Ok(cache::read_cached(path.as_ref(), &CacheOptions::from_env())?.0)
    }

    /// Reads and parses a LIBSVM file (plain or gzipped), without any cache.
    /// The text is parsed in parallel (see [`LibsvmFile::parse_text`]).
    pub fn read_uncached(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = if is_gzip(path)? {
            let file =
                std::fs::File::open(path).map_err(|e| MastError::io(path, "cannot open", e))?;
            read_all(flate2::read::MultiGzDecoder::new(file), path)?
        } else {
            let file =
                std::fs::File::open(path).map_err(|e| MastError::io(path, "cannot open", e))?;
            read_all(file, path)?
        };
        Self::parse_text(&text, path)
    }

    /// Parses LIBSVM text from any reader; `path` is used in error messages.
    pub fn parse(reader: impl BufRead, path: &Path) -> Result<Self> {
        let text = read_all(reader, path)?;
        Self::parse_text(&text, path)
    }

    /// Parses LIBSVM text held in memory, in parallel over chunks of lines; the
    /// result (and any error, with its line) is that of a line-by-line parse.
    ///
    /// ```
    /// use mast::data::LibsvmFile;
    /// let f = LibsvmFile::parse_text(b"1 2:0.5\n# c\n-1 1:1 3:2\n", "t.svm".as_ref()).unwrap();
    /// assert_eq!((f.n_rows(), f.max_index, f.lines.clone()), (2, 3, vec![1, 3]));
    /// ```
    pub fn parse_text(text: &[u8], path: &Path) -> Result<Self> {
        Ok(Self::from_parsed(
            libsvm_text::parse_text(text, path)?,
            path,
        ))
    }

    /// [`LibsvmFile::parse_text`] with chunks of about `chunk_bytes` (the
    /// result does not depend on it; for tests and benchmarks).
    pub fn parse_text_chunked(text: &[u8], path: &Path, chunk_bytes: usize) -> Result<Self> {
        Ok(Self::from_parsed(
            libsvm_text::parse_text_chunked(text, path, chunk_bytes)?,
            path,
        ))
    }

    fn from_parsed(p: ParsedText, path: &Path) -> Self {
        LibsvmFile {
            path: path.to_path_buf(),
            raw_labels: p.raw_labels,
            lines: p.lines,
            max_index: p.max_index,
            indptr: p.indptr.into(),
            indices: p.indices.into(),
            values: p.values.into(),
        }
    }

    /// Row pointers, column indices (0-based) and values of the rows, in CSR form.
    pub fn csr_arrays(&self) -> (&[usize], &[u32], &[f64]) {
        (&self.indptr, &self.indices, &self.values)
    }

    /// Whether the rows are read in place from a memory-mapped cache file.
    pub fn is_mapped(&self) -> bool {
        self.indices.is_mapped()
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
        let csr = CsrMatrix::from_buffers(
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
    if let Some(n) = n_features {
        memory::check_dimension("", &format!("n_features = {n}"), n as u64)?;
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
