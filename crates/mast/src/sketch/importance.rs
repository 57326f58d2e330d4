//! `importance:...`: independent Bernoulli with per-coordinate keep
//! probabilities (Hanzely & Richtárik 2018), from the data or from a file.

use std::path::PathBuf;

use super::registry::{SketchArgs, SketchContext, SketchRecipe};
use super::{Bernoulli, Sketch};
use crate::error::{MastError, Result};

/// Where the keep probabilities come from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// `p_j ∝ L_j^power` from the objective's coordinate smoothness (power ½ or 1),
    /// scaled to an expected kept fraction.
    Smoothness { power: f64, fraction: f64 },
    /// Keep probabilities read from a file.
    File(PathBuf),
}

/// The recipe of `importance:sqrt-l:Q`, `importance:l:Q` and `importance:file:PATH`.
#[derive(Debug)]
pub(crate) struct ImportanceRecipe {
    source: Source,
}

impl SketchRecipe for ImportanceRecipe {
    fn spec(&self) -> String {
        match &self.source {
            Source::Smoothness { power, fraction } if *power == 0.5 => {
                format!("importance:sqrt-l:{fraction}")
            }
            Source::Smoothness { fraction, .. } => format!("importance:l:{fraction}"),
            Source::File(p) => format!("importance:file:{}", p.display()),
        }
    }

    fn build(&self, ctx: &SketchContext<'_>) -> Result<Box<dyn Sketch>> {
        let spec = self.spec();
        let sketch = match &self.source {
            Source::Smoothness { power, fraction } => {
                let l = ctx
                    .objective
                    .and_then(|f| f.coordinate_smoothness())
                    .ok_or_else(|| {
                        MastError::param(
                            "sketch",
                            format!(
                                "`{spec}` derives its keep probabilities from the training \
                                 objective's coordinate smoothness L_j, and none is given here \
                                 (build it with SketchContext::with_objective, or use \
                                 importance:file:PATH)"
                            ),
                        )
                    })?;
                if l.len() != ctx.dim {
                    return Err(MastError::Dimension(format!(
                        "`{spec}`: {} smoothness constants for d = {}",
                        l.len(),
                        ctx.dim
                    )));
                }
                let w: Vec<f64> = l.iter().map(|&l| l.max(0.0).powf(*power)).collect();
                Bernoulli::importance(&w, *fraction)?
            }
            Source::File(path) => {
                let probs = read_probabilities(path)?;
                if probs.len() != ctx.dim {
                    return Err(MastError::param(
                        "sketch",
                        format!(
                            "{}: {} keep probabilities for a model of d = {}",
                            path.display(),
                            probs.len(),
                            ctx.dim
                        ),
                    ));
                }
                Bernoulli::per_coordinate(probs)?
            }
        };
        Ok(Box::new(sketch.with_spec(spec)))
    }

    fn keep_fraction(&self) -> Option<f64> {
        match self.source {
            Source::Smoothness { fraction, .. } => Some(fraction),
            Source::File(_) => None,
        }
    }
}

/// Keep probabilities, whitespace-separated, with the file and position of
/// anything that is not one.
fn read_probabilities(path: &std::path::Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        MastError::param(
            "sketch",
            format!(
                "cannot read keep probabilities from {}: {e}",
                path.display()
            ),
        )
    })?;
    let mut out = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        for tok in line.split_whitespace() {
            match tok.parse::<f64>() {
                Ok(p) if p > 0.0 && p <= 1.0 => out.push(p),
                _ => {
                    return Err(MastError::param(
                        "sketch",
                        format!(
                            "{}:{}: `{tok}` is not a keep probability in (0, 1]",
                            path.display(),
                            line_no + 1
                        ),
                    ))
                }
            }
        }
    }
    Ok(out)
}

/// Parses `importance:sqrt-l:Q`, `importance:l:Q` or `importance:file:PATH`.
pub(crate) fn parse(a: &SketchArgs<'_>) -> Result<Box<dyn SketchRecipe>> {
    let v = a.required()?;
    let (how, rest) = v.split_once(':').ok_or_else(|| {
        a.error(format!(
            "`{}`: use importance:sqrt-l:Q, importance:l:Q (Q the expected kept fraction) or \
             importance:file:PATH",
            a.text
        ))
    })?;
    let fraction = |q: &str| -> Result<f64> {
        let q = a.number(q.trim())?;
        if !(q > 0.0 && q <= 1.0) {
            return Err(a.error(format!(
                "`{}`: the expected kept fraction must be in (0, 1], got {q}",
                a.text
            )));
        }
        Ok(q)
    };
    let source = match how.trim().to_ascii_lowercase().as_str() {
        "sqrt-l" | "sqrt_l" => Source::Smoothness {
            power: 0.5,
            fraction: fraction(rest)?,
        },
        "l" => Source::Smoothness {
            power: 1.0,
            fraction: fraction(rest)?,
        },
        "file" => Source::File(PathBuf::from(rest.trim())),
        other => {
            return Err(a.error(format!(
                "`{}`: unknown importance weights `{other}`: use sqrt-l, l or file",
                a.text
            )))
        }
    };
    Ok(Box::new(ImportanceRecipe { source }))
}
