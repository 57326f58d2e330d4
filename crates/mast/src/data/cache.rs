//! A binary CSR cache of parsed LIBSVM files, so that repeated runs do not parse
//! the text again.
//!
//! A file `data.svm` (plain or gzipped, of at least
//! [`CacheOptions::min_source_bytes`]) is cached once, after its first parse, as
//! `data.svm.mastcache`: beside it if that folder is writable (its permission
//! bits allow writing), else in a cache folder (`$MAST_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/mast`, else `~/.cache/mast`), named with a hash of the
//! source's full path. `MAST_CACHE_DIR`, when set, is always used. The next load
//! memory-maps the cache (crate `memmap2`) and reads the CSR arrays in place.
//!
//! A cache is used only if it was made from a source of the same size,
//! modification time and first and last 64 KiB, and if the checksum of its
//! payload (XXH3-64, crate `xxhash-rust`) matches; otherwise the text is parsed
//! again and the cache rewritten. A cache that cannot be written costs a one-line
//! warning, never an error. Caches are written to a temporary file and renamed
//! into place, so a mapped cache is never changed under a reader.
//!
//! Turn the cache off with `MAST_NO_CACHE=1` (or [`disable`], which `--no-cache`
//! calls).
//!
//! Layout (little-endian): a 128-byte header of 16 `u64` words (magic, version,
//! source size, mtime seconds and nanoseconds, source sample hash, rows, nonzeros,
//! largest index, payload hash, reserved), then the payload: raw labels (`f64` ×
//! n), line numbers (`u64` × n), row pointers (`u64` × (n+1)), column indices
//! (`u32` × nnz, padded to 8 bytes), values (`f64` × nnz).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use super::{Buffer, LibsvmFile};
use crate::error::{MastError, Result};

/// The file name suffix of cache files.
pub const CACHE_SUFFIX: &str = ".mastcache";
const MAGIC: [u8; 8] = *b"MASTCSR\0";
const VERSION: u64 = 1;
const HEADER_WORDS: usize = 16;
const HEADER_BYTES: usize = HEADER_WORDS * 8;
/// Bytes hashed at each end of the source to notice same-size, same-time edits.
const SAMPLE_BYTES: u64 = 64 << 10;
/// Whether this target can map the cache in place (64-bit little-endian).
const MAPPABLE: bool = cfg!(target_endian = "little") && std::mem::size_of::<usize>() == 8;

static DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns the cache off for the rest of this process (`--no-cache`).
pub fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Where and whether parsed files are cached.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheOptions {
    /// Whether to use the cache at all.
    pub enabled: bool,
    /// A folder to keep every cache in; `None`: beside the source where its
    /// folder is writable, else [`default_folder`].
    pub folder: Option<PathBuf>,
    /// Sources smaller than this are parsed every time (they parse in
    /// milliseconds; no cache files for them).
    pub min_source_bytes: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            enabled: true,
            folder: None,
            min_source_bytes: 1 << 20,
        }
    }
}

impl CacheOptions {
    /// The defaults, changed by `MAST_NO_CACHE` (set and not `0`: off), by
    /// `MAST_CACHE_DIR` (the folder) and by [`disable`].
    pub fn from_env() -> Self {
        let off = std::env::var_os("MAST_NO_CACHE").is_some_and(|v| !v.is_empty() && v != "0");
        CacheOptions {
            enabled: !off && !DISABLED.load(Ordering::Relaxed),
            folder: std::env::var_os("MAST_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            ..CacheOptions::default()
        }
    }
}

/// The cache folder used where the source's folder is not writable:
/// `$XDG_CACHE_HOME/mast`, else `$HOME/.cache/mast`, else one in the temp folder.
pub fn default_folder() -> PathBuf {
    let env = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(x) = env("XDG_CACHE_HOME") {
        x.join("mast")
    } else if let Some(h) = env("HOME") {
        h.join(".cache").join("mast")
    } else {
        std::env::temp_dir().join("mast-cache")
    }
}

/// What the cache did for one load.
#[derive(Debug, Clone, PartialEq)]
pub enum CacheOutcome {
    /// Not used (turned off, a small source, or a target it cannot map on).
    Off,
    /// The file was read from this cache.
    Hit(PathBuf),
    /// The text was parsed and this cache written.
    Written(PathBuf),
    /// A stale or damaged cache was found; the text was parsed and this cache written.
    Rebuilt(PathBuf),
    /// The text was parsed but no cache could be written (the warning printed).
    NotWritten(String),
}

/// What identifies the source a cache was made from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SourceStamp {
    size: u64,
    mtime_secs: i64,
    mtime_nanos: u32,
    sample: u64,
}

