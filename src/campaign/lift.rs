//! What a campaign caused: treatment against holdout over a measurement window, per campaign
//! and per home store, with 95% confidence intervals.
//!
//! For each arm, every assigned member counts (intent to treat: a treatment member who never
//! opened the offer still counts), whether or not they visited. Per member `i` of an arm of
//! `n` members: `x_i` visits (or spend) in the window. The difference of means `m_T − m_H`
//! has the Welch standard error `sqrt(s²_T/n_T + s²_H/n_H)` (sample variances); its 95%
//! interval is ±1.96 standard errors. The relative visit lift `m_T/m_H − 1` has its interval
//! from the delta method on the log ratio: `ln(m_T/m_H) ± 1.96·sqrt(s²_T/(n_T m²_T) +
//! s²_H/(n_H m²_H))`. Incremental spend is the spend difference times the treatment's
//! members; the campaign's return is that minus the discount its vouchers gave in the window.
//! Below [`MIN_ARM_MEMBERS`] members in either arm the report gives no estimate and says so.

use super::error::CampaignError;
use super::plan::{Arm, Assignment};
use super::tally::{MemberTally, tally};
use crate::ids::{CampaignId, MemberId, StoreId};
use crate::ledger::VisitEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write;

/// The fewest members an arm needs before the report estimates anything.
pub const MIN_ARM_MEMBERS: u64 = 100;

/// The two-sided 95% normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// The measurement window: visits with `from <= at < until` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LiftWindow {
    /// Start (included).
    pub from: DateTime<Utc>,
    /// End (excluded).
    pub until: DateTime<Utc>,
}

/// One arm's figures in the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ArmFigures {
    /// Members assigned.
    pub members: u64,
    /// Members with at least one visit.
    pub visiting_members: u64,
    /// Visits.
    pub visits: u64,
    /// Spend, minor units.
    pub spend_minor: u64,
    /// Visits per member.
    pub visits_per_member: f64,
    /// Spend per member, minor units.
    pub spend_per_member: f64,
    /// Sample variance of visits per member.
    pub visits_variance: f64,
    /// Sample variance of spend per member.
    pub spend_variance: f64,
}

/// A point estimate with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate.
    pub estimate: f64,
    /// Lower bound of the 95% interval.
    pub low: f64,
    /// Upper bound of the 95% interval.
    pub high: f64,
}

impl Estimate {
    fn around(estimate: f64, standard_error: f64) -> Self {
        Estimate {
            estimate,
            low: estimate - Z95 * standard_error,
            high: estimate + Z95 * standard_error,
        }
    }

    fn scaled(self, by: f64, minus: f64) -> Self {
        Estimate {
            estimate: self.estimate * by - minus,
            low: self.low * by - minus,
            high: self.high * by - minus,
        }
    }

