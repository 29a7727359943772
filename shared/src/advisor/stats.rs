//! The statistics the rules use, kept small and exact enough to test by hand: medians and the median absolute
//! deviation (robust to the very outliers we look for), the Poisson lower tail (is a count surprisingly low?), and
//! ordinary least squares with the slope's standard error (is a demand response estimable?).

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len().is_multiple_of(2) { (sorted[middle - 1] + sorted[middle]) / 2.0 } else { sorted[middle] })
}

/// The median absolute deviation from the median; `None` when empty.
pub fn median_absolute_deviation(values: &[f64]) -> Option<f64> {
    let center = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations)
}

/// The MAD times this estimates the standard deviation of normally distributed data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// `P(X ≤ k)` for `X ~ Poisson(mean)`, summed in log space so large means neither underflow nor overflow.
pub fn poisson_cdf(k: u64, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 1.0;
    }
    let ln_mean = mean.ln();
    // ln of each term e^-λ λ^i / i!, accumulated with log-sum-exp.
    let mut ln_term = -mean;
    let mut ln_sum = ln_term;
    for i in 1..=k {
        ln_term += ln_mean - (i as f64).ln();
        let (high, low) = if ln_sum > ln_term { (ln_sum, ln_term) } else { (ln_term, ln_sum) };
        ln_sum = high + (low - high).exp().ln_1p();
    }
    ln_sum.exp().min(1.0)
}

/// A straight line fitted by ordinary least squares, `y = intercept + slope × x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    /// Observations.
    pub n: usize,
    /// Where the line crosses x = 0.
    pub intercept: f64,
    /// The slope.
    pub slope: f64,
    /// The slope's standard error (residual variance over n − 2 degrees of freedom).
    pub slope_se: f64,
    /// The share of y's variance the line explains.
    pub r_squared: f64,
}

/// Fits `points`; `None` with fewer than three points or when every x is the same (no slope to estimate).
pub fn fit_line(points: &[(f64, f64)]) -> Option<LineFit> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let count = n as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / count;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / count;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    if sxx <= f64::EPSILON * count {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let residual: f64 = points.iter().map(|p| (p.1 - intercept - slope * p.0).powi(2)).sum();
    let slope_se = (residual / (count - 2.0) / sxx).sqrt();
    let r_squared = if syy > 0.0 { 1.0 - residual / syy } else { 1.0 };
    Some(LineFit { n, intercept, slope, slope_se, r_squared })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_deviations_ignore_a_lone_outlier() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let flat_with_spike = [100.0, 100.0, 100.0, 100.0, 500.0, 100.0, 100.0];
        assert_eq!(median(&flat_with_spike), Some(100.0));
        assert_eq!(median_absolute_deviation(&flat_with_spike), Some(0.0));
        assert_eq!(median_absolute_deviation(&[1.0, 2.0, 3.0, 4.0, 5.0]), Some(1.0));
    }

    #[test]
    fn poisson_tails_match_hand_computed_values() {
        // P(X ≤ 0; 2) = e^-2; P(X ≤ 2; 2) = e^-2 (1 + 2 + 2) = 5 e^-2.
        assert!((poisson_cdf(0, 2.0) - (-2.0f64).exp()).abs() < 1e-12);
        assert!((poisson_cdf(2, 2.0) - 5.0 * (-2.0f64).exp()).abs() < 1e-12);
        assert!((poisson_cdf(3, 15.0) - 0.000_211_6).abs() < 1e-6, "{}", poisson_cdf(3, 15.0));
        assert!(poisson_cdf(2_500, 5_000.0) < 1e-100, "no underflow to NaN");
        assert!(poisson_cdf(10_000, 5_000.0) > 0.999_999);
        assert_eq!(poisson_cdf(0, 0.0), 1.0);
    }

    #[test]
    fn a_line_through_exact_points_has_no_error() {
        let points: Vec<(f64, f64)> = (0..5).map(|x| (f64::from(x), 2.0 * f64::from(x) + 1.0)).collect();
        let fit = fit_line(&points).expect("fit");
        assert!((fit.slope - 2.0).abs() < 1e-12 && (fit.intercept - 1.0).abs() < 1e-12);
        assert!(fit.slope_se < 1e-9);
        assert!((fit.r_squared - 1.0).abs() < 1e-12);
        assert_eq!(fit_line(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]), None, "no variation in x");
        assert_eq!(fit_line(&[(1.0, 1.0), (2.0, 2.0)]), None, "too few points");
    }
}
