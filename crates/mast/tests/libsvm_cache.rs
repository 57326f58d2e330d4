//! The parallel LIBSVM parser (chunked parse = line-by-line parse, errors and
//! their line numbers included), the binary CSR cache (hit, invalidation,
//! corruption, unwritable folders) and the memory estimate's error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mast::data::cache::{read_cached, CacheOptions, CacheOutcome};
use mast::data::memory::{check_dimension, dimension_error, human_bytes, memory_limit};
use mast::data::LibsvmFile;
use mast::MastError;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("mast-cache-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = set_mode(&self.0, 0o755);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Seeded LIBSVM text: `rows` rows, real values, comments and blank lines mixed in.
fn text(rows: usize, seed: u64) -> String {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut out = String::from("# header\n");
    for i in 0..rows {
        let label = if next() % 2 == 0 { "+1" } else { "-1" };
        out.push_str(label);
        let mut j = 0u64;
        for _ in 0..(next() % 12) {
            j += 1 + next() % 50;
            let v = (next() % 20001) as f64 / 1e4 - 1.0;
            out.push_str(&format!(" {j}:{v}"));
        }
        if i % 7 == 3 {
            out.push_str(" # trailing");
        }
        out.push('\n');
        if i % 11 == 5 {
            out.push_str("\n   \n# comment\n");
        }
    }
    out
}

/// Everything a parse yields, comparable.
/// A parsed file's fields, comparable as one value.
type Summary = (Vec<u64>, Vec<usize>, usize, Vec<usize>, Vec<u32>, Vec<u64>);

fn summary(f: &LibsvmFile) -> Summary {
    let (indptr, indices, values) = f.csr_arrays();
    (
        f.raw_labels.iter().map(|l| l.to_bits()).collect(),
        f.lines.clone(),
        f.max_index,
        indptr.to_vec(),
        indices.to_vec(),
        values.iter().map(|v| v.to_bits()).collect(),
    )
}

/// The line-by-line reference: each line parsed alone as a one-line chunk is the
/// finest chunking; whole-file chunks are the coarsest.
#[test]
fn chunked_parse_equals_whole_parse_for_any_chunk_size() {
    let t = text(400, 3);
    let path = Path::new("gen.svm");
    let whole = LibsvmFile::parse_text_chunked(t.as_bytes(), path, usize::MAX).expect("parses");
    assert_eq!(whole.n_rows(), 400);
    for chunk in [1, 7, 64, 1000, 4096] {
        let f = LibsvmFile::parse_text_chunked(t.as_bytes(), path, chunk).expect("parses");
        assert!(summary(&f) == summary(&whole), "chunk {chunk}");
    }
    // The first row's line: 2 (after the header comment).
    assert_eq!(whole.lines[0], 2);
}

#[test]
fn errors_in_later_chunks_keep_their_line_numbers() {
    let good = text(300, 5);
    let n_lines = good.lines().count();
    let cases: [(&str, &[&str]); 4] = [
        ("1 3:1 2:1", &["strictly increasing", "2 comes after 3"]),
        ("1 2:nan", &["not finite"]),
        ("2 1:1", &["third distinct label", "'2'", "line 2"]),
        ("1 x:1", &["'x'", "not an integer"]),
    ];
    for (bad, words) in cases {
        // The bad line late in the file, then more good lines (and a second error).
        let t = format!("{good}{bad}\n{good}1 0:1\n");
        for chunk in [1, 100, 5000, usize::MAX] {
            match LibsvmFile::parse_text_chunked(t.as_bytes(), Path::new("g.svm"), chunk) {
                Err(MastError::Parse { line, message, .. }) => {
                    assert_eq!(line, n_lines + 1, "{bad} chunk {chunk}: {message}");
                    for w in words {
                        assert!(message.contains(w), "{bad}: {message}");
                    }
                }
                other => panic!("{bad} chunk {chunk}: {:?}", other.map(|f| f.n_rows())),
            }
        }
    }
    // A third label in one chunk, after the first two were seen in other chunks.
    let t = "1 1:1\n\n-1 2:1\n# c\n0 3:1\n";
    for chunk in [1, 3, 100] {
        match LibsvmFile::parse_text_chunked(t.as_bytes(), Path::new("g.svm"), chunk) {
            Err(MastError::Parse { line, message, .. }) => {
                assert_eq!(line, 5, "{message}");
                assert!(
                    message.contains("on line 1") && message.contains("on line 3"),
                    "{message}"
                );
            }
            other => panic!("chunk {chunk}: {:?}", other.map(|f| f.n_rows())),
        }
    }
    // Invalid UTF-8 on line 3.
    let bytes = b"1 1:1\n-1 2:1\n1 3:\xff\n";
    match LibsvmFile::parse_text_chunked(bytes, Path::new("g.svm"), 2) {
        Err(MastError::Parse {
            line: 3, message, ..
        }) => assert!(message.contains("UTF-8"), "{message}"),
        other => panic!("{:?}", other.map(|f| f.n_rows())),
    }
}

fn opts(folder: Option<PathBuf>) -> CacheOptions {
    CacheOptions {
        enabled: true,
        folder,
        min_source_bytes: 0,
    }
}

fn bump_mtime(path: &Path, secs: u64) {
    let f = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open");
    let t =
        std::fs::metadata(path).unwrap().modified().unwrap() + std::time::Duration::from_secs(secs);
    f.set_modified(t).expect("set mtime");
}

#[test]
fn cache_hit_then_invalidated_by_size_mtime_or_content() {
    let tmp = TempDir::new("hit");
    let src = tmp.0.join("data.svm");
    std::fs::write(&src, text(200, 1)).unwrap();
    let reference = LibsvmFile::read_uncached(&src).expect("parse");
    let beside = tmp.0.join("data.svm.mastcache");

    let (f, o) = read_cached(&src, &opts(None)).expect("first load");
    assert_eq!(o, CacheOutcome::Written(beside.clone()));
    assert!(!f.is_mapped() && summary(&f) == summary(&reference));
    let (f, o) = read_cached(&src, &opts(None)).expect("reload");
    assert_eq!(o, CacheOutcome::Hit(beside.clone()));
    assert!(f.is_mapped(), "a hit maps the cache");
    assert!(summary(&f) == summary(&reference));
    assert_eq!(f.path, src);

    // Size changes: rebuilt, with the new rows.
    std::fs::write(&src, text(201, 1)).unwrap();
    let (f, o) = read_cached(&src, &opts(None)).expect("after growth");
    assert_eq!(o, CacheOutcome::Rebuilt(beside.clone()));
    assert_eq!(f.n_rows(), 201);

    // Same bytes, new mtime: rebuilt.
    bump_mtime(&src, 5);
    let (_, o) = read_cached(&src, &opts(None)).expect("after touch");
    assert_eq!(o, CacheOutcome::Rebuilt(beside.clone()));

    // Same size and mtime, other content (a label flipped on line 2): rebuilt.
    let before = std::fs::metadata(&src).unwrap().modified().unwrap();
    let mut t = std::fs::read(&src).unwrap();
    let at = t.iter().position(|&b| b == b'\n').unwrap() + 1;
    t[at] = if t[at] == b'+' { b'-' } else { b'+' };
    std::fs::write(&src, &t).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&src)
        .unwrap()
        .set_modified(before)
        .unwrap();
    let (f, o) = read_cached(&src, &opts(None)).expect("after edit");
    assert_eq!(o, CacheOutcome::Rebuilt(beside.clone()));
    assert!(summary(&f) == summary(&LibsvmFile::read_uncached(&src).unwrap()));
    let (_, o) = read_cached(&src, &opts(None)).expect("hit again");
    assert_eq!(o, CacheOutcome::Hit(beside));
}

