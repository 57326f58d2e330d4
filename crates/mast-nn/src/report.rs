//! Tables of an experiment: training curves and pruning results as CSV, their
//! summaries (median and quartiles) as CSV and markdown.

use crate::prune::PruneResult;
use crate::train::EpochMetrics;

/// One row of `prune.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PruneRow {
    /// Method label (e.g. `bernoulli:0.5`).
    pub method: String,
    /// Training seed.
    pub seed: u64,
    /// The pruning result.
    pub result: PruneResult,
}

/// One row of `curves.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveRow {
    /// Method label.
    pub method: String,
    /// Training seed.
    pub seed: u64,
    /// The metrics of one epoch.
    pub metrics: EpochMetrics,
}

/// Summary statistics of a sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (n − 1 in the denominator; 0 for one value).
    pub std: f64,
    /// Minimum.
    pub min: f64,
    /// First quartile (linear interpolation).
    pub q1: f64,
    /// Median.
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Maximum.
    pub max: f64,
}

/// The `p`-quantile of sorted values, linear interpolation between order statistics.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

impl Stats {
    /// Statistics of `values` (NaN fields for an empty sample).
    pub fn of(values: &[f64]) -> Stats {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n.max(1) as f64;
        let var = if n > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Stats {
            n,
            mean: if n == 0 { f64::NAN } else { mean },
            std: var.sqrt(),
            min: v.first().copied().unwrap_or(f64::NAN),
            q1: quantile(&v, 0.25),
            median: quantile(&v, 0.5),
            q3: quantile(&v, 0.75),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }
}

fn num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x}")
    }
}

/// `metrics.csv` of one run (no timings: those go to [`timings_csv`]).
pub fn metrics_csv(rows: &[EpochMetrics]) -> String {
    let mut s = String::from("epoch,step,train_loss,test_loss,test_accuracy\n");
    for r in rows {
        s += &format!(
            "{},{},{},{},{}\n",
            r.epoch,
            r.step,
            num(r.train_loss),
            num(r.test_loss),
            num(r.test_accuracy),
        );
    }
    s
}

/// A run's `timings.csv`: seconds of training and of wall time at each epoch (kept
/// apart from `metrics.csv`, which is identical between identical runs, and
/// between a resumed run and one that never stopped).
pub fn timings_csv(rows: &[EpochMetrics]) -> String {
    let mut s = String::from("epoch,step,train_s,wall_s\n");
    for r in rows {
        s += &format!("{},{},{:.3},{:.3}\n", r.epoch, r.step, r.train_s, r.wall_s);
    }
    s
}

/// `curves.csv`: every epoch of every run.
pub fn curves_csv(rows: &[CurveRow]) -> String {
    let mut s =
        String::from("method,seed,epoch,step,train_loss,test_loss,test_accuracy,train_s,wall_s\n");
    for r in rows {
        let m = &r.metrics;
        s += &format!(
            "{},{},{},{},{},{},{},{:.3},{:.3}\n",
            r.method,
            r.seed,
            m.epoch,
            m.step,
            num(m.train_loss),
            num(m.test_loss),
            num(m.test_accuracy),
            m.train_s,
            m.wall_s
        );
    }
    s
}

/// Labels in first-seen order.
fn ordered<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        if !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    out
}

