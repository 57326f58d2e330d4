//! Quartiles and quantiles against hand-computed type-7 values.

use mast_report::{mean_std, quantile, BoxStats, Quartiles, ReportError};

fn five(q: &Quartiles) -> [f64; 5] {
    [q.min, q.q1, q.median, q.q3, q.max]
}

#[test]
fn odd_count() {
    // h = 4p: Q(.25) = x[1], Q(.5) = x[2], Q(.75) = x[3].
    let q = Quartiles::from_samples(&[9.0, 1.0, 7.0, 3.0, 5.0]).unwrap();
    assert_eq!(five(&q), [1.0, 3.0, 5.0, 7.0, 9.0]);
    assert_eq!(q.n, 5);
}

#[test]
fn even_count_interpolates() {
    // n = 4: h = 0.75, 1.5, 2.25 → 1.75, 2.5, 3.25 (NumPy's default).
    let q = Quartiles::from_samples(&[4.0, 2.0, 1.0, 3.0]).unwrap();
    assert_eq!(five(&q), [1.0, 1.75, 2.5, 3.25, 4.0]);
    // n = 6: h = 1.25, 2.5, 3.75 → 22.5, 35, 47.5.
    let q = Quartiles::from_samples(&[60.0, 10.0, 50.0, 20.0, 40.0, 30.0]).unwrap();
    assert_eq!(five(&q), [10.0, 22.5, 35.0, 47.5, 60.0]);
    assert_eq!(q.iqr(), 25.0);
}

#[test]
fn single_sample() {
    let q = Quartiles::from_samples(&[0.84]).unwrap();
    assert_eq!(five(&q), [0.84; 5]);
    assert_eq!(q.n, 1);
    assert_eq!(mean_std(&[0.84]).unwrap(), (0.84, 0.0));
}

#[test]
fn quantile_levels() {
    let x = [10.0, 20.0, 30.0, 40.0, 50.0];
    assert_eq!(quantile(&x, 0.0).unwrap(), 10.0);
    assert_eq!(quantile(&x, 1.0).unwrap(), 50.0);
    assert!((quantile(&x, 0.1).unwrap() - 14.0).abs() < 1e-12); // h = 0.4
    assert!((quantile(&x, 0.9).unwrap() - 46.0).abs() < 1e-12); // h = 3.6
    assert!(quantile(&x, 1.5).is_err());
    assert!(quantile(&x, f64::NAN).is_err());
}

#[test]
fn non_finite_and_empty_are_rejected() {
    for bad in [
        vec![],
        vec![1.0, f64::NAN],
        vec![f64::NAN],
        vec![1.0, f64::INFINITY],
    ] {
        let e = Quartiles::from_samples(&bad).unwrap_err();
        assert!(matches!(e, ReportError::InvalidInput(_)), "{e}");
        assert!(BoxStats::from_samples(&bad).is_err());
        assert!(mean_std(&bad).is_err());
    }
    let msg = Quartiles::from_samples(&[1.0, f64::NAN])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("sample 1"), "{msg}");
}

#[test]
fn box_stats_whiskers_and_outliers() {
    // q1 = 2, q3 = 4, IQR = 2: fences at −1 and 7.
    let b = BoxStats::from_samples(&[100.0, 1.0, 2.0, 3.0, 4.0, -5.0, 2.0]).unwrap();
    assert_eq!(b.quartiles.q1, 1.5);
    assert_eq!(b.quartiles.q3, 3.5);
    // IQR = 2 → fences −1.5 and 6.5.
    assert_eq!((b.whisker_low, b.whisker_high), (1.0, 4.0));
    assert_eq!(b.outliers, vec![-5.0, 100.0]);
    let flat = BoxStats::from_samples(&[2.0, 2.0, 2.0]).unwrap();
    assert_eq!((flat.whisker_low, flat.whisker_high), (2.0, 2.0));
    assert!(flat.outliers.is_empty());
}

#[test]
fn mean_and_sample_std() {
    let (m, s) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
    assert_eq!(m, 5.0);
    assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
}
