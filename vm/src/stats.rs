//! Experiment statistics: per arm, a conversion rate with its 95% interval; against the control,
//! the lift with its 95% interval and a two-sided p-value; and the warnings a reader needs.
//!
//! The methods, named so that a reader can check them elsewhere:
//! - a rate's interval is the **Wilson score interval** (statsmodels `proportion_confint(...,
//!   method="wilson")`), which stays inside [0, 1] and keeps its coverage at small counts;
//! - the lift of a rate is the difference in points (arm minus control); its interval is
//!   **Newcombe's hybrid score interval** (method 10 of Newcombe 1998, statsmodels
//!   `confint_proportions_2indep(..., method="newcomb")`), built from the two Wilson intervals;
//! - a rate's p-value is the **pooled two-proportion z-test** (statsmodels `proportions_ztest`);
//! - a value per profile (revenue) is compared with **Welch's t-test** (SciPy
//!   `ttest_ind_from_stats(..., equal_var=False)`), its interval from the same t distribution;
//! - when one experiment makes more than one comparison (several arms against the control, or
//!   several goals), the p-values are adjusted by **Holm's step-down method** (statsmodels
//!   `multipletests(..., method="holm")`), which controls the family-wise error rate as
//!   Bonferroni does but rejects at least as often.
//!
//! The distributions come from `statrs`. Known values from SciPy and statsmodels are checked in
//! `vm/tests/stats.rs`, with simulations of A/A tests and of the power to find a true lift.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// The confidence level of every interval here.
pub const CONFIDENCE: f64 = 0.95;

/// Below this many conversions in any arm, results carry a warning.
pub const MIN_CONVERSIONS: u64 = 30;

/// The standard normal quantile for a two-sided interval at `confidence`.
fn z_for(confidence: f64) -> f64 {
    let n = Normal::standard();
    n.inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
}

/// The standard normal distribution.
fn std_normal() -> Normal {
    Normal::standard()
}

/// A closed interval `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// The Wilson score interval of `successes` out of `trials` (`None` with no trials).
pub fn wilson(successes: u64, trials: u64, confidence: f64) -> Option<Interval> {
    if trials == 0 {
        return None;
    }
    let n = trials as f64;
    let p = successes.min(trials) as f64 / n;
    let z = z_for(confidence);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval { low: (centre - half).max(0.0), high: (centre + half).min(1.0) })
}

/// Newcombe's hybrid score interval of the difference `p1 - p2` of two proportions.
pub fn newcombe(s1: u64, n1: u64, s2: u64, n2: u64, confidence: f64) -> Option<Interval> {
    let w1 = wilson(s1, n1, confidence)?;
    let w2 = wilson(s2, n2, confidence)?;
    let p1 = s1.min(n1) as f64 / n1 as f64;
    let p2 = s2.min(n2) as f64 / n2 as f64;
    let d = p1 - p2;
    let low = d - ((p1 - w1.low).powi(2) + (w2.high - p2).powi(2)).sqrt();
    let high = d + ((w1.high - p1).powi(2) + (p2 - w2.low).powi(2)).sqrt();
    Some(Interval { low, high })
}

/// The two-sided p-value of the pooled two-proportion z-test of `s1/n1` against `s2/n2`
/// (`None` with an empty arm; 1 when neither or both arms convert every time, as nothing differs).
pub fn two_proportion_p(s1: u64, n1: u64, s2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let p1 = s1.min(n1) as f64 / n1f;
    let p2 = s2.min(n2) as f64 / n2f;
    let pooled = (s1.min(n1) + s2.min(n2)) as f64 / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    if se == 0.0 {
        return Some(1.0);
    }
    let z = (p1 - p2) / se;
    Some(2.0 * std_normal().sf(z.abs()))
}

/// A sample summarised by its size, sum and sum of squares (what a report keeps per arm, so
/// that it never holds the values themselves).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    /// How many values.
    pub n: u64,
    /// Their sum.
    pub sum: f64,
    /// The sum of their squares.
    pub sum_sq: f64,
}

impl Summary {
    /// A summary of the values.
    pub fn of(values: &[f64]) -> Summary {
        Summary { n: values.len() as u64, sum: values.iter().sum(), sum_sq: values.iter().map(|v| v * v).sum() }
    }

    /// A summary of `n` values of this mean and sample standard deviation (how published
    /// results give a sample).
    pub fn from_mean_sd(n: u64, mean: f64, sd: f64) -> Summary {
        let nf = n as f64;
        Summary { n, sum: mean * nf, sum_sq: (nf - 1.0) * sd * sd + nf * mean * mean }
    }

    /// The mean (`None` when empty).
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// The sample variance, with `n - 1` in the denominator (`None` under two values).
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        // Rounding can take a constant sample's variance a hair below zero.
        Some(((self.sum_sq - n * mean * mean) / (n - 1.0)).max(0.0))
    }
}

