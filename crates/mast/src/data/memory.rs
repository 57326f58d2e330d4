//! Memory estimates: before allocating anything of size d or n·d, its bytes are
//! compared with this machine's memory, and a clear error
//! ([`MastError::OutOfMemory`]) is returned instead of an allocation failure
//! (an abort) or the kernel's OOM killer.
//!
//! "This machine's memory" is [`memory_limit`]: the smallest of the physical
//! memory (`MemTotal` in `/proc/meminfo`), the cgroup's limit where one is set,
//! and `MAST_MEMORY_LIMIT` (bytes, or with a `K`/`M`/`G`/`T` suffix: binary
//! units) where that is set.
//!
//! ```
//! use mast::data::memory::{check_dimension, human_bytes};
//! assert!(check_dimension("", "n_features", 1_000).is_ok());
//! assert_eq!(human_bytes(24_000_000_000), "22.4 GiB");
//! ```

use std::sync::OnceLock;

use crate::error::{MastError, Result};

/// The fewest d-vectors any run holds (the model, a gradient and a search
/// direction): the loader refuses a d for which these cannot fit.
pub const RUN_MIN_VECTORS: u64 = 3;

/// Bytes of one f64 vector of length `len`.
pub fn vector_bytes(len: u64) -> u64 {
    len.saturating_mul(8)
}

/// This machine's memory in bytes (see the module docs); `u64::MAX` where it
/// cannot be read (then nothing is refused).
pub fn memory_limit() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    let machine = *LIMIT.get_or_init(|| {
        let total = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| meminfo_field(&s, "MemTotal:"))
            .unwrap_or(u64::MAX);
        let cgroup = [
            "/sys/fs/cgroup/memory.max",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|s| s.trim().parse::<u64>().ok())
        .min()
        .unwrap_or(u64::MAX);
        total.min(cgroup)
    });
    // Read each time: tests and users may set it for one command.
    let user = std::env::var("MAST_MEMORY_LIMIT")
        .ok()
        .and_then(|s| parse_bytes(&s))
        .unwrap_or(u64::MAX);
    machine.min(user)
}

/// A `/proc/meminfo` field in bytes (`MemTotal:   24683664 kB`).
fn meminfo_field(meminfo: &str, key: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with(key))?;
    let mut parts = line[key.len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    let unit = match parts.next() {
        Some("kB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    value.checked_mul(unit)
}

/// Parses `123`, `512M`, `16G`, `1.5T` (binary units) into bytes.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last()? {
        (i, 'K' | 'k') => (&t[..i], 1u64 << 10),
        (i, 'M' | 'm') => (&t[..i], 1 << 20),
        (i, 'G' | 'g') => (&t[..i], 1 << 30),
        (i, 'T' | 't') => (&t[..i], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * mult as f64).min(u64::MAX as f64) as u64)
}

/// Bytes for people: `512 B`, `3.0 KiB`, `400 MiB`, `22.4 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    match u {
        0 => format!("{bytes} B"),
        _ if v >= 100.0 => format!("{v:.0} {}", UNITS[u]),
        _ => format!("{v:.1} {}", UNITS[u]),
    }
}

/// A count for people: exact below a million, else the shortest exact
/// scientific form (`3e9`, `5e7`, `1.355191e6`).
pub fn compact_count(n: u64) -> String {
    if n < 1_000_000 {
        n.to_string()
    } else {
        format!("{:e}", n as f64)
    }
}

/// Refuses `bytes` (an allocation described by `what`, from `place`, e.g.
/// `FILE:LINE: `) if it exceeds [`memory_limit`].
pub fn check(place: &str, what: &str, bytes: u64, also: &str) -> Result<()> {
    let limit = memory_limit();
    if bytes > limit {
        return Err(MastError::OutOfMemory {
            place: place.to_string(),
            what: what.to_string(),
            bytes,
            also: also.to_string(),
            limit,
        });
    }
    Ok(())
}

/// The largest feature count d whose [`RUN_MIN_VECTORS`] d-vectors fit in memory.
pub fn max_dimension() -> u64 {
    memory_limit() / vector_bytes(RUN_MIN_VECTORS)
}

/// Refuses a feature count `d` (coming from `source`, e.g. `feature index 3000000000`)
/// for which even the smallest run cannot fit: the model alone is `8·d` bytes and
/// any run holds at least [`RUN_MIN_VECTORS`] such vectors.
///
/// ```
/// use mast::data::memory::check_dimension;
/// let err = check_dimension("a.svm:3: ", "feature index 3000000000", 3_000_000_000_000).unwrap_err();
/// assert!(err.to_string().starts_with(
///     "a.svm:3: feature index 3000000000 makes d = 3e12: the model alone needs 21.8 TiB"));
/// ```
pub fn check_dimension(place: &str, source: &str, d: u64) -> Result<()> {
    if vector_bytes(d).saturating_mul(RUN_MIN_VECTORS) <= memory_limit() {
        return Ok(());
    }
    Err(dimension_error(place, source, d))
}

/// The error [`check_dimension`] returns for `d` (whether or not `d` fits).
pub fn dimension_error(place: &str, source: &str, d: u64) -> MastError {
    let limit = memory_limit();
    let model = vector_bytes(d);
    let also = if model <= limit {
        format!(
            ", and any run at least {RUN_MIN_VECTORS} such vectors ({})",
            human_bytes(model.saturating_mul(RUN_MIN_VECTORS))
        )
    } else {
        String::new()
    };
    MastError::OutOfMemory {
        place: place.to_string(),
        what: format!("{source} makes d = {}: the model alone", compact_count(d)),
        bytes: model,
        also,
        limit,
    }
}

