//! Fixtures shared by the experiment tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A small LIBSVM pair (train, test) with a planted linear model.
pub fn tiny_data(dir: &Path, seed: u64) -> (PathBuf, PathBuf) {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    };
    let w = [1.0, -2.0, 0.5, 1.5, -1.0, 0.8];
    let mut write = |name: &str, n: usize| {
        let mut text = String::new();
        for _ in 0..n {
            let a: Vec<f64> = (0..6).map(|_| next()).collect();
            let margin: f64 = a.iter().zip(&w).map(|(x, y)| x * y).sum::<f64>() + 0.3 * next();
            text += if margin > 0.0 { "+1" } else { "-1" };
            for (j, v) in a.iter().enumerate() {
                text += &format!(" {}:{v:.4}", j + 1);
            }
            text.push('\n');
        }
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    (write("train.svm", 80), write("test.svm", 40))
}

/// A fresh temporary folder `mast-exp-{prefix}-{name}-{pid}`.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mast-exp-{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
