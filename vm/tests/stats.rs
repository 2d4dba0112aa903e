//! The experiment statistics against known values and by simulation.
//!
//! Known values: computed with SciPy 1.17.1 and statsmodels 0.15.0 (Python 3), with the calls
//! named beside each table; the numbers are checked in here, so the test needs no Python.

use journey_vm::stats::{
    analyse, holm, newcombe, power_two_proportions, two_proportion_p, verdict, welch, wilson, ArmInput, Summary,
    CONFIDENCE,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} (within {tol})");
}

/// `statsmodels.stats.proportion.proportion_confint(s, n, alpha=0.05, method="wilson")`.
#[test]
fn wilson_matches_statsmodels() {
    let cases = [
        (81, 263, 0.255288519878, 0.366209576983),
        (0, 10, 0.000000000000, 0.277532799863),
        (10, 10, 0.722467200137, 1.000000000000),
        (120, 1000, 0.101299260601, 0.141609075848),
        (5, 40, 0.054595002509, 0.261121198389),
    ];
    for (s, n, low, high) in cases {
        let i = wilson(s, n, CONFIDENCE).unwrap();
        close(i.low, low, 1e-9, &format!("wilson({s}, {n}).low"));
        close(i.high, high, 1e-9, &format!("wilson({s}, {n}).high"));
    }
    assert_eq!(wilson(0, 0, CONFIDENCE), None);
}

/// `statsmodels.stats.proportion.confint_proportions_2indep(s1, n1, s2, n2, method="newcomb",
/// compare="diff")` and `proportions_ztest([s1, s2], [n1, n2])` (pooled, two-sided).
#[test]
fn newcombe_and_z_test_match_statsmodels() {
    let cases = [
        (120, 1000, 100, 1000, -0.007492167515, 0.047550667456, 1.529177818639e-01),
        (56, 70, 48, 80, 0.052431472402, 0.333872654037, 8.045081368197e-03),
        (9, 10, 3, 10, 0.170522723935, 0.809017973535, 6.169899320544e-03),
        (230, 5000, 180, 5000, 0.002224293469, 0.017822798281, 1.168367783387e-02),
    ];
    for (s1, n1, s2, n2, low, high, p) in cases {
        let what = format!("{s1}/{n1} vs {s2}/{n2}");
        let i = newcombe(s1, n1, s2, n2, CONFIDENCE).unwrap();
        close(i.low, low, 1e-9, &format!("{what} low"));
        close(i.high, high, 1e-9, &format!("{what} high"));
        close(two_proportion_p(s1, n1, s2, n2).unwrap(), p, 1e-10, &format!("{what} p"));
    }
    assert_eq!(two_proportion_p(0, 50, 0, 50), Some(1.0), "nothing differs when nobody converts");
    assert_eq!(two_proportion_p(1, 0, 0, 50), None);
}

/// `scipy.stats.ttest_ind_from_stats(m1, sd1, n1, m2, sd2, n2, equal_var=False)`; the interval
/// is `diff ± scipy.stats.t.ppf(0.975, df) * se` with Welch's df.
#[test]
fn welch_matches_scipy() {
    let cases = [
        (
            (10.0, 2.0, 30),
            (11.0, 3.0, 40),
            -1.670538139169,
            9.946541117633e-02,
            67.187759036145,
            -2.194768188506,
            0.194768188506,
        ),
        (
            (5.2, 1.1, 12),
            (4.1, 2.5, 9),
            1.233483264590,
            2.447164036293e-01,
            10.333420739786,
            -0.878361109405,
            3.078361109405,
        ),
    ];
    for ((m1, sd1, n1), (m2, sd2, n2), t, p, df, low, high) in cases {
        let w = welch(&Summary::from_mean_sd(n1, m1, sd1), &Summary::from_mean_sd(n2, m2, sd2), CONFIDENCE).unwrap();
        close(w.t, t, 1e-8, "t");
        close(w.p, p, 1e-8, "p");
        close(w.df, df, 1e-6, "df");
        close(w.interval.low, low, 1e-8, "low");
        close(w.interval.high, high, 1e-8, "high");
    }
    // From the values themselves: `scipy.stats.ttest_ind(a, b, equal_var=False)` and its
    // `confidence_interval()`.
    let a = Summary::of(&[3.1, 4.5, 2.2, 5.0, 3.3, 4.1]);
    let b = Summary::of(&[2.0, 2.5, 1.9, 3.0, 2.2]);
    let w = welch(&a, &b, CONFIDENCE).unwrap();
    close(w.t, 2.978031954957, 1e-8, "t");
    close(w.p, 2.038765693527e-02, 1e-9, "p");
    close(w.interval.low, 0.28595821086847084, 1e-8, "low");
    close(w.interval.high, 2.4740417891315296, 1e-8, "high");
    assert_eq!(welch(&Summary::of(&[1.0]), &b, CONFIDENCE), None, "one value has no variance");
}

/// `statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005], method="holm")[1]`.
#[test]
fn holm_matches_statsmodels() {
    let got = holm(&[0.01, 0.04, 0.03, 0.005]);
    for (g, w) in got.iter().zip([0.03, 0.06, 0.06, 0.02]) {
        close(*g, w, 1e-12, "holm");
    }
}