#[test]
fn corrupt_or_truncated_cache_is_rebuilt() {
    let tmp = TempDir::new("corrupt");
    let src = tmp.0.join("data.svm");
    std::fs::write(&src, text(150, 2)).unwrap();
    let reference = LibsvmFile::read_uncached(&src).expect("parse");
    let cache = tmp.0.join("data.svm.mastcache");
    read_cached(&src, &opts(None)).expect("write");
    let good = std::fs::read(&cache).unwrap();
    let len = good.len();
    // A flipped payload byte, a flipped header byte, a truncation, garbage.
    let damaged: Vec<Vec<u8>> = vec![
        {
            let mut b = good.clone();
            b[len - 3] ^= 0x10;
            b
        },
        {
            let mut b = good.clone();
            b[8 * 6] ^= 1;
            b
        },
        good[..len - 8].to_vec(),
        b"not a cache".to_vec(),
    ];
    for (k, bytes) in damaged.into_iter().enumerate() {
        std::fs::write(&cache, bytes).unwrap();
        let (f, o) = read_cached(&src, &opts(None)).expect("rebuilt");
        assert_eq!(o, CacheOutcome::Rebuilt(cache.clone()), "case {k}");
        assert!(summary(&f) == summary(&reference), "case {k}");
        assert_eq!(
            std::fs::read(&cache).unwrap(),
            good,
            "case {k}: rewritten identically"
        );
    }
}