/// `curves_summary.csv`: per method and epoch, mean and std over seeds.
pub fn curves_summary_csv(rows: &[CurveRow]) -> String {
    let mut s = String::from(
        "method,epoch,seeds,train_loss_mean,train_loss_std,test_loss_mean,test_loss_std,test_accuracy_mean,test_accuracy_std\n",
    );
    for m in ordered(rows.iter().map(|r| r.method.as_str())) {
        let max_epoch = rows
            .iter()
            .filter(|r| r.method == m)
            .map(|r| r.metrics.epoch)
            .max()
            .unwrap_or(0);
        for e in 0..=max_epoch {
            let sel: Vec<&EpochMetrics> = rows
                .iter()
                .filter(|r| r.method == m && r.metrics.epoch == e)
                .map(|r| &r.metrics)
                .collect();
            if sel.is_empty() {
                continue;
            }
            let st = |f: fn(&EpochMetrics) -> f64| {
                Stats::of(&sel.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let (tl, sl, sa) = (
                st(|r| r.train_loss),
                st(|r| r.test_loss),
                st(|r| r.test_accuracy),
            );
            s += &format!(
                "{m},{e},{},{},{},{},{},{},{}\n",
                sel.len(),
                num(tl.mean),
                num(tl.std),
                num(sl.mean),
                num(sl.std),
                num(sa.mean),
                num(sa.std)
            );
        }
    }
    s
}

/// `prune.csv`: `q, method, seed, mask, test_accuracy, test_loss`.
pub fn prune_csv(rows: &[PruneRow]) -> String {
    let mut s = String::from("q,method,seed,mask,test_accuracy,test_loss\n");
    for r in rows {
        s += &format!(
            "{},{},{},{},{},{}\n",
            r.result.q, r.method, r.seed, r.result.mask, r.result.test_accuracy, r.result.test_loss
        );
    }
    s
}

/// Pruned test accuracy statistics of one method at one `q` (over seeds × masks).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PruneStat {
    /// Fraction kept.
    pub q: f64,
    /// Method label.
    pub method: String,
    /// Statistics of the test accuracies.
    pub accuracy: Stats,
}

/// Statistics per `q` and method, in the order they first appear.
pub fn prune_stats(rows: &[PruneRow]) -> Vec<PruneStat> {
    let mut qs: Vec<f64> = Vec::new();
    for r in rows {
        if !qs.contains(&r.result.q) {
            qs.push(r.result.q);
        }
    }
    qs.sort_by(f64::total_cmp);
    let methods = ordered(rows.iter().map(|r| r.method.as_str()));
    let mut out = Vec::new();
    for &q in &qs {
        for m in &methods {
            let acc: Vec<f64> = rows
                .iter()
                .filter(|r| r.result.q == q && &r.method == m)
                .map(|r| r.result.test_accuracy)
                .collect();
            if !acc.is_empty() {
                out.push(PruneStat {
                    q,
                    method: m.clone(),
                    accuracy: Stats::of(&acc),
                });
            }
        }
    }
    out
}

/// `prune_summary.csv`.
pub fn prune_summary_csv(stats: &[PruneStat]) -> String {
    let mut s = String::from("q,method,n,median,q1,q3,min,max,mean,std\n");
    for p in stats {
        let a = &p.accuracy;
        s += &format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            p.q, p.method, a.n, a.median, a.q1, a.q3, a.min, a.max, a.mean, a.std
        );
    }
    s
}

/// The pruning summary as a markdown table: one row per `q`, one column per
/// method, cells `median [q1, q3]` in percent.
pub fn prune_summary_md(stats: &[PruneStat]) -> String {
    let methods = ordered(stats.iter().map(|p| p.method.as_str()));
    let mut qs: Vec<f64> = Vec::new();
    for p in stats {
        if !qs.contains(&p.q) {
            qs.push(p.q);
        }
    }
    let mut s = format!(
        "| q | {} |\n|---|{}\n",
        methods.join(" | "),
        "---|".repeat(methods.len())
    );
    for q in qs {
        s += &format!("| {q} |");
        for m in &methods {
            match stats.iter().find(|p| p.q == q && &p.method == m) {
                Some(p) => {
                    s += &format!(
                        " {:.2} [{:.2}, {:.2}] |",
                        100.0 * p.accuracy.median,
                        100.0 * p.accuracy.q1,
                        100.0 * p.accuracy.q3
                    )
                }
                None => s += " |",
            }
        }
        s.push('\n');
    }
    s
}