/// The result of Welch's t-test of `a`'s mean against `b`'s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Welch {
    /// The difference of the means, `a - b`.
    pub diff: f64,
    /// The t statistic.
    pub t: f64,
    /// The Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// The two-sided p-value.
    pub p: f64,
    /// The interval of the difference.
    pub interval: Interval,
}

/// Welch's t-test (unequal variances) of `a`'s mean against `b`'s; `None` when an arm has
/// fewer than two values or both have no spread.
pub fn welch(a: &Summary, b: &Summary, confidence: f64) -> Option<Welch> {
    let (va, vb) = (a.variance()?, b.variance()?);
    let (ma, mb) = (a.mean()?, b.mean()?);
    let (na, nb) = (a.n as f64, b.n as f64);
    let (qa, qb) = (va / na, vb / nb);
    let se2 = qa + qb;
    if se2 <= 0.0 {
        return None;
    }
    let se = se2.sqrt();
    let df = se2 * se2 / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let diff = ma - mb;
    let t = diff / se;
    let p = 2.0 * dist.sf(t.abs());
    let q = dist.inverse_cdf(1.0 - (1.0 - confidence) / 2.0);
    Some(Welch { diff, t, df, p, interval: Interval { low: diff - q * se, high: diff + q * se } })
}

/// Holm's step-down adjustment of p-values (same order as given; each at most 1).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut out = vec![0.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        let adjusted = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(adjusted);
        out[i] = running;
    }
    out
}

/// The power of the two-sided pooled two-proportion z-test at level `alpha` with `n` profiles
/// per arm and true rates `p1`, `p2` (the normal approximation; the simulation in
/// `vm/tests/stats.rs` checks it).
pub fn power_two_proportions(p1: f64, p2: f64, n: u64, alpha: f64) -> f64 {
    let n = n as f64;
    let z = z_for(1.0 - alpha);
    let pooled = (p1 + p2) / 2.0;
    let se0 = (2.0 * pooled * (1.0 - pooled) / n).sqrt();
    let se1 = ((p1 * (1.0 - p1) + p2 * (1.0 - p2)) / n).sqrt();
    let d = (p1 - p2).abs();
    let normal = std_normal();
    normal.cdf((d - z * se0) / se1) + normal.cdf((-d - z * se0) / se1)
}

/// One arm of an experiment, as a report counts it for one goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmInput {
    /// The arm's label.
    pub label: String,
    /// Profiles assigned to it.
    pub assigned: u64,
    /// Profiles that converted.
    pub converted: u64,
    /// Value per assigned profile (0 for those that did not convert), summarised; `None` when
    /// the goal has no `value`.
    pub value: Option<Summary>,
}

/// One arm's results for one goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmResult {
    /// The arm's label.
    pub label: String,
    /// Profiles assigned.
    pub assigned: u64,
    /// Profiles that converted.
    pub converted: u64,
    /// The conversion rate (`None` with nobody assigned).
    pub rate: Option<f64>,
    /// Its Wilson interval.
    pub rate_interval: Option<Interval>,
    /// Value per assigned profile.
    pub value_per_profile: Option<f64>,
    /// Against the control (`None` for the control itself).
    pub versus_control: Option<Comparison>,
    /// The comparison in words ([`verdict`]; `None` for the control).
    pub verdict: Option<String>,
}

/// One arm against the control, for one goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Rate difference in points of proportion (arm minus control: 0.021 is 2.1 points).
    pub lift: f64,
    /// Its Newcombe interval.
    pub lift_interval: Option<Interval>,
    /// The lift relative to the control's rate (`None` when the control's rate is 0).
    pub relative_lift: Option<f64>,
    /// The two-proportion z-test's two-sided p-value, unadjusted.
    pub p: Option<f64>,
    /// The same after Holm's adjustment across the experiment's comparisons.
    pub p_adjusted: Option<f64>,
    /// The value per profile against the control's, by Welch's t-test (goals with a `value`).
    pub value: Option<Welch>,
    /// The Welch p-value after Holm's adjustment.
    pub value_p_adjusted: Option<f64>,
}

/// An experiment's results: per goal, per arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The control arm's label.
    pub control: String,
    /// Per goal: its name and the arms' results.
    pub goals: Vec<GoalResult>,
    /// How many comparisons the p-values were adjusted for.
    pub comparisons: usize,
    /// Plain warnings for the reader.
    pub warnings: Vec<String>,
}

/// One goal's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalResult {
    /// The goal's name.
    pub goal: String,
    /// The arms, in the split's order.
    pub arms: Vec<ArmResult>,
}

/// The control of a list of arm labels: the arm labelled `"control"`, else the first.
pub fn control_index(labels: &[&str]) -> usize {
    labels.iter().position(|l| *l == "control").unwrap_or(0)
}

