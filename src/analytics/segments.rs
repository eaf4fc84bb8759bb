//! Whom to talk to next: RFM segments, lapsed regulars, members due for their next visit.

use super::log::{ANONYMOUS, VisitLog};
use chrono::{DateTime, Utc};
use serde::Serialize;

const DAY: f64 = 86_400.0;

/// One member's visits, summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberSummary {
    /// The member's external id.
    pub member: String,
    /// Visits.
    pub visits: u64,
    /// First visit, Unix seconds.
    pub first_visit: i64,
    /// Last visit, Unix seconds.
    pub last_visit: i64,
    /// Total spend, minor units.
    pub spend_minor: i64,
}

/// Every member's summary, in member-index order.
pub fn member_summaries(log: &VisitLog) -> Vec<MemberSummary> {
    let mut sums: Vec<(u64, i64, i64, i64)> = vec![(0, i64::MAX, i64::MIN, 0); log.member_count()];
    for ((&m, &at), &spend) in log.member().iter().zip(log.at()).zip(log.spend()) {
        if m == ANONYMOUS {
            continue;
        }
        let s = &mut sums[m as usize];
        s.0 += 1;
        s.1 = s.1.min(at);
        s.2 = s.2.max(at);
        s.3 += spend;
    }
    sums.into_iter()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .map(|(i, (visits, first, last, spend))| MemberSummary {
            member: log.member_id(i as u32).to_owned(),
            visits,
            first_visit: first,
            last_visit: last,
            spend_minor: spend,
        })
        .collect()
}

/// A named RFM segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Segment {
    /// Came recently and often: R ≥ 4 and F ≥ 4.
    Champions,
    /// One visit, recently: visits = 1 and R ≥ 4.
    New,
    /// Come often, fairly recently: F ≥ 4 and R = 3.
    Loyal,
    /// Used to come often, not lately: R ≤ 2 and F ≥ 3.
    AtRisk,
    /// Not lately, not often: R ≤ 2 and F ≤ 2.
    Lapsed,
    /// Everyone else.
    Regular,
}

impl Segment {
    /// The segment's name as JSON and the exported tables write it (`at_risk`).
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::New => "new",
            Segment::Loyal => "loyal",
            Segment::AtRisk => "at_risk",
            Segment::Lapsed => "lapsed",
            Segment::Regular => "regular",
        }
    }

    /// The segment of quintile scores (1–5) `r`, `f` and a member's visit count.
    pub fn of(r: u8, f: u8, visits: u64) -> Segment {
        match (r, f) {
            (4.., 4..) => Segment::Champions,
            (4.., _) if visits == 1 => Segment::New,
            (3, 4..) => Segment::Loyal,
            (..=2, 3..) => Segment::AtRisk,
            (..=2, _) => Segment::Lapsed,
            _ => Segment::Regular,
        }
    }
}

/// A member's RFM scores: quintiles 1 (worst) to 5 (best) among all members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RfmScore {
    /// The member's visits, summed.
    pub summary: MemberSummary,
    /// Days since the last visit.
    pub recency_days: f64,
    /// Recency score (recent = 5).
    pub r: u8,
    /// Frequency score (often = 5).
    pub f: u8,
    /// Monetary score (spends most = 5).
    pub m: u8,
    /// The named segment.
    pub segment: Segment,
}

/// Quintile scores (1..=5) of `values`, higher value → higher score; ties share a score.
fn quintiles(values: &[i64]) -> Vec<u8> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len().max(1);
    values
        .iter()
        .map(|v| {
            let below = sorted.partition_point(|x| x < v);
            (1 + below * 5 / n) as u8
        })
        .collect()
}

