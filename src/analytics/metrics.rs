//! Period metrics and the cohort matrix, exactly as DESIGN.md defines them.
//!
//! A member is *active* in period P with at least one visit in P.
//! - new(P): active in P, no visit before P;
//! - retained(P): active in P and in P−1;
//! - returning(P): active in P, not in P−1, active some time before P−1;
//! - churned(P): active in P−1, not in P;
//! - active(P) = new(P) + retained(P) + returning(P) always holds.
//!
//! visits(P) and spend(P) count every visit, anonymous ones included; member figures count
//! members only. average ticket(P) = spend(P) / visits with a spend in P, rounded down.
//!
//! # How it is computed
//! One pass over the time-sorted log gives each visit its period (the log is sorted, so this
//! is a moving pointer, not a search), adds it to the period's flow and sets the member's bit
//! for that period in a bitset. A second pass over the members' bitsets derives new, retained,
//! returning, churned and the cohort cells from bit patterns. Both passes split across the
//! machine's cores.

use super::log::{ANONYMOUS, VisitLog};
use super::period::{Granularity, Periods};
use serde::Serialize;

/// One period's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeriodRow {
    /// The period's label (`2025-01`, `2025-W05`, `2025-01-31`).
    pub period: String,
    /// Members with a visit in the period.
    pub active: u64,
    /// Active members with no earlier visit.
    pub new: u64,
    /// Active members who were active in the previous period.
    pub retained: u64,
    /// Active members back after at least one period away.
    pub returning: u64,
    /// Members active in the previous period and not in this one.
    pub churned: u64,
    /// Visits (customer flow), anonymous included.
    pub visits: u64,
    /// Total spend, minor units.
    pub spend_minor: i64,
    /// Visits with a spend above zero.
    pub visits_with_spend: u64,
    /// spend / visits with a spend, rounded down; `None` without such visits.
    pub avg_ticket_minor: Option<i64>,
}

/// One cohort: the members whose first visit fell in `cohort`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohortRow {
    /// The period of first visit.
    pub cohort: String,
    /// Members in the cohort.
    pub size: u64,
    /// `active[k]`: members of the cohort active in period cohort + k (`active[0] == size`).
    pub active: Vec<u64>,
}

/// Period metrics and cohorts of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitReport {
    /// The granularity of every row.
    pub granularity: Granularity,
    /// One row per period from the first visit's to the last visit's, empty periods included.
    pub periods: Vec<PeriodRow>,
    /// One row per period, in order (a period with no new member has a cohort of size 0).
    pub cohorts: Vec<CohortRow>,
}

/// Per-period flow accumulated from visits.
#[derive(Clone, Default)]
struct Flow {
    visits: Vec<u64>,
    spend: Vec<i64>,
    paid: Vec<u64>,
}

impl Flow {
    fn new(periods: usize) -> Self {
        Flow {
            visits: vec![0; periods],
            spend: vec![0; periods],
            paid: vec![0; periods],
        }
    }

    fn add(&mut self, other: &Flow) {
        for p in 0..self.visits.len() {
            self.visits[p] += other.visits[p];
            self.spend[p] += other.spend[p];
            self.paid[p] += other.paid[p];
        }
    }
}

/// Per-period member counts and cohort cells accumulated from bitsets.
#[derive(Clone)]
struct Counts {
    active: Vec<u64>,
    new: Vec<u64>,
    retained: Vec<u64>,
    returning: Vec<u64>,
    churned: Vec<u64>,
    /// cohort c, offset k at `c * periods + k`.
    cohort: Vec<u64>,
}

impl Counts {
    fn new(periods: usize) -> Self {
        Counts {
            active: vec![0; periods],
            new: vec![0; periods],
            retained: vec![0; periods],
            returning: vec![0; periods],
            churned: vec![0; periods],
            cohort: vec![0; periods * periods],
        }
    }

