//! The ERM solvers: the trust-region Newton–CG against dense Newton, its
//! Hessian-vector products against finite differences and the dense Hessian,
//! compaction to the used columns, and thread-count invariance.

use std::sync::Arc;

use mast::algorithm::erm::{
    newton_pays, solve_erm, solve_linear_erm, solve_linear_erm_compact, ErmOptions, ErmSolution,
    ErmSolver, UsedColumns,
};
use mast::data::{load_libsvm_pair, CsrMatrix, Dataset, Design};
use mast::error::Result;
use mast::linalg::{norm, SymMatrix};
use mast::objective::hessian::{loss_grad_hessian, LinearHessian};
use mast::objective::{
    LeastSquares, LinearModel, LogisticRegression, MarginLoss, Objective, Quadratic, Rows,
};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn shipped(name: &str) -> String {
    format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn a5a() -> Arc<Dataset> {
    Arc::new(
        load_libsvm_pair(shipped("a5a.gz"), None::<&str>, None)
            .unwrap()
            .train,
    )
}

/// n rows over d columns, about `per_row` real nonzeros a row drawn from the first
/// `used` columns (so columns `used..d` are empty), ±1 labels from a planted model.
fn random_sparse(n: usize, d: usize, used: usize, per_row: usize, seed: u64) -> Arc<Dataset> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let planted: Vec<f64> = (0..used).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
    let (mut indptr, mut indices, mut values, mut labels) = (vec![0], vec![], vec![], vec![]);
    for _ in 0..n {
        let mut cols: Vec<u32> = (0..per_row)
            .map(|_| rng.random_range(0..used as u32))
            .collect();
        cols.sort_unstable();
        cols.dedup();
        let mut margin = 0.0;
        for &j in &cols {
            let v = rng.random::<f64>() + 0.1;
            margin += v * planted[j as usize];
            indices.push(j);
            values.push(v);
        }
        indptr.push(indices.len());
        let noisy = margin + 0.5 * (rng.random::<f64>() - 0.5);
        labels.push(if noisy >= 0.0 { 1.0 } else { -1.0 });
    }
    let a = CsrMatrix::new(n, d, indptr, indices, values);
    Arc::new(Dataset::new("random", Design::Sparse(a), labels))
}

fn with(solver: ErmSolver) -> ErmOptions {
    ErmOptions {
        solver,
        ..ErmOptions::default()
    }
}

fn assert_same_optimum(a: &ErmSolution, b: &ErmSolution, what: &str) {
    assert!(a.converged && a.grad_norm <= 1e-10, "{what}: {a:?}");
    assert!(b.converged && b.grad_norm <= 1e-10, "{what}: {b:?}");
    let rel = (a.loss - b.loss).abs() / b.loss.abs();
    assert!(
        rel <= 1e-10,
        "{what}: f {} vs {} (rel {rel:e})",
        a.loss,
        b.loss
    );
    let dx: f64 = a.x.iter().zip(&b.x).map(|(p, q)| (p - q) * (p - q)).sum();
    assert!(
        dx.sqrt() <= 1e-6 * (1.0 + norm(&b.x)),
        "{what}: ‖Δx‖ = {:e}",
        dx.sqrt()
    );
}

fn tron_vs_newton<L: MarginLoss>(f: &LinearModel<L>, what: &str) {
    let newton = solve_erm(f, &with(ErmSolver::Newton)).unwrap();
    let tron = solve_erm(f, &with(ErmSolver::Tron)).unwrap();
    assert_eq!(
        (newton.method.as_str(), tron.method.as_str()),
        ("newton", "tron")
    );
    assert!(tron.hessian_products > 0);
    assert_same_optimum(&tron, &newton, what);
}

#[test]
fn tron_reaches_newtons_optimum_on_a5a() {
    let data = a5a();
    let lambda = 1.0 / data.n_samples() as f64;
    tron_vs_newton(
        &LogisticRegression::new(data.clone(), lambda).unwrap(),
        "a5a logistic",
    );
    tron_vs_newton(
        &LeastSquares::new(data, lambda).unwrap(),
        "a5a least squares",
    );
}

