//! Assigning samples to the M nodes of a distributed run (Algorithm 2).

use std::fmt;
use std::str::FromStr;

use rand::Rng;

use super::Dataset;
use crate::error::{MastError, Result};
use crate::rng::{stream, MastRng, Stream};

/// How samples are split among nodes.
///
/// | text | meaning |
/// |---|---|
/// | `iid` | a seeded shuffle cut into M near-equal shards |
/// | `by-label` | sorted by label (random order within a label), cut into M near-equal shards: most nodes see one class |
/// | `dirichlet:0.5` | per class, node proportions drawn from Dirichlet(α, …, α); small α = very uneven |
///
/// ```
/// use mast::data::Sharding;
/// assert_eq!("dirichlet:0.3".parse::<Sharding>().unwrap(), Sharding::Dirichlet(0.3));
/// assert_eq!(Sharding::ByLabel.to_string(), "by-label");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Sharding {
    /// Independent, identically distributed shards.
    Iid,
    /// Label-sorted shards (maximally heterogeneous).
    ByLabel,
    /// Per-class Dirichlet(α) proportions (heterogeneous, tunable).
    Dirichlet(f64),
}

impl Sharding {
    /// Splits the rows of `data` among `m` nodes with the shard stream of `seed`.
    /// Every node gets at least one sample; each shard's rows are increasing.
    ///
    /// ```
    /// use mast::data::{synthetic, Sharding};
    /// let data = synthetic::gaussian_planted(50, 3, 0.0, synthetic::Task::Classification, 1);
    /// let shards = Sharding::Iid.split(&data, 4, 7).unwrap();
    /// assert_eq!(shards.iter().map(Vec::len).collect::<Vec<_>>(), vec![13, 13, 12, 12]);
    /// ```
    pub fn split(&self, data: &Dataset, m: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
        let n = data.n_samples();
        if m == 0 {
            return Err(MastError::param("nodes", "must be at least 1"));
        }
        if n < m {
            return Err(MastError::param(
                "nodes",
                format!("{m} nodes but only {n} training samples: every node needs one"),
            ));
        }
        let mut rng = stream(seed, Stream::Shard);
        let mut order: Vec<usize> = (0..n).collect();
        shuffle(&mut order, &mut rng);
        let mut shards = match *self {
            Sharding::Iid => cut(&order, m),
            Sharding::ByLabel => {
                order.sort_by(|&a, &b| data.labels[a].total_cmp(&data.labels[b]));
                cut(&order, m)
            }
            Sharding::Dirichlet(alpha) => {
                if !(alpha > 0.0 && alpha.is_finite()) {
                    return Err(MastError::param(
                        "sharding",
                        format!("the Dirichlet concentration must be positive, got {alpha}"),
                    ));
                }
                dirichlet(data, &order, m, alpha, &mut rng)
            }
        };
        for s in &mut shards {
            s.sort_unstable();
        }
        Ok(shards)
    }
}

/// Fisher–Yates.
fn shuffle(v: &mut [usize], rng: &mut MastRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// `order` cut into `m` contiguous pieces, the first `n mod m` one longer.
fn cut(order: &[usize], m: usize) -> Vec<Vec<usize>> {
    let (q, r) = (order.len() / m, order.len() % m);
    let mut start = 0;
    (0..m)
        .map(|i| {
            let len = q + usize::from(i < r);
            let piece = order[start..start + len].to_vec();
            start += len;
            piece
        })
        .collect()
}

fn dirichlet(
    data: &Dataset,
    order: &[usize],
    m: usize,
    alpha: f64,
    rng: &mut MastRng,
) -> Vec<Vec<usize>> {
    let mut classes: Vec<f64> = data.labels.clone();
    classes.sort_by(f64::total_cmp);
    classes.dedup();
    let mut shards = vec![Vec::new(); m];
    for class in classes {
        let members: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| data.labels[i] == class)
            .collect();
        let weights: Vec<f64> = (0..m).map(|_| gamma(alpha, rng)).collect();
        let total: f64 = weights.iter().sum();
        let mut cum = 0.0;
        let mut start = 0;
        for (i, w) in weights.iter().enumerate() {
            cum += w / total;
            let end = if i + 1 == m {
                members.len()
            } else {
                ((cum * members.len() as f64).round() as usize).clamp(start, members.len())
            };
            shards[i].extend_from_slice(&members[start..end]);
            start = end;
        }
    }
    // Every node needs a sample: an empty node takes one from the largest shard.
    while let Some(empty) = shards.iter().position(Vec::is_empty) {
        let largest = (0..m)
            .max_by_key(|&i| (shards[i].len(), m - i))
            .unwrap_or(0);
        let moved = shards[largest]
            .pop()
            .expect("n ≥ m leaves a shard with two samples");
        shards[empty].push(moved);
    }
    shards
}

/// A Gamma(shape, 1) variate (Marsaglia–Tsang; boosted for shape < 1).
fn gamma(shape: f64, rng: &mut MastRng) -> f64 {
    if shape < 1.0 {
        let u: f64 = 1.0 - rng.random::<f64>();
        return gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let z = normal(rng);
        let t = 1.0 + c * z;
        if t <= 0.0 {
            continue;
        }
        let v = t * t * t;
        let u: f64 = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

/// A standard normal variate (Box–Muller, one of the pair).
fn normal(rng: &mut MastRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl FromStr for Sharding {
    type Err = MastError;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        match t.split_once(':') {
            None if t == "iid" => Ok(Sharding::Iid),
            None if t == "by-label" || t == "label" => Ok(Sharding::ByLabel),
            Some((kind, a)) if kind.trim() == "dirichlet" => {
                let a = a.trim().strip_prefix("alpha=").unwrap_or(a.trim());
                a.parse().map(Sharding::Dirichlet).map_err(|_| {
                    MastError::param("sharding", format!("`{a}` in `{s}` is not a number"))
                })
            }
            _ => Err(MastError::param(
                "sharding",
                format!("unknown sharding `{s}`: use iid, by-label or dirichlet:ALPHA"),
            )),
        }
    }
}

impl fmt::Display for Sharding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sharding::Iid => write!(f, "iid"),
            Sharding::ByLabel => write!(f, "by-label"),
            Sharding::Dirichlet(a) => write!(f, "dirichlet:{a}"),
        }
    }
}

impl TryFrom<String> for Sharding {
    type Error = MastError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Sharding> for String {
    fn from(s: Sharding) -> String {
        s.to_string()
    }
}
