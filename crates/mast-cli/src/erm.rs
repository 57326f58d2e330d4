//! `mast erm`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use mast::algorithm::erm::{solve_linear_erm_compact, CompactErmSolution, ErmOptions, ErmSolver};
use mast::data::load_libsvm_pair;
use mast::objective::{LeastSquares, LogisticRegression};
use mast::run::config::Lambda;

/// Flags of `mast erm`.
#[derive(Debug, Args)]
pub struct ErmArgs {
    /// Training data (LIBSVM, optionally .gz).
    #[arg(long)]
    train: PathBuf,
    /// Test data.
    #[arg(long)]
    test: Option<PathBuf>,
    /// ℓ2 regularisation λ: a number or 1/n (default 1/n).
    #[arg(long, default_value = "1/n")]
    lambda: String,
    /// Loss: logistic or least-squares.
    #[arg(long, default_value = "logistic")]
    loss: String,
    /// Number of features (default: the largest index in train and test).
    #[arg(long)]
    n_features: Option<usize>,
    /// Stop when ‖∇f‖ ≤ tol.
    #[arg(long, default_value_t = 1e-10)]
    tol: f64,
    /// Solver: auto (dense Newton up to 200 used columns, else the trust-region
    /// Newton–CG), newton, tron or lbfgs.
    #[arg(long, default_value = "auto")]
    solver: ErmSolver,
    /// Same as `--solver lbfgs` (kept for older scripts).
    #[arg(long, hide = true, conflicts_with = "solver")]
    lbfgs: bool,
    /// Parse the data files again instead of using (or writing) their binary cache.
    #[arg(long)]
    no_cache: bool,
    /// Folder to write erm.json (solution and figures) into.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(serde::Serialize)]
struct ErmReport<'a> {
    train: &'a std::path::Path,
    test: Option<&'a std::path::Path>,
    loss_kind: &'a str,
    lambda: f64,
    n_train: usize,
    dim: usize,
    f_star: f64,
    grad_norm: f64,
    iterations: usize,
    method: &'a str,
    converged: bool,
    train_accuracy: Option<f64>,
    test_accuracy: Option<f64>,
    seconds: f64,
    x: &'a [f64],
}

/// Runs `mast erm`.
pub fn run(a: ErmArgs) -> Result<()> {
    let start = Instant::now();
    if a.no_cache {
        mast::data::cache::disable();
    }
    let pair = load_libsvm_pair(&a.train, a.test.as_ref(), a.n_features)?;
    let load_secs = start.elapsed().as_secs_f64();
    let n = pair.train.n_samples();
    // The solvers work on the columns the rows use (x*_j = 0 on the others).
    let used = mast::data::memory::columns_used(&pair.train);
    mast::data::memory::check_run("mast erm", used, mast::data::memory::LBFGS_VECTORS)?;
    let lambda = a.lambda.parse::<Lambda>()?.resolve(n)?;
    let opts = ErmOptions {
        tol: a.tol,
        solver: if a.lbfgs { ErmSolver::Lbfgs } else { a.solver },
        ..ErmOptions::default()
    };
    let data = Arc::new(pair.train);
    let solve_start = Instant::now();
    // The solution lives on the used columns only; x is expanded to all d
    // coordinates just for erm.json.
    let (sol, train_acc) = match a.loss.as_str() {
        "logistic" => {
            let f = LogisticRegression::new(data.clone(), lambda)?;
            let s = solve_linear_erm_compact(&f, &opts)?;
            let acc = s.columns.accuracy(&data, &s.solution.x);
            (s, Some(acc))
        }
        "least-squares" => {
            let f = LeastSquares::new(data, lambda)?;
            (solve_linear_erm_compact(&f, &opts)?, None)
        }
        other => anyhow::bail!("unknown loss `{other}`: use logistic or least-squares"),
    };
    let solve_secs = solve_start.elapsed().as_secs_f64();
    let CompactErmSolution {
        solution: sol,
        columns,
    } = sol;
    let test_acc = pair.test.as_ref().map(|t| columns.accuracy(t, &sol.x));
    let secs = start.elapsed().as_secs_f64();
    println!(
        "ERM optimum ({}, {} iterations{}, {:.3} s: load {:.3} s, solve {:.3} s){}",
        sol.method,
        sol.iterations,
        if sol.hessian_products > 0 {
            format!(", {} Hessian-vector products", sol.hessian_products)
        } else {
            String::new()
        },
        secs,
        load_secs,
        solve_secs,
        if sol.converged {
            ""
        } else {
            "  [NOT converged to the tolerance]"
        }
    );
    println!(
        "  n = {n}, d = {} ({} used), λ = {lambda:.10e}",
        columns.dim(),
        columns.len()
    );
    println!("  f*          = {:.12}", sol.loss);
    println!("  ‖∇f(x*)‖    = {:.3e}", sol.grad_norm);
    if let Some(acc) = train_acc {
        println!("  train acc   = {acc:.4}");
    }
    if let Some(acc) = test_acc {
        println!("  test acc    = {acc:.4}");
    }
    if let Some(dir) = &a.out {
        let x = columns.expand(&sol.x);
        let report = ErmReport {
            train: &a.train,
            test: a.test.as_deref(),
            loss_kind: &a.loss,
            lambda,
            n_train: n,
            dim: columns.dim(),
            f_star: sol.loss,
            grad_norm: sol.grad_norm,
            iterations: sol.iterations,
            method: &sol.method,
            converged: sol.converged,
            train_accuracy: train_acc,
            test_accuracy: test_acc,
            seconds: secs,
            x: &x,
        };
        mast::run::io::write_json(&dir.join("erm.json"), &report)?;
        println!("  written     {}", dir.join("erm.json").display());
    }
    if !sol.converged {
        anyhow::bail!(
            "ERM did not reach ‖∇f‖ ≤ {} (got {:.3e})",
            a.tol,
            sol.grad_norm
        );
    }
    Ok(())
}