/// RFM scores of every member as of `as_of`.
pub fn rfm(log: &VisitLog, as_of: DateTime<Utc>) -> Vec<RfmScore> {
    let summaries = member_summaries(log);
    let now = as_of.timestamp();
    let recency: Vec<i64> = summaries.iter().map(|s| s.last_visit).collect();
    let frequency: Vec<i64> = summaries.iter().map(|s| s.visits as i64).collect();
    let monetary: Vec<i64> = summaries.iter().map(|s| s.spend_minor).collect();
    let (r, f, m) = (
        quintiles(&recency),
        quintiles(&frequency),
        quintiles(&monetary),
    );
    summaries
        .into_iter()
        .enumerate()
        .map(|(i, summary)| RfmScore {
            recency_days: (now - summary.last_visit) as f64 / DAY,
            segment: Segment::of(r[i], f[i], summary.visits),
            r: r[i],
            f: f[i],
            m: m[i],
            summary,
        })
        .collect()
}

/// Members who came at least `min_visits` times but not in the last `days_away` days before
/// `as_of`: candidates for a come-back voucher. Most recently lapsed first.
pub fn lapsed_regulars(
    log: &VisitLog,
    min_visits: u64,
    days_away: u32,
    as_of: DateTime<Utc>,
) -> Vec<MemberSummary> {
    let cutoff = as_of.timestamp() - i64::from(days_away) * 86_400;
    let mut lapsed: Vec<MemberSummary> = member_summaries(log)
        .into_iter()
        .filter(|s| s.visits >= min_visits && s.last_visit < cutoff)
        .collect();
    lapsed.sort_by_key(|s| std::cmp::Reverse(s.last_visit));
    lapsed
}

/// A member whose own rhythm says they are due.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueMember {
    /// The member's visits, summed.
    pub summary: MemberSummary,
    /// Their average days between visits.
    pub rhythm_days: f64,
    /// Days since their last visit.
    pub days_since_last: f64,
}

/// Members with at least 3 visits whose time since the last visit is between `late` and 4
/// times their average interval (beyond that they are lapsed, not due): a member who comes
/// every ~14 days and is at day 20 is due with `late = 1.3`. Most overdue first.
pub fn due_again(log: &VisitLog, as_of: DateTime<Utc>, late: f64) -> Vec<DueMember> {
    let now = as_of.timestamp();
    let mut due: Vec<DueMember> = member_summaries(log)
        .into_iter()
        .filter_map(|summary| {
            let (rhythm, since) = due_rhythm(&summary, now, late)?;
            Some(DueMember {
                rhythm_days: rhythm / DAY,
                days_since_last: since / DAY,
                summary,
            })
        })
        .collect();
    due.sort_by(|a, b| {
        let ratio = |d: &DueMember| d.days_since_last / d.rhythm_days;
        ratio(b).total_cmp(&ratio(a))
    });
    due
}

/// A member's average seconds between visits and seconds since the last one, when they are
/// due at `now` by [`due_again`]'s rule.
pub(crate) fn due_rhythm(summary: &MemberSummary, now: i64, late: f64) -> Option<(f64, f64)> {
    if summary.visits < 3 || summary.last_visit <= summary.first_visit {
        return None;
    }
    let rhythm = (summary.last_visit - summary.first_visit) as f64 / (summary.visits - 1) as f64;
    let since = (now - summary.last_visit) as f64;
    (since >= rhythm * late && since <= rhythm * 4.0).then_some((rhythm, since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_share_ties() {
        assert_eq!(quintiles(&[10, 20, 30, 40, 50]), [1, 2, 3, 4, 5]);
        assert_eq!(quintiles(&[7, 7, 7, 7]), [1, 1, 1, 1]);
        assert_eq!(quintiles(&[1, 2, 2, 3]), [1, 2, 2, 4]);
    }

    #[test]
    fn segments() {
        assert_eq!(Segment::of(5, 5, 30), Segment::Champions);
        assert_eq!(Segment::of(5, 1, 1), Segment::New);
        assert_eq!(Segment::of(3, 4, 9), Segment::Loyal);
        assert_eq!(Segment::of(1, 5, 20), Segment::AtRisk);
        assert_eq!(Segment::of(2, 1, 1), Segment::Lapsed);
        assert_eq!(Segment::of(3, 2, 3), Segment::Regular);
    }
}