/// Analyses an experiment: `goals` gives, per goal, its name and each arm's counts (every goal
/// lists the same arms in the same order).
pub fn analyse(goals: &[(String, Vec<ArmInput>)]) -> Analysis {
    let labels: Vec<&str> =
        goals.first().map(|(_, a)| a.iter().map(|x| x.label.as_str()).collect()).unwrap_or_default();
    let c = control_index(&labels);
    let control = labels.get(c).map(|s| s.to_string()).unwrap_or_default();
    let mut out: Vec<GoalResult> = Vec::new();
    for (goal, arms) in goals {
        let base = &arms[c.min(arms.len().saturating_sub(1))];
        let results = arms
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let rate = (a.assigned > 0).then(|| a.converted.min(a.assigned) as f64 / a.assigned as f64);
                let versus_control = (i != c && !arms.is_empty()).then(|| {
                    let base_rate = (base.assigned > 0).then(|| base.converted as f64 / base.assigned as f64);
                    let lift = rate.unwrap_or(0.0) - base_rate.unwrap_or(0.0);
                    Comparison {
                        lift,
                        lift_interval: newcombe(a.converted, a.assigned, base.converted, base.assigned, CONFIDENCE),
                        relative_lift: base_rate.filter(|r| *r > 0.0).map(|r| lift / r),
                        p: two_proportion_p(a.converted, a.assigned, base.converted, base.assigned),
                        p_adjusted: None,
                        value: match (&a.value, &base.value) {
                            (Some(x), Some(y)) => welch(x, y, CONFIDENCE),
                            _ => None,
                        },
                        value_p_adjusted: None,
                    }
                });
                ArmResult {
                    label: a.label.clone(),
                    assigned: a.assigned,
                    converted: a.converted,
                    rate,
                    rate_interval: wilson(a.converted, a.assigned, CONFIDENCE),
                    value_per_profile: a.value.and_then(|v| (a.assigned > 0).then(|| v.sum / a.assigned as f64)),
                    versus_control,
                    verdict: None,
                }
            })
            .collect();
        out.push(GoalResult { goal: goal.clone(), arms: results });
    }
    // Every p-value of the experiment is one family: rates and values, every goal, every arm.
    let mut family: Vec<f64> = Vec::new();
    for g in &out {
        for a in &g.arms {
            if let Some(v) = &a.versus_control {
                family.extend(v.p);
                family.extend(v.value.map(|w| w.p));
            }
        }
    }
    let adjusted = holm(&family);
    let mut next = adjusted.into_iter();
    for g in &mut out {
        for a in &mut g.arms {
            if let Some(v) = &mut a.versus_control {
                if v.p.is_some() {
                    v.p_adjusted = next.next();
                }
                if v.value.is_some() {
                    v.value_p_adjusted = next.next();
                }
            }
        }
    }
    for g in &mut out {
        for a in &mut g.arms {
            a.verdict = verdict(a, &control);
        }
    }
    let mut warnings = Vec::new();
    let few: Vec<String> = out
        .iter()
        .flat_map(|g| {
            g.arms.iter().filter(|a| a.converted < MIN_CONVERSIONS).map(move |a| {
                if goals.len() > 1 {
                    format!("\"{}\" ({})", a.label, g.goal)
                } else {
                    format!("\"{}\"", a.label)
                }
            })
        })
        .collect();
    if !few.is_empty() {
        warnings.push(format!(
            "fewer than {MIN_CONVERSIONS} conversions in {}: too few to trust the intervals and p-values yet",
            few.join(", ")
        ));
    }
    let comparisons = family.len();
    if comparisons > 1 {
        warnings.push(format!(
            "{comparisons} comparisons: p-values are adjusted with Holm's method (read p_adjusted); \
             intervals are not adjusted"
        ));
    }
    Analysis { control, goals: out, comparisons, warnings }
}

/// A p-value as people read it: `p < 0.001`, else `p = 0.012` (three decimals).
pub fn format_p(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".into()
    } else {
        format!("p = {p:.3}")
    }
}

/// The verdict in words for one arm against the control, e.g. `B converts 2.1 points better
/// than control (95% CI 1.2 to 3.0, p < 0.001)`; it adds "not significant" when the
/// (adjusted) p-value is 0.05 or more.
pub fn verdict(arm: &ArmResult, control: &str) -> Option<String> {
    let v = arm.versus_control.as_ref()?;
    let p = v.p_adjusted.or(v.p)?;
    let points = v.lift * 100.0;
    let direction = if points >= 0.0 { "better" } else { "worse" };
    let ci =
        v.lift_interval.map(|i| format!("95% CI {:.1} to {:.1}, ", i.low * 100.0, i.high * 100.0)).unwrap_or_default();
    let hedge = if p < 0.05 { "" } else { ", not significant" };
    Some(format!(
        "{} converts {:.1} points {direction} than {control}{hedge} ({ci}{})",
        arm.label,
        points.abs(),
        format_p(p)
    ))
}