    /// Whether the interval holds `value`.
    pub fn covers(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// Whether the report could measure anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// Both arms are large enough; the estimates are given.
    Measured,
    /// An arm is below [`MIN_ARM_MEMBERS`]: no estimate.
    TooSmall {
        /// Treatment members.
        treatment_members: u64,
        /// Holdout members.
        holdout_members: u64,
        /// The fewest an arm needs.
        needed: u64,
    },
}

/// One row of the report: a campaign, over all stores or for one home store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiftRow {
    /// The campaign.
    pub campaign: CampaignId,
    /// The members' home store; `None` for the campaign over all stores.
    pub store: Option<StoreId>,
    /// The treatment arm.
    pub treatment: ArmFigures,
    /// The holdout arm.
    pub holdout: ArmFigures,
    /// The share of members who visited, treatment minus holdout (0.03 = 3 points; Wald
    /// interval).
    pub visiting_difference: Option<Estimate>,
    /// Visits per member, treatment minus holdout.
    pub visits_difference: Option<Estimate>,
    /// Spend per member, treatment minus holdout, minor units.
    pub spend_difference: Option<Estimate>,
    /// Relative lift in visits per member (0.05 = 5% more visits than the holdout).
    pub visit_lift: Option<Estimate>,
    /// Vouchers issued (treatment members).
    pub issued: u64,
    /// Vouchers redeemed at least once in the window.
    pub redeemed: u64,
    /// redeemed / issued (0 when none was issued).
    pub redemption_rate: f64,
    /// Discount the campaign's vouchers gave in the window, minor units.
    pub discount_minor: u64,
    /// Spend the campaign caused: the spend difference times the treatment's members.
    pub incremental_spend_minor: Option<Estimate>,
    /// Incremental spend minus the discount: what the campaign returned.
    pub return_minor: Option<Estimate>,
    /// Whether it could be measured.
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl LiftRow {
    /// One line a manager can read: the lift and the return, or why there is none.
    pub fn statement(&self) -> String {
        match (self.verdict, self.visit_lift, self.return_minor) {
            (
                Verdict::TooSmall {
                    treatment_members: treatment,
                    holdout_members: holdout,
                    needed,
                },
                _,
                _,
            ) => format!(
                "too small to say anything: {treatment} treatment and {holdout} holdout members \
                 (each arm needs at least {needed})"
            ),
            (Verdict::Measured, Some(lift), Some(ret)) => {
                let sure = if lift.low > 0.0 {
                    "more visits than the holdout, beyond chance"
                } else if lift.high < 0.0 {
                    "fewer visits than the holdout, beyond chance"
                } else {
                    "no difference from the holdout beyond chance"
                };
                format!(
                    "visits per member {:+.1}% (95% CI {:+.1}% to {:+.1}%): {sure}; return {:.0} \
                     (95% CI {:.0} to {:.0}) minor units",
                    lift.estimate * 100.0,
                    lift.low * 100.0,
                    lift.high * 100.0,
                    ret.estimate,
                    ret.low,
                    ret.high
                )
            }
            (Verdict::Measured, _, ret) => format!(
                "no visits in the holdout or the treatment: no relative lift; return {:.0} minor \
                 units",
                ret.map_or(0.0, |r| r.estimate)
            ),
        }
    }
}

/// The lift report: per campaign a row over all stores, then one per home store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiftReport {
    /// The measurement window.
    pub window: LiftWindow,
    /// The rows, by campaign, the all-stores row first.
    pub rows: Vec<LiftRow>,
}

impl LiftReport {
    /// The row of `campaign` over all stores.
    pub fn overall(&self, campaign: CampaignId) -> Option<&LiftRow> {
        self.rows
            .iter()
            .find(|r| r.campaign == campaign && r.store.is_none())
    }

    /// A plain-text table.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>8} {:>6} {:>9} {:>9} {:>8} {:>8} {:>22} {:>10} {:>10} {:>12}",
            "campaign",
            "store",
            "members",
            "holdout",
            "v/m T",
            "v/m H",
            "visit lift (95% CI)",
            "redeemed",
            "discount",
            "return"
        );
        for r in &self.rows {
            let store = r.store.map_or("all".to_owned(), |s| s.0.to_string());
            let lift = r.visit_lift.map_or("-".to_owned(), |l| {
                format!(
                    "{:+.1}% [{:+.1}, {:+.1}]",
                    l.estimate * 100.0,
                    l.low * 100.0,
                    l.high * 100.0
                )
            });
            let ret = r
                .return_minor
                .map_or("-".to_owned(), |e| format!("{:.0}", e.estimate));
            let _ = writeln!(
                out,
                "{:>8} {:>6} {:>9} {:>9} {:>8.3} {:>8.3} {:>22} {:>9.1}% {:>10} {:>12}",
                r.campaign.0,
                store,
                r.treatment.members,
                r.holdout.members,
                r.treatment.visits_per_member,
                r.holdout.visits_per_member,
                lift,
                r.redemption_rate * 100.0,
                r.discount_minor,
                ret
            );
        }
        out
    }
}

/// Sums of one arm of one row, kept exact.
#[derive(Clone, Copy, Default)]
struct ArmSums {
    members: u64,
    visiting: u64,
    visits: u64,
    visits_sq: u128,
    spend: u64,
    spend_sq: u128,
    issued: u64,
    redeemed: u64,
    discount: u64,
}

const SUMS: CampaignError = CampaignError::Overflow("an arm's visits, spend or discount");

impl ArmSums {
    fn add(&mut self, a: &Assignment, t: &MemberTally) -> Result<(), CampaignError> {
        let square = |x: u64| u128::from(x) * u128::from(x);
        self.members += 1;
        self.visiting += u64::from(t.visits > 0);
        self.visits = self.visits.checked_add(t.visits).ok_or(SUMS)?;
        self.visits_sq = self.visits_sq.checked_add(square(t.visits)).ok_or(SUMS)?;
        self.spend = self.spend.checked_add(t.spend).ok_or(SUMS)?;
        self.spend_sq = self.spend_sq.checked_add(square(t.spend)).ok_or(SUMS)?;
        self.issued += u64::from(a.voucher.is_some());
        self.redeemed += u64::from(t.redeemed);
        self.discount = self.discount.checked_add(t.discount).ok_or(SUMS)?;
        Ok(())
    }