#[test]
fn tron_reaches_newtons_optimum_on_random_sparse_data() {
    for (seed, lambda) in [(1, 1e-3), (2, 1e-5)] {
        let data = random_sparse(400, 260, 240, 12, seed);
        let what = format!("seed {seed}, λ {lambda}");
        let f = LogisticRegression::new(data.clone(), lambda).unwrap();
        tron_vs_newton(&f, &format!("logistic, {what}"));
        let f = LeastSquares::new(data, lambda).unwrap();
        tron_vs_newton(&f, &format!("least squares, {what}"));
    }
}

fn random_point(d: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..d).map(|_| rng.random::<f64>() - 0.5).collect()
}

#[test]
fn hessian_vector_products_match_the_dense_hessian_and_finite_differences() {
    let data = random_sparse(300, 60, 60, 8, 7);
    let f = LogisticRegression::new(data, 1e-3).unwrap();
    let d = f.dim();
    let x = random_point(d, 11);
    let v = random_point(d, 12);
    let h = LinearHessian::at(&f, &x);
    let mut hv = vec![0.0; d];
    h.apply(&v, &mut hv);
    // Exact oracle: the dense Hessian (formed sample by sample).
    let dense: SymMatrix = f.hessian(&x).unwrap();
    let mut exact = vec![0.0; d];
    dense.matvec(&v, &mut exact);
    for j in 0..d {
        assert!(
            (hv[j] - exact[j]).abs() <= 1e-13 * (1.0 + exact[j].abs()),
            "j {j}"
        );
    }
    let diag = h.diagonal();
    for (j, dj) in diag.iter().enumerate() {
        assert!((dj - dense.get(j, j)).abs() <= 1e-14 * (1.0 + dense.get(j, j)));
    }
    // Central differences of the gradient: error O(ε²).
    let eps = 1e-5;
    let (mut gp, mut gm) = (vec![0.0; d], vec![0.0; d]);
    let xp: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a + eps * b).collect();
    let xm: Vec<f64> = x.iter().zip(&v).map(|(a, b)| a - eps * b).collect();
    f.loss_grad(&xp, Rows::All, &mut gp);
    f.loss_grad(&xm, Rows::All, &mut gm);
    let fd: Vec<f64> = gp
        .iter()
        .zip(&gm)
        .map(|(p, m)| (p - m) / (2.0 * eps))
        .collect();
    let err: f64 = fd.iter().zip(&hv).map(|(a, b)| (a - b) * (a - b)).sum();
    assert!(
        err.sqrt() <= 1e-7 * norm(&hv),
        "‖FD − Hv‖ = {:e}",
        err.sqrt()
    );
    // The fused evaluation gives loss_grad's bits and the same operator.
    let mut g = vec![0.0; d];
    let (loss, h2, diag2) = loss_grad_hessian(&f, &x, &mut g);
    let mut g_ref = vec![0.0; d];
    assert_eq!(loss, f.loss_grad(&x, Rows::All, &mut g_ref));
    assert_eq!(g, g_ref);
    assert_eq!(diag2, diag);
    let mut hv2 = vec![0.0; d];
    h2.apply(&v, &mut hv2);
    assert_eq!(hv2, hv);
}

/// The model without its downcast to a linear model: solve_erm then works on all
/// d columns (dense Newton), with no compaction.
struct AllColumns(LogisticRegression);

impl Objective for AllColumns {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn num_samples(&self) -> usize {
        self.0.num_samples()
    }
    fn loss(&self, x: &[f64]) -> f64 {
        self.0.loss(x)
    }
    fn loss_grad(&self, x: &[f64], rows: Rows<'_>, grad: &mut [f64]) -> f64 {
        self.0.loss_grad(x, rows, grad)
    }
    fn smoothness(&self) -> f64 {
        self.0.smoothness()
    }
    fn strong_convexity(&self) -> f64 {
        self.0.strong_convexity()
    }
    fn hessian(&self, x: &[f64]) -> Option<SymMatrix> {
        self.0.hessian(x)
    }
}

