//! The LIBSVM loader against scikit-learn's `load_svmlight_file` on the same files
//! (`bench/load/README.md`): mast's parse (no cache), its first cached load (parse
//! and cache write) and its cached reload, each as a ratio of scikit-learn's time.
//!
//!     cargo bench -p mast --bench load_libsvm -- [--data FILE]... [--repeats R]
//!         [--python /usr/bin/python3]
//!
//! Default data: `../shared/data/libsvm/a5a.t` (relative to the project root).
//! Times are the best of R runs (median in brackets); the cache lives in a
//! temporary folder removed afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mast::data::cache::{read_cached, CacheOptions, CacheOutcome};
use mast::data::LibsvmFile;

fn best_median(mut t: Vec<f64>) -> (f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[0], t[t.len() / 2])
}

fn time<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, f64) {
    best_median(
        (0..repeats)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(f());
                t0.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn sklearn(python: &str, script: &Path, data: &Path, repeats: usize) -> Option<(f64, f64)> {
    let out = Command::new(python)
        .arg(script)
        .arg(data)
        .arg(repeats.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("sklearn failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((v["best_s"].as_f64()?, v["median_s"].as_f64()?))
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut data = Vec::new();
    let mut repeats = 5;
    let mut python = "/usr/bin/python3".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data.push(PathBuf::from(args.next().expect("--data FILE"))),
            "--repeats" => {
                repeats = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--repeats R")
            }
            "--python" => python = args.next().expect("--python PATH"),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    if data.is_empty() {
        data.push(root.join("../shared/data/libsvm/a5a.t"));
    }
    let script = root.join("bench/load/sklearn_load.py");
    let threads = rayon::current_num_threads();
    println!("threads: {threads}, repeats: {repeats} (best, [median]), seconds");
    for path in &data {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let (parse, parse_med) = time(repeats, || LibsvmFile::read_uncached(path).expect("parse"));
        let file = LibsvmFile::read_uncached(path).expect("parse");
        let folder = std::env::temp_dir().join(format!("mast-load-bench-{}", std::process::id()));
        let opts = CacheOptions {
            enabled: true,
            folder: Some(folder.clone()),
            min_source_bytes: 0,
        };
        let t0 = Instant::now();
        let (_, outcome) = read_cached(path, &opts).expect("first cached load");
        let first = t0.elapsed().as_secs_f64();
        assert!(matches!(outcome, CacheOutcome::Written(_)), "{outcome:?}");
        let (reload, reload_med) = time(repeats, || {
            let (f, o) = read_cached(path, &opts).expect("reload");
            assert!(matches!(o, CacheOutcome::Hit(_)), "{o:?}");
            f
        });
        let _ = std::fs::remove_dir_all(&folder);
        let sk = sklearn(&python, &script, path, repeats.min(3));
        println!(
            "{}: {:.1} MB, {} rows, {} nonzeros",
            path.display(),
            size as f64 / 1e6,
            file.n_rows(),
            file.csr_arrays().1.len()
        );
        println!("  mast parse        {parse:8.4} [{parse_med:.4}]");
        println!("  mast parse+write  {first:8.4}");
        println!("  mast cached load  {reload:8.4} [{reload_med:.4}]");
        if let Some((s, s_med)) = sk {
            println!("  sklearn           {s:8.4} [{s_med:.4}]");
            println!(
                "  ratios to sklearn: parse {:.3}×, parse+write {:.3}×, cached load {:.4}×",
                parse / s,
                first / s,
                reload / s
            );
        }
    }
}