    fn figures(&self) -> Result<ArmFigures, CampaignError> {
        let n = self.members;
        let mean = |sum: u64| if n == 0 { 0.0 } else { sum as f64 / n as f64 };
        // (n Σx² − (Σx)²) / (n (n − 1)), exact up to the last division.
        let variance = |sum: u64, sq: u128| {
            if n < 2 {
                return Some(0.0);
            }
            let num = u128::from(n).checked_mul(sq)? - u128::from(sum) * u128::from(sum);
            Some(num as f64 / (n as f64 * (n - 1) as f64))
        };
        Ok(ArmFigures {
            members: n,
            visiting_members: self.visiting,
            visits: self.visits,
            spend_minor: self.spend,
            visits_per_member: mean(self.visits),
            spend_per_member: mean(self.spend),
            visits_variance: variance(self.visits, self.visits_sq).ok_or(SUMS)?,
            spend_variance: variance(self.spend, self.spend_sq).ok_or(SUMS)?,
        })
    }
}

/// The lift report of every campaign in `assignments`, from the ledger's `visits` (a
/// treatment member's voucher counts as redeemed when a visit of theirs in the window used
/// it).
///
/// # Errors
/// [`CampaignError::Overflow`] when visits, spend or discount pass what their sums hold
/// (only hostile or corrupt figures do).
pub fn lift_report(
    assignments: &[Assignment],
    visits: &[VisitEvent],
    window: LiftWindow,
) -> Result<LiftReport, CampaignError> {
    let tallies = tally(assignments, visits, window.from, window.until)?;
    let mut groups: HashMap<(CampaignId, Option<StoreId>), [ArmSums; 2]> = HashMap::new();
    for (a, t) in assignments.iter().zip(&tallies) {
        let arm = usize::from(a.arm == Arm::Holdout);
        for store in [None, Some(a.home_store)] {
            groups.entry((a.campaign, store)).or_default()[arm].add(a, t)?;
        }
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_unstable_by_key(|&(key, _)| key);
    let rows = groups
        .into_iter()
        .map(|((campaign, store), [t, h])| row(campaign, store, &t, &h))
        .collect::<Result<_, _>>()?;
    Ok(LiftReport { window, rows })
}

fn row(
    campaign: CampaignId,
    store: Option<StoreId>,
    t: &ArmSums,
    h: &ArmSums,
) -> Result<LiftRow, CampaignError> {
    let (tf, hf) = (t.figures()?, h.figures()?);
    let discount = t.discount.checked_add(h.discount).ok_or(SUMS)?;
    let issued = t.issued + h.issued;
    let redeemed = t.redeemed + h.redeemed;
    let mut row = LiftRow {
        campaign,
        store,
        treatment: tf,
        holdout: hf,
        visiting_difference: None,
        visits_difference: None,
        spend_difference: None,
        visit_lift: None,
        issued,
        redeemed,
        redemption_rate: if issued == 0 {
            0.0
        } else {
            redeemed as f64 / issued as f64
        },
        discount_minor: discount,
        incremental_spend_minor: None,
        return_minor: None,
        verdict: Verdict::Measured,
    };
    if tf.members < MIN_ARM_MEMBERS || hf.members < MIN_ARM_MEMBERS {
        row.verdict = Verdict::TooSmall {
            treatment_members: tf.members,
            holdout_members: hf.members,
            needed: MIN_ARM_MEMBERS,
        };
        return Ok(row);
    }
    let (nt, nh) = (tf.members as f64, hf.members as f64);
    let difference =
        |mt: f64, vt: f64, mh: f64, vh: f64| Estimate::around(mt - mh, (vt / nt + vh / nh).sqrt());
    let visits = difference(
        tf.visits_per_member,
        tf.visits_variance,
        hf.visits_per_member,
        hf.visits_variance,
    );
    let spend = difference(
        tf.spend_per_member,
        tf.spend_variance,
        hf.spend_per_member,
        hf.spend_variance,
    );
    let (mt, mh) = (tf.visits_per_member, hf.visits_per_member);
    if mt > 0.0 && mh > 0.0 {
        let ratio = mt / mh;
        let se = (tf.visits_variance / (nt * mt * mt) + hf.visits_variance / (nh * mh * mh)).sqrt();
        row.visit_lift = Some(Estimate {
            estimate: ratio - 1.0,
            low: ratio * (-Z95 * se).exp() - 1.0,
            high: ratio * (Z95 * se).exp() - 1.0,
        });
    }
    let share = |f: &ArmFigures| f.visiting_members as f64 / f.members as f64;
    let (pt, ph) = (share(&tf), share(&hf));
    row.visiting_difference = Some(Estimate::around(
        pt - ph,
        (pt * (1.0 - pt) / nt + ph * (1.0 - ph) / nh).sqrt(),
    ));
    let incremental = spend.scaled(nt, 0.0);
    row.visits_difference = Some(visits);
    row.spend_difference = Some(spend);
    row.incremental_spend_minor = Some(incremental);
    row.return_minor = Some(incremental.scaled(1.0, discount as f64));
    Ok(row)
}

/// Cumulative visits per member, day by day over the window, treatment against holdout, for
/// one campaign over all stores: a standalone SVG document.
pub fn lift_chart(
    assignments: &[Assignment],
    visits: &[VisitEvent],
    window: LiftWindow,
    campaign: CampaignId,
) -> String {
    let days = ((window.until - window.from).num_seconds().max(1) as u64).div_ceil(86_400) as usize;
    let mut arm_of: HashMap<MemberId, usize> = HashMap::new();
    let mut members = [0u64; 2];
    for a in assignments.iter().filter(|a| a.campaign == campaign) {
        let arm = usize::from(a.arm == Arm::Holdout);
        arm_of.insert(a.member, arm);
        members[arm] += 1;
    }
    let mut daily = vec![[0u64; 2]; days];
    for v in visits {
        if v.at < window.from || v.at >= window.until {
            continue;
        }
        if let Some(&arm) = v.member.and_then(|m| arm_of.get(&m)) {
            let day = ((v.at - window.from).num_seconds() / 86_400) as usize;
            daily[day.min(days - 1)][arm] += 1;
        }
    }
    let mut curves = [Vec::with_capacity(days + 1), Vec::with_capacity(days + 1)];
    for (arm, curve) in curves.iter_mut().enumerate() {
        let mut sum = 0u64;
        curve.push(0.0);
        for d in &daily {
            sum += d[arm];
            curve.push(if members[arm] == 0 {
                0.0
            } else {
                sum as f64 / members[arm] as f64
            });
        }
    }
    let top = curves
        .iter()
        .flatten()
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-9);
    let (w, h, left, right, upper, lower) = (720.0, 380.0, 70.0, 20.0, 60.0, 50.0);
    let x = |d: usize| left + (w - left - right) * d as f64 / days as f64;
    let y = |v: f64| h - lower - (h - upper - lower) * v / top;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{left}" y="22" font-size="15" font-weight="bold">Campaign {} — cumulative visits per member</text>
<text x="{left}" y="42" fill="#555">treatment ({} members) against holdout ({} members), {} days from {}</text>
<line x1="{left}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#999"/>
<line x1="{left}" y1="{upper}" x2="{left}" y2="{y0}" stroke="#999"/>
<text x="{lx}" y="{ty}" text-anchor="end" fill="#555">{top:.2}</text>
<text x="{lx}" y="{y0}" text-anchor="end" fill="#555">0</text>
<text x="{x1}" y="{dy}" text-anchor="end" fill="#555">day {days}</text>
"##,
        campaign.0,
        members[0],
        members[1],
        days,
        window.from.format("%Y-%m-%d"),
        y0 = y(0.0),
        x1 = x(days),
        lx = left - 6.0,
        ty = y(top) + 4.0,
        dy = y(0.0) + 16.0,
    );
    for (arm, (colour, name)) in [("#1f77b4", "treatment"), ("#aaaaaa", "holdout")]
        .into_iter()
        .enumerate()
    {
        let points: Vec<String> = curves[arm]
            .iter()
            .enumerate()
            .map(|(d, &v)| format!("{:.1},{:.1}", x(d), y(v)))
            .collect();
        let _ = writeln!(
            svg,
            r##"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>
<text x="{}" y="{}" fill="{colour}">{name} {:.3}</text>"##,
            points.join(" "),
            x(days) - 110.0,
            y(curves[arm][days]) - 6.0,
            curves[arm][days]
        );
    }
    svg.push_str("</svg>\n");
    svg
}
