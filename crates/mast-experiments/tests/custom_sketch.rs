//! The `custom_sketch` example's logic, briefly: a sketch defined outside the
//! library, registered with one line, has exact constants, parses and prints
//! back, trains with Algorithm 1 on a5a and runs in a curves experiment (and a
//! grid cell and the pruning experiment accept it by name).

#[path = "../examples/custom_sketch.rs"]
#[allow(dead_code)]
mod custom_sketch;

use std::path::{Path, PathBuf};

use custom_sketch::{block_dropout_entry, BlockDropout};
use mast::sketch::{registry, Sketch, SketchSpec};

mod common;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

#[test]
fn block_dropout_has_exact_constants() {
    let s = BlockDropout::new(7, 3, 0.4).unwrap();
    let draws = s.enumerate().unwrap();
    let total: f64 = draws.iter().map(|(p, _)| p).sum();
    assert!((total - 1.0).abs() < 1e-12);
    let expect = |f: &dyn Fn(&[f64]) -> f64| -> f64 {
        draws.iter().map(|(p, d)| p * f(&d.to_dense(7))).sum()
    };
    for j in 0..7 {
        assert!((expect(&|v| v[j]) - 1.0).abs() < 1e-12, "E[S] = I at {j}");
        for l in 0..7 {
            assert!((expect(&|v| v[j] * v[l]) - s.second_moment(j, l)).abs() < 1e-12);
        }
    }
    assert!((s.l_d() - 2.5).abs() < 1e-12 && (s.mu_d() - 2.5).abs() < 1e-12);
    assert!((s.l_s_max() - 6.25).abs() < 1e-12);
    let max_sq = draws
        .iter()
        .flat_map(|(_, d)| d.scales.iter().map(|c| c * c))
        .fold(0.0, f64::max);
    assert!((max_sq - s.l_s_max()).abs() < 1e-12);
}

#[test]
fn registered_block_dropout_parses_trains_and_runs_an_experiment() {
    registry::register(block_dropout_entry());
    assert!(registry::registered()
        .iter()
        .any(|e| e.name == "block-dropout"));
    assert!(registry::help().contains("block-dropout:P[:B]"));

    let spec: SketchSpec = " Block-Dropout : 0.5 ".parse().unwrap();
    assert_eq!(spec.to_string(), "block-dropout:0.5:8");
    assert_eq!(spec.to_string().parse::<SketchSpec>().unwrap(), spec);
    assert_eq!(
        (spec.kind(), spec.keep_fraction()),
        ("block-dropout", Some(0.5))
    );
    let sketch = spec.build(20).unwrap();
    assert_eq!((sketch.dim(), sketch.expected_kept()), (20, 10.0));
    assert_eq!(sketch.spec(), "block-dropout:0.5:8");
    let err = "block-dropout:0.5:x"
        .parse::<SketchSpec>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid parameter `sketch`"), "{err}");
    assert!("block-dropout:1.5"
        .parse::<SketchSpec>()
        .unwrap()
        .build(4)
        .is_err());
    // By kind and fraction, as the grid and the pruning experiment name sketches.
    assert_eq!(
        SketchSpec::with_fraction("block-dropout", 0.25)
            .unwrap()
            .to_string(),
        "block-dropout:0.25:8"
    );
    assert!(mast_experiments::prune::PruneSketch::new("block-dropout").is_ok());

    let data = data_dir();
    let (loss, loss0) = custom_sketch::train_with_block_dropout(&data.join("a5a.gz"), 30).unwrap();
    assert!(loss < loss0, "f = {loss} ≥ f(0) = {loss0}");

    let out = common::temp_dir("custom_sketch", "curves");
    let outcome = custom_sketch::curves_with_block_dropout(&data, &out, &[1], 20).unwrap();
    assert_eq!(outcome.table.len(), 2);
    assert!(outcome
        .table
        .iter()
        .all(|r| r.diverged == 0 && r.final_loss.mean < loss0));
    let config = std::fs::read_to_string(
        out.join("runs")
            .read_dir()
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains("block-dropout"))
            .unwrap()
            .join("config.toml"),
    )
    .unwrap();
    assert!(
        config.contains("sketch = \"block-dropout:0.5:8\""),
        "{config}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}