#[test]
fn unwritable_folders_fall_back_then_warn() {
    let tmp = TempDir::new("ro");
    let data_dir = tmp.0.join("ro");
    std::fs::create_dir_all(&data_dir).unwrap();
    let src = data_dir.join("data.svm");
    std::fs::write(&src, text(50, 4)).unwrap();
    set_mode(&data_dir, 0o555).unwrap();
    let fallback = tmp.0.join("cache-home");
    // A read-only data folder: no cache beside it; the given folder is used.
    let (_, o) = read_cached(&src, &opts(Some(fallback.clone()))).expect("loads");
    match &o {
        CacheOutcome::Written(p) => assert!(p.starts_with(&fallback), "{p:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!data_dir.join("data.svm.mastcache").exists());
    let (f, o) = read_cached(&src, &opts(Some(fallback))).expect("reloads");
    assert!(matches!(o, CacheOutcome::Hit(_)) && f.is_mapped(), "{o:?}");
    // A cache folder that cannot exist (below a plain file): a warning, the data loads.
    let impossible = src.join("below-a-file");
    let (f, o) = read_cached(&src, &opts(Some(impossible))).expect("still loads");
    assert!(matches!(o, CacheOutcome::NotWritten(_)), "{o:?}");
    assert_eq!(f.n_rows(), 50);
    // Off: no cache involved.
    let off = CacheOptions {
        enabled: false,
        ..opts(None)
    };
    assert_eq!(read_cached(&src, &off).unwrap().1, CacheOutcome::Off);
}

#[test]
fn cached_errors_are_the_parse_errors() {
    let tmp = TempDir::new("err");
    let src = tmp.0.join("bad.svm");
    std::fs::write(&src, format!("{}1 2:1 1:1\n", text(30, 6))).unwrap();
    let direct = LibsvmFile::read_uncached(&src).unwrap_err().to_string();
    let cached = read_cached(&src, &opts(None)).unwrap_err().to_string();
    assert_eq!(direct, cached);
    assert!(
        !tmp.0.join("bad.svm.mastcache").exists(),
        "no cache of a bad file"
    );
}

#[test]
fn too_wide_feature_index_is_a_clear_memory_error() {
    // One row with index 3e9: more than three 3e9-vectors (72 GB) on any machine
    // this runs on, or the model alone (24 GB) on most.
    if memory_limit() >= 72_000_000_000 {
        return;
    }
    let t = "# c\n1 1:1\n-1 5:1 3000000000:0.5\n";
    for chunk in [1, usize::MAX] {
        let err =
            LibsvmFile::parse_text_chunked(t.as_bytes(), Path::new("wide.svm"), chunk).unwrap_err();
        assert!(matches!(err, MastError::OutOfMemory { .. }), "{err:?}");
        let msg = err.to_string();
        let expected = format!(
            "wide.svm:3: feature index 3000000000 makes d = 3e9: the model alone needs {}",
            human_bytes(24_000_000_000)
        );
        assert!(msg.starts_with(&expected), "{msg}");
        assert!(
            msg.ends_with(&format!(
                "more than this machine's memory ({})",
                human_bytes(memory_limit())
            )),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
    // The estimate itself: fits, and does not.
    assert!(check_dimension("", "n_features = 1000", 1000).is_ok());
    let e = dimension_error("f:1: ", "feature index 7", 7).to_string();
    assert!(
        e.starts_with("f:1: feature index 7 makes d = 7: the model alone needs 56 B"),
        "{e}"
    );
}