    fn add(&mut self, other: &Counts) {
        let pairs = [
            (&mut self.active, &other.active),
            (&mut self.new, &other.new),
            (&mut self.retained, &other.retained),
            (&mut self.returning, &other.returning),
            (&mut self.churned, &other.churned),
            (&mut self.cohort, &other.cohort),
        ];
        for (mine, theirs) in pairs {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// Splits `0..len` into `parts` contiguous ranges.
fn chunks(len: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let size = len.div_ceil(parts.max(1)).max(1);
    (0..len)
        .step_by(size)
        .map(|s| s..(s + size).min(len))
        .collect()
}

/// First pass: flow per period and each member's activity bitset (`words` u64 per member).
fn scan(
    log: &VisitLog,
    periods: &Periods,
    range: std::ops::Range<usize>,
    words: usize,
) -> (Flow, Vec<u64>) {
    let mut flow = Flow::new(periods.len());
    let mut bits = vec![0u64; log.member_count() * words];
    let (at, member, spend) = (log.at(), log.member(), log.spend());
    let Some(mut p) = range.clone().next().and_then(|i| periods.index_of(at[i])) else {
        return (flow, bits);
    };
    let mut end = periods.bounds(p).1;
    for i in range {
        while at[i] >= end {
            p += 1;
            end = periods.bounds(p).1;
        }
        flow.visits[p] += 1;
        flow.spend[p] += spend[i];
        flow.paid[p] += u64::from(spend[i] > 0);
        let m = member[i];
        if m != ANONYMOUS {
            bits[m as usize * words + p / 64] |= 1 << (p % 64);
        }
    }
    (flow, bits)
}

/// Second pass: derive member counts and cohort cells from the bitsets of `members`.
fn classify(bits: &[u64], words: usize, periods: usize, members: std::ops::Range<usize>) -> Counts {
    let mut counts = Counts::new(periods);
    for m in members {
        let set = &bits[m * words..(m + 1) * words];
        let mut first = None;
        let mut previous: Option<usize> = None;
        for (w, &word) in set.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                let p = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                counts.active[p] += 1;
                let cohort = *first.get_or_insert(p);
                counts.cohort[cohort * periods + (p - cohort)] += 1;
                match previous {
                    None => counts.new[p] += 1,
                    Some(q) if q + 1 == p => counts.retained[p] += 1,
                    Some(q) => {
                        counts.returning[p] += 1;
                        counts.churned[q + 1] += 1;
                    }
                }
                previous = Some(p);
            }
        }
        if let Some(q) = previous
            && q + 1 < periods
        {
            counts.churned[q + 1] += 1;
        }
    }
    counts
}

/// Period metrics and cohorts of `log` at `granularity`, on the log's time zone.
pub fn analyze(log: &VisitLog, granularity: Granularity) -> VisitReport {
    let (Some(&first), Some(&last)) = (log.at().first(), log.at().last()) else {
        return VisitReport {
            granularity,
            periods: Vec::new(),
            cohorts: Vec::new(),
        };
    };
    let periods = Periods::covering(granularity, log.zone(), first, last);
    let n = periods.len();
    let words = n.div_ceil(64);
    let parts = threads();

    let scanned: Vec<(Flow, Vec<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks(log.len(), parts)
            .into_iter()
            .map(|range| {
                let periods = &periods;
                s.spawn(move || scan(log, periods, range, words))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scan thread"))
            .collect()
    });
    let mut scanned = scanned.into_iter();
    let (mut flow, mut bits) = scanned.next().unwrap_or_else(|| (Flow::new(n), Vec::new()));
    for (f, b) in scanned {
        flow.add(&f);
        for (mine, theirs) in bits.iter_mut().zip(&b) {
            *mine |= theirs;
        }
    }

    let mut counts = Counts::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks(log.member_count(), parts)
            .into_iter()
            .map(|members| {
                let bits = &bits;
                s.spawn(move || classify(bits, words, n, members))
            })
            .collect();
        for h in handles {
            counts.add(&h.join().expect("classify thread"));
        }
    });

    let rows = (0..n)
        .map(|p| PeriodRow {
            period: periods.label(p).to_owned(),
            active: counts.active[p],
            new: counts.new[p],
            retained: counts.retained[p],
            returning: counts.returning[p],
            churned: counts.churned[p],
            visits: flow.visits[p],
            spend_minor: flow.spend[p],
            visits_with_spend: flow.paid[p],
            avg_ticket_minor: (flow.paid[p] > 0)
                .then(|| flow.spend[p].div_euclid(flow.paid[p] as i64)),
        })
        .collect();
    let cohorts = (0..n)
        .map(|c| CohortRow {
            cohort: periods.label(c).to_owned(),
            size: counts.new[c],
            active: counts.cohort[c * n..c * n + (n - c)].to_vec(),
        })
        .collect();
    VisitReport {
        granularity,
        periods: rows,
        cohorts,
    }
}