/// `statsmodels.stats.power.NormalIndPower().power(effect_size=proportion_effectsize(p2, p1),
/// nobs1=n, alpha=0.05)` uses Cohen's arcsine h, a slightly different approximation from the
/// difference-of-proportions one here: they agree within 0.01.
#[test]
fn power_agrees_with_statsmodels() {
    close(power_two_proportions(0.10, 0.12, 3000, 0.05), 0.6977936186610995, 0.01, "power 10% vs 12%, n=3000");
    close(power_two_proportions(0.20, 0.25, 1000, 0.05), 0.764588101468523, 0.01, "power 20% vs 25%, n=1000");
}

fn draw(rng: &mut StdRng, p: f64, n: u64) -> u64 {
    (0..n).filter(|_| rng.random::<f64>() < p).count() as u64
}

/// 1,000 A/A experiments (both arms convert at 10%, 2,000 profiles each): the z-test rejects
/// at 5% between 3% and 7% of the time (the expected 5% ± about 3 standard errors).
#[test]
fn a_a_experiments_reject_about_five_percent() {
    let mut rng = StdRng::seed_from_u64(11);
    let runs = 1000;
    let mut rejected = 0;
    let mut covered = 0;
    for _ in 0..runs {
        let (a, b) = (draw(&mut rng, 0.10, 2000), draw(&mut rng, 0.10, 2000));
        if two_proportion_p(a, 2000, b, 2000).unwrap() < 0.05 {
            rejected += 1;
        }
        let i = newcombe(a, 2000, b, 2000, CONFIDENCE).unwrap();
        if i.low <= 0.0 && 0.0 <= i.high {
            covered += 1;
        }
    }
    assert!((30..=70).contains(&rejected), "A/A rejections: {rejected} of {runs}");
    assert!((930..=970).contains(&covered), "the lift interval covers the true 0 in {covered} of {runs}");
}

/// Welch's test on values per profile in A/A experiments (skewed values: 10% convert, with
/// exponential revenue) rejects at 5% between 3% and 7% of the time.
#[test]
fn a_a_value_experiments_reject_about_five_percent() {
    let mut rng = StdRng::seed_from_u64(12);
    let runs = 1000;
    let mut rejected = 0;
    let sample = |rng: &mut StdRng| {
        let values: Vec<f64> = (0..500)
            .map(|_| if rng.random::<f64>() < 0.10 { -50.0 * (1.0 - rng.random::<f64>()).ln() } else { 0.0 })
            .collect();
        Summary::of(&values)
    };
    for _ in 0..runs {
        let (a, b) = (sample(&mut rng), sample(&mut rng));
        if welch(&a, &b, CONFIDENCE).unwrap().p < 0.05 {
            rejected += 1;
        }
    }
    assert!((30..=70).contains(&rejected), "A/A value rejections: {rejected} of {runs}");
}

/// With a true lift (10% to 12%, 3,000 profiles per arm) the test finds it as often as the power
/// calculation says, within 0.05 (about four standard errors of 1,000 runs).
#[test]
fn a_true_lift_is_found_as_often_as_the_power_says() {
    let mut rng = StdRng::seed_from_u64(13);
    let (n, runs) = (3000, 1000);
    let expected = power_two_proportions(0.10, 0.12, n, 0.05);
    let found = (0..runs)
        .filter(|_| {
            let (a, b) = (draw(&mut rng, 0.10, n), draw(&mut rng, 0.12, n));
            two_proportion_p(b, n, a, n).unwrap() < 0.05 && b > a
        })
        .count();
    let share = found as f64 / runs as f64;
    assert!(
        (share - expected).abs() <= 0.05,
        "found the lift in {share} of runs; the power calculation says {expected}"
    );
}

#[test]
fn an_experiment_reads_as_a_verdict() {
    let arm = |label: &str, assigned, converted| ArmInput { label: label.into(), assigned, converted, value: None };
    let a = analyse(&[(
        "purchase".into(),
        vec![arm("control", 10_000, 1_000), arm("A", 10_000, 1_030), arm("B", 10_000, 1_210)],
    )]);
    assert_eq!(a.control, "control");
    // `proportions_ztest([1030, 1000], [10000, 10000])` gives p = 0.4824; Holm leaves the larger
    // of two p-values as it is.
    assert_eq!(a.comparisons, 2);
    let arms = &a.goals[0].arms;
    assert!(arms[0].versus_control.is_none());
    assert_eq!(
        verdict(&arms[2], &a.control).unwrap(),
        "B converts 2.1 points better than control (95% CI 1.2 to 3.0, p < 0.001)"
    );
    assert_eq!(
        verdict(&arms[1], &a.control).unwrap(),
        "A converts 0.3 points better than control, not significant (95% CI -0.5 to 1.1, p = 0.482)"
    );
    assert_eq!(
        a.warnings,
        ["2 comparisons: p-values are adjusted with Holm's method (read p_adjusted); intervals are not adjusted"]
    );
    // Few conversions: a plain warning naming the arms.
    let small = analyse(&[("purchase".into(), vec![arm("A", 100, 12), arm("B", 100, 40)])]);
    assert_eq!(small.control, "A", "without an arm called control, the first arm is the control");
    assert_eq!(small.warnings, ["fewer than 30 conversions in \"A\": too few to trust the intervals and p-values yet"]);
}