/// Refuses a dense `n_rows × n_cols` f64 matrix (e.g. a dense copy of sparse
/// data) that cannot fit.
///
/// ```
/// use mast::data::memory::check_dense;
/// assert!(check_dense("a dense copy of the data", 10, 10).is_ok());
/// assert!(check_dense("a dense copy of the data", 1 << 40, 1 << 20).is_err());
/// ```
pub fn check_dense(what: &str, n_rows: u64, n_cols: u64) -> Result<()> {
    let bytes = vector_bytes(n_rows.saturating_mul(n_cols));
    check(
        "",
        &format!(
            "{what} ({} × {})",
            compact_count(n_rows),
            compact_count(n_cols)
        ),
        bytes,
        "",
    )
}

/// The d-vectors an L-BFGS solve (history 10) holds: the iterate, its gradient,
/// the direction, a trial point and its gradient, and 10 pairs of differences.
pub const LBFGS_VECTORS: u64 = 25;

/// The d-vectors a `mast train` run holds besides its ERM reference solve
/// (an L-BFGS solve, [`LBFGS_VECTORS`]): the iterate, its gradient, the shift,
/// the sketch's draw, the best model, the reference point and evaluation buffers.
pub const TRAIN_STATE_VECTORS: u64 = 8;

/// Above this many bytes of d-vectors, a run over data whose rows use under 1%
/// of the d columns is refused ([`check_columns_used`]).
pub const SPARSE_COLUMNS_BYTES: u64 = 1 << 30;

/// Refuses a run of `command` that holds `vectors` f64 vectors of length `d`
/// if they cannot fit in memory.
///
/// ```
/// use mast::data::memory::check_run;
/// assert!(check_run("mast erm", 1000, 25).is_ok());
/// let e = check_run("mast erm", 1 << 40, 25).unwrap_err().to_string();
/// assert!(e.starts_with("mast erm at d = 1.099511627776e12: its 25 vectors of d need"), "{e}");
/// ```
pub fn check_run(command: &str, d: u64, vectors: u64) -> Result<()> {
    check(
        "",
        &format!(
            "{command} at d = {}: its {vectors} vectors of d",
            compact_count(d)
        ),
        vector_bytes(d).saturating_mul(vectors),
        "",
    )
}

/// Columns that hold at least one stored value in `data`.
pub fn columns_used(data: &super::Dataset) -> u64 {
    match &data.features {
        super::Design::Dense(m) => m.n_cols() as u64,
        super::Design::Sparse(m) => {
            let mut seen = vec![0u64; m.n_cols().div_ceil(64)];
            for i in 0..m.n_rows() {
                for &j in m.row(i).0 {
                    seen[j as usize / 64] |= 1 << (j % 64);
                }
            }
            seen.iter().map(|w| w.count_ones() as u64).sum()
        }
    }
}

/// Refuses a run of `command` holding `vectors` d-vectors (more than
/// [`SPARSE_COLUMNS_BYTES`] of them) when the rows of `data` use under 1% of
/// its d columns: the run would spend its memory and time on columns no row
/// holds (a stray large feature index, or features never renumbered), so it
/// asks for the features to be renumbered instead of running for minutes.
///
/// ```
/// use mast::data::{memory::check_columns_used, CsrMatrix, Dataset, Design};
/// let x = CsrMatrix::new(2, 50_000_000, vec![0, 1, 2], vec![0, 49_999_999], vec![1.0, 1.0]);
/// let data = Dataset::new("two", Design::Sparse(x), vec![1.0, -1.0]);
/// assert!(check_columns_used("mast train", &data, 1).is_ok());
/// let e = check_columns_used("mast train", &data, 33).unwrap_err().to_string();
/// assert!(e.contains("rows use only 2 of its 5e7 columns"), "{e}");
/// ```
pub fn check_columns_used(command: &str, data: &super::Dataset, vectors: u64) -> Result<()> {
    let d = data.n_features() as u64;
    let bytes = vector_bytes(d).saturating_mul(vectors);
    if bytes <= SPARSE_COLUMNS_BYTES {
        return Ok(());
    }
    let used = columns_used(data);
    if used.saturating_mul(100) >= d {
        return Ok(());
    }
    Err(MastError::param(
        "data.train",
        format!(
            "the rows use only {used} of its {} columns (d is the largest feature index): \
             {command} would hold {vectors} vectors of d ({}) for them; renumber the features \
             to the columns used",
            compact_count(d),
            human_bytes(bytes)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_counts() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(3 * 1024), "3.0 KiB");
        assert_eq!(human_bytes(400 << 20), "400 MiB");
        assert_eq!(compact_count(999_999), "999999");
        assert_eq!(compact_count(3_000_000_000), "3e9");
        assert_eq!(compact_count(1_355_191), "1.355191e6");
        assert_eq!(parse_bytes("16G"), Some(16 << 30));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(
            meminfo_field("MemFree: 1 kB\nMemTotal:  24683664 kB\n", "MemTotal:"),
            Some(24683664 * 1024)
        );
    }
}