impl SourceStamp {
    fn of(path: &Path, meta: &std::fs::Metadata) -> Result<Self> {
        let (mtime_secs, mtime_nanos) = match meta.modified() {
            Ok(t) => match t.duration_since(UNIX_EPOCH) {
                Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
                Err(e) => (
                    -(e.duration().as_secs() as i64),
                    e.duration().subsec_nanos(),
                ),
            },
            Err(_) => (0, 0),
        };
        let size = meta.len();
        let mut file = File::open(path).map_err(|e| MastError::io(path, "cannot open", e))?;
        let mut sample = Vec::with_capacity(2 * SAMPLE_BYTES as usize);
        let read_err = |e| MastError::io(path, "cannot read", e);
        (&mut file)
            .take(SAMPLE_BYTES)
            .read_to_end(&mut sample)
            .map_err(read_err)?;
        if size > SAMPLE_BYTES {
            let tail = size.saturating_sub(SAMPLE_BYTES).max(SAMPLE_BYTES);
            file.seek(SeekFrom::Start(tail)).map_err(read_err)?;
            file.take(SAMPLE_BYTES)
                .read_to_end(&mut sample)
                .map_err(read_err)?;
        }
        Ok(SourceStamp {
            size,
            mtime_secs,
            mtime_nanos,
            sample: xxh3_64(&sample),
        })
    }
}

/// Reads a LIBSVM file through the cache: from a valid cache if there is one,
/// else by parsing the text (and then writing the cache).
pub fn read_cached(path: &Path, opts: &CacheOptions) -> Result<(LibsvmFile, CacheOutcome)> {
    if !opts.enabled || !MAPPABLE {
        return Ok((LibsvmFile::read_uncached(path)?, CacheOutcome::Off));
    }
    let meta = std::fs::metadata(path).map_err(|e| MastError::io(path, "cannot open", e))?;
    if meta.len() < opts.min_source_bytes || !meta.is_file() {
        return Ok((LibsvmFile::read_uncached(path)?, CacheOutcome::Off));
    }
    let stamp = SourceStamp::of(path, &meta)?;
    let beside = beside_path(path, opts);
    let in_folder = folder_path(path, opts);
    let mut stale = false;
    for candidate in beside.iter().chain(std::iter::once(&in_folder)) {
        if candidate.exists() {
            match open_cache(candidate, path, &stamp) {
                Some(file) => return Ok((file, CacheOutcome::Hit(candidate.clone()))),
                None => stale = true,
            }
        }
    }
    let file = LibsvmFile::read_uncached(path)?;
    let mut reasons = Vec::new();
    for target in beside.iter().chain(std::iter::once(&in_folder)) {
        match write_cache(target, &file, &stamp) {
            Ok(()) => {
                let outcome = if stale {
                    CacheOutcome::Rebuilt(target.clone())
                } else {
                    CacheOutcome::Written(target.clone())
                };
                return Ok((file, outcome));
            }
            Err(reason) => reasons.push(reason),
        }
    }
    let reason = reasons.join("; ");
    eprintln!(
        "warning: {}: cannot write its parse cache ({reason}); the next load parses it again",
        path.display()
    );
    Ok((file, CacheOutcome::NotWritten(reason)))
}