#[test]
fn compaction_gives_the_solution_on_all_columns() {
    // Columns 150..400 are never used.
    let data = random_sparse(300, 400, 150, 10, 3);
    let f = LogisticRegression::new(data.clone(), 1e-3).unwrap();
    let cols = UsedColumns::of(&data.features);
    assert!(cols.len() <= 150 && !cols.is_all());
    let full = solve_erm(
        &AllColumns(LogisticRegression::new(data, 1e-3).unwrap()),
        &with(ErmSolver::Newton),
    )
    .unwrap();
    assert_eq!(full.x.len(), 400);
    for solver in [ErmSolver::Newton, ErmSolver::Tron] {
        let compact = solve_linear_erm(&f, &with(solver)).unwrap();
        assert_eq!(compact.x.len(), 400);
        assert_same_optimum(&compact, &full, &format!("{solver}"));
        assert!(compact.x[150..].iter().all(|&v| v == 0.0));
        // Its gradient on all d columns is the one reported.
        let mut g = vec![0.0; 400];
        let loss = f.loss_grad(&compact.x, Rows::All, &mut g);
        assert!((loss - compact.loss).abs() <= 1e-15);
        assert!(norm(&g) <= 1e-10);
    }
}

#[test]
fn a_two_row_problem_over_fifty_million_columns_solves_on_its_used_columns() {
    let d = 50_000_000;
    let a = CsrMatrix::new(
        2,
        d,
        vec![0, 2, 4],
        vec![3, 49_999_999, 17, 49_999_999],
        vec![0.6, 0.8, 1.0, 0.5],
    );
    let data = Arc::new(Dataset::new("wide", Design::Sparse(a), vec![1.0, -1.0]));
    let f = LogisticRegression::new(data.clone(), 0.5).unwrap();
    let sol = solve_linear_erm_compact(&f, &ErmOptions::default()).unwrap();
    assert_eq!(sol.columns.len(), 3);
    assert_eq!(sol.columns.dim(), d);
    assert_eq!(sol.solution.method, "newton");
    assert!(sol.solution.converged);
    // The optimum on the used columns solves the 3-column problem.
    let small = CsrMatrix::new(
        2,
        3,
        vec![0, 2, 4],
        vec![0, 2, 1, 2],
        vec![0.6, 0.8, 1.0, 0.5],
    );
    let small = Arc::new(Dataset::new(
        "small",
        Design::Sparse(small),
        vec![1.0, -1.0],
    ));
    let reference = solve_erm(
        &LogisticRegression::new(small, 0.5).unwrap(),
        &ErmOptions::default(),
    )
    .unwrap();
    assert_eq!(sol.solution.x, reference.x);
    assert_eq!(sol.columns.accuracy(&data, &sol.solution.x), 1.0);
}

#[test]
fn tron_is_bit_identical_on_one_and_two_threads() -> Result<()> {
    let data = random_sparse(5000, 3000, 2500, 20, 5);
    let f = LogisticRegression::new(data, 1e-4)?;
    let run = |threads: usize| -> ErmSolution {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| solve_erm(&f, &with(ErmSolver::Tron)).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert!(one.converged);
    assert_eq!(one, two);
    Ok(())
}

#[test]
fn auto_picks_newton_for_small_and_tron_for_wide_problems() {
    let small = LogisticRegression::new(a5a(), 1e-3).unwrap();
    assert!(newton_pays(&small));
    assert_eq!(
        solve_erm(&small, &ErmOptions::default()).unwrap().method,
        "newton"
    );
    let wide = LogisticRegression::new(random_sparse(600, 3000, 3000, 10, 9), 1e-3).unwrap();
    assert!(!newton_pays(&wide));
    let sol = solve_erm(&wide, &ErmOptions::default()).unwrap();
    assert_eq!(sol.method, "tron");
    assert!(sol.converged && sol.grad_norm <= 1e-10);
}

#[test]
fn tron_needs_a_linear_model() {
    let q = Quadratic::new(
        SymMatrix::from_fn(2, |i, j| if i == j { 2.0 } else { 0.5 }),
        vec![1.0, -1.0],
        0.0,
    )
    .unwrap();
    let err = solve_erm(&q, &with(ErmSolver::Tron)).unwrap_err();
    assert!(err.to_string().contains("Hessian-vector"), "{err}");
    assert!(solve_erm(&q, &ErmOptions::default()).unwrap().converged);
}