/// The cache beside the source, if no folder is forced and the source's folder
/// is writable.
fn beside_path(path: &Path, opts: &CacheOptions) -> Option<PathBuf> {
    if opts.folder.is_some() {
        return None;
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let writable = std::fs::metadata(dir).is_ok_and(|m| !m.permissions().readonly());
    let name = path.file_name()?.to_string_lossy().to_string();
    writable.then(|| dir.join(format!("{name}{CACHE_SUFFIX}")))
}

/// The cache in the cache folder, named by the source's name and full path.
fn folder_path(path: &Path, opts: &CacheOptions) -> PathBuf {
    let folder = opts.folder.clone().unwrap_or_else(default_folder);
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let key = xxh3_64(full.as_os_str().as_encoded_bytes());
    folder.join(format!("{name}-{key:016x}{CACHE_SUFFIX}"))
}

/// The bytes of a slice of plain numbers (native, little-endian, order).
fn as_bytes<T: super::Plain>(values: &[T]) -> &[u8] {
    // SAFETY: `Plain` types have no padding, so every byte is initialised.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The payload's sections: byte offset (from the file start) and length in bytes.
struct Layout {
    labels: usize,
    lines: usize,
    indptr: usize,
    indices: usize,
    values: usize,
    end: usize,
}

impl Layout {
    fn new(n_rows: u64, nnz: u64) -> Option<Self> {
        let n = usize::try_from(n_rows).ok()?;
        let z = usize::try_from(nnz).ok()?;
        let labels = HEADER_BYTES;
        let lines = labels.checked_add(n.checked_mul(8)?)?;
        let indptr = lines.checked_add(n.checked_mul(8)?)?;
        let indices = indptr.checked_add(n.checked_add(1)?.checked_mul(8)?)?;
        let values = indices.checked_add(z.checked_mul(4)?.checked_next_multiple_of(8)?)?;
        let end = values.checked_add(z.checked_mul(8)?)?;
        Some(Layout {
            labels,
            lines,
            indptr,
            indices,
            values,
            end,
        })
    }
}

/// Writes `file`'s cache to `target` (temp file + rename); the reason on failure.
fn write_cache(
    target: &Path,
    file: &LibsvmFile,
    stamp: &SourceStamp,
) -> std::result::Result<(), String> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = target
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = write_cache_file(&tmp, file, stamp)
        .and_then(|()| std::fs::rename(&tmp, target))
        .map_err(|e| format!("{}: {e}", target.display()));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_cache_file(tmp: &Path, file: &LibsvmFile, stamp: &SourceStamp) -> std::io::Result<()> {
    let out = File::create(tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut hasher = Xxh3::new();
    let mut put = |w: &mut std::io::BufWriter<File>, bytes: &[u8]| -> std::io::Result<()> {
        hasher.update(bytes);
        w.write_all(bytes)
    };
    w.write_all(&[0u8; HEADER_BYTES])?;
    let (indptr, indices, values) = file.csr_arrays();
    put(&mut w, as_bytes(&file.raw_labels))?;
    put(&mut w, as_bytes(&file.lines))?;
    put(&mut w, as_bytes(indptr))?;
    put(&mut w, as_bytes(indices))?;
    if indices.len() % 2 == 1 {
        put(&mut w, &[0u8; 4])?;
    }
    put(&mut w, as_bytes(values))?;
    let mut header = [0u64; HEADER_WORDS];
    header[0] = u64::from_le_bytes(MAGIC);
    header[1] = VERSION;
    header[2] = stamp.size;
    header[3] = stamp.mtime_secs as u64;
    header[4] = stamp.mtime_nanos as u64;
    header[5] = stamp.sample;
    header[6] = file.n_rows() as u64;
    header[7] = indices.len() as u64;
    header[8] = file.max_index as u64;
    header[9] = hasher.digest();
    let mut out = w.into_inner().map_err(|e| e.into_error())?;
    out.seek(SeekFrom::Start(0))?;
    out.write_all(as_bytes(&header))?;
    Ok(())
}

/// The cached file at `cache` if it is valid for the source `path` (stamp,
/// length, checksum and structure); `None` otherwise.
fn open_cache(cache: &Path, path: &Path, stamp: &SourceStamp) -> Option<LibsvmFile> {
    let file = File::open(cache).ok()?;
    let len = file.metadata().ok()?.len();
    if len < HEADER_BYTES as u64 {
        return None;
    }
    // SAFETY: caches are only ever replaced by renaming a new file into place,
    // never changed in place, so the mapped file does not change under us.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }.ok()?;
    let map = Arc::new(map);
    let word = |k: usize| u64::from_le_bytes(map[8 * k..8 * k + 8].try_into().expect("8 bytes"));
    let found = SourceStamp {
        size: word(2),
        mtime_secs: word(3) as i64,
        mtime_nanos: word(4) as u32,
        sample: word(5),
    };
    if map[..8] != MAGIC || word(1) != VERSION || found != *stamp {
        return None;
    }
    let (n_rows, nnz, max_index, hash) = (word(6), word(7), word(8), word(9));
    let layout = Layout::new(n_rows, nnz)?;
    if layout.end as u64 != len || n_rows == 0 || max_index > u32::MAX as u64 + 1 {
        return None;
    }
    if xxh3_64(&map[HEADER_BYTES..]) != hash {
        return None;
    }
    let (n, z) = (n_rows as usize, nnz as usize);
    let labels = Buffer::<f64>::mapped(&map, layout.labels, n)?;
    let lines = Buffer::<u64>::mapped(&map, layout.lines, n)?;
    let indptr = Buffer::<usize>::mapped(&map, layout.indptr, n + 1)?;
    let indices = Buffer::<u32>::mapped(&map, layout.indices, z)?;
    let values = Buffer::<f64>::mapped(&map, layout.values, z)?;
    // The structure the CSR matrix relies on.
    let monotone = indptr[0] == 0 && indptr[n] == z && indptr.windows(2).all(|w| w[0] <= w[1]);
    if !monotone || indices.iter().any(|&j| j as u64 >= max_index) {
        return None;
    }
    Some(LibsvmFile {
        path: path.to_path_buf(),
        raw_labels: labels.to_vec(),
        lines: lines.iter().map(|&l| l as usize).collect(),
        max_index: max_index as usize,
        indptr,
        indices,
        values,
    })
}
