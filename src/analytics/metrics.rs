//! Period metrics and the cohort matrix, exactly as `docs/metrics.md` defines them.
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
//! is a moving pointer, not a search), adds it to the period's flow and records the member as
//! active in that period: in a bitset per member while the log spans few periods, else in a
//! per-member list no longer than the member's visits (bitsets larger than a cache are
//! filled through buckets of members, [`super::bucketed`]). A second pass over each member's
//! periods derives new, retained, returning, churned and the cohort cells. The bitset passes
//! split across the machine's cores.
//!
//! # Bounds
//! Visits must be dated in 2000 to 2199 ([`crate::is_plausible`]); at most 73,049 daily periods
//! then. Memory is about 24 bytes per visit in the log, the members' activity (a bitset each,
//! or lists), up to 32 MiB of bucket lists when the bitsets are filled through buckets, a few
//! vectors per period, and the cohort cells: a dense triangle only while it is no larger than
//! the visits, else only the cells that occur; the report's rows end at each cohort's last
//! active period, and a matrix above [`MAX_COHORT_CELLS`] is refused
//! ([`AnalyticsError::TooManyCohortCells`]). Never the square of the span.

use super::log::{ANONYMOUS, VisitLog};
use super::period::{Granularity, Periods};
use crate::local_time::{PLAUSIBLE_FROM_UNIX, PLAUSIBLE_UNTIL_UNIX, is_plausible};
use serde::Serialize;
use std::collections::HashMap;

/// One period's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortRow {
    /// The period of first visit.
    pub cohort: String,
    /// Members in the cohort.
    pub size: u64,
    /// `active[k]`: members of the cohort active in period cohort + k (`active[0] == size`),
    /// up to the last period in which one of them was active; later periods count 0 (an
    /// empty cohort has an empty row).
    pub active: Vec<u64>,
}

/// Period metrics and cohorts of one log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitReport {
    /// The granularity of every row.
    pub granularity: Granularity,
    /// One row per period from the first visit's to the last visit's, empty periods included.
    pub periods: Vec<PeriodRow>,
    /// One row per period, in order (a period with no new member has a cohort of size 0).
    pub cohorts: Vec<CohortRow>,
}

/// The period of each visit, for visits in time order: moves forward only.
pub(super) struct PeriodCursor<'a> {
    periods: &'a Periods,
    p: usize,
    end: i64,
}

impl<'a> PeriodCursor<'a> {
    pub(super) fn starting_at(periods: &'a Periods, p: usize) -> Self {
        PeriodCursor {
            periods,
            p,
            end: periods.bounds(p).1,
        }
    }

    /// The period of `at`, no earlier than the last one given.
    #[inline]
    pub(super) fn period_of(&mut self, at: i64) -> usize {
        while at >= self.end {
            self.p += 1;
            self.end = self.periods.bounds(self.p).1;
        }
        self.p
    }
}

/// Per-period flow accumulated from visits.
#[derive(Clone, Default, Debug, PartialEq)]
pub(super) struct Flow {
    visits: Vec<u64>,
    /// Wide enough that no sum of `i64` spends overflows; checked into `i64` at the end.
    spend: Vec<i128>,
    paid: Vec<u64>,
}

impl Flow {
    pub(super) fn new(periods: usize) -> Self {
        Flow {
            visits: vec![0; periods],
            spend: vec![0; periods],
            paid: vec![0; periods],
        }
    }

    /// Counts one visit of `spend_minor` in period `p`.
    #[inline]
    pub(super) fn count(&mut self, p: usize, spend_minor: i64) {
        self.visits[p] += 1;
        self.spend[p] += i128::from(spend_minor);
        self.paid[p] += u64::from(spend_minor > 0);
    }

    pub(super) fn add(&mut self, other: &Flow) {
        for p in 0..self.visits.len() {
            self.visits[p] += other.visits[p];
            self.spend[p] += other.spend[p];
            self.paid[p] += other.paid[p];
        }
    }
}

/// Why a report cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// Visits dated outside the years o2okit accepts ([`crate::is_plausible`]: 2000 to 2199),
    /// as a till whose clock reset to 1970 records them. They would stretch every report
    /// over centuries; filter or correct them first.
    #[error(
        "{count} visits are dated outside the years 2000 to 2199 (one at Unix second {at}): \
         a till clock set wrong? Filter or correct them"
    )]
    ImplausibleInstant {
        /// One such visit's instant, Unix seconds.
        at: i64,
        /// How many visits are outside.
        count: usize,
    },
    /// The cohort matrix would hold more than [`MAX_COHORT_CELLS`] cells (days over decades
    /// with members returning across them): choose a coarser granularity.
    #[error("the cohort matrix would hold {cells} cells, above {max}: use a coarser granularity")]
    TooManyCohortCells {
        /// Cells the matrix needs.
        cells: usize,
        /// The limit.
        max: usize,
    },
    /// A period's total spend does not fit in an `i64` of minor units (the visits' spends are
    /// absurd: no total is made up).
    #[error("the total spend of period {period} exceeds {max} minor units", max = i64::MAX)]
    SpendOverflow {
        /// The period's label.
        period: String,
    },
}

/// Per-period member counts and cohort cells.
#[derive(Clone)]
struct Counts {
    active: Vec<u64>,
    new: Vec<u64>,
    retained: Vec<u64>,
    returning: Vec<u64>,
    churned: Vec<u64>,
    /// Members of cohort c active in period c + k.
    cohort: Cells,
}

/// The cohort matrix's cells: a dense triangle while it is no larger than the data, else only
/// the cells that occur.
#[derive(Clone)]
enum Cells {
    /// Cell (c, k) at `c * periods + k`.
    Dense { periods: usize, cells: Vec<u64> },
    /// The non-zero cells.
    Sparse(HashMap<(u32, u32), u64>),
}

impl Cells {
    fn new(periods: usize, dense: bool) -> Self {
        if dense {
            Cells::Dense {
                periods,
                cells: vec![0; periods * periods],
            }
        } else {
            Cells::Sparse(HashMap::new())
        }
    }

    fn count(&mut self, cohort: usize, k: usize) {
        match self {
            Cells::Dense { periods, cells } => cells[cohort * *periods + k] += 1,
            Cells::Sparse(map) => *map.entry((cohort as u32, k as u32)).or_default() += 1,
        }
    }

    fn add(&mut self, other: &Cells) {
        match (self, other) {
            (Cells::Dense { cells, .. }, Cells::Dense { cells: theirs, .. }) => {
                for (a, b) in cells.iter_mut().zip(theirs) {
                    *a += b;
                }
            }
            (Cells::Sparse(map), Cells::Sparse(theirs)) => {
                for (&cell, &n) in theirs {
                    *map.entry(cell).or_default() += n;
                }
            }
            _ => unreachable!("every thread uses the same kind of cells"),
        }
    }

    /// One row per cohort, each ending at its last non-zero cell.
    ///
    /// # Errors
    /// [`AnalyticsError::TooManyCohortCells`] above [`MAX_COHORT_CELLS`].
    fn into_rows(self, periods: usize) -> Result<Vec<Vec<u64>>, AnalyticsError> {
        let mut lengths = vec![0usize; periods];
        match &self {
            Cells::Dense { cells, .. } => {
                for (c, length) in lengths.iter_mut().enumerate() {
                    let row = &cells[c * periods..c * periods + (periods - c)];
                    *length = row.iter().rposition(|&n| n > 0).map_or(0, |k| k + 1);
                }
            }
            Cells::Sparse(map) => {
                for &(c, k) in map.keys() {
                    let length = &mut lengths[c as usize];
                    *length = (*length).max(k as usize + 1);
                }
            }
        }
        let total: usize = lengths.iter().sum();
        if total > MAX_COHORT_CELLS {
            return Err(AnalyticsError::TooManyCohortCells {
                cells: total,
                max: MAX_COHORT_CELLS,
            });
        }
        let mut rows: Vec<Vec<u64>> = lengths.iter().map(|&l| vec![0; l]).collect();
        match self {
            Cells::Dense { cells, .. } => {
                for (c, row) in rows.iter_mut().enumerate() {
                    let len = row.len();
                    row.copy_from_slice(&cells[c * periods..c * periods + len]);
                }
            }
            Cells::Sparse(map) => {
                for ((c, k), n) in map {
                    rows[c as usize][k as usize] = n;
                }
            }
        }
        Ok(rows)
    }
}

/// The most cells a report's cohort matrix holds (128 MiB of counts); a finer granularity
/// over a long span can ask for more, and is refused with
/// [`AnalyticsError::TooManyCohortCells`] rather than exhausting memory.
pub const MAX_COHORT_CELLS: usize = 16 << 20;

impl Counts {
    fn new(periods: usize, dense_cells: bool) -> Self {
        Counts {
            active: vec![0; periods],
            new: vec![0; periods],
            retained: vec![0; periods],
            returning: vec![0; periods],
            churned: vec![0; periods],
            cohort: Cells::new(periods, dense_cells),
        }
    }

    fn add(&mut self, other: &Counts) {
        let pairs = [
            (&mut self.active, &other.active),
            (&mut self.new, &other.new),
            (&mut self.retained, &other.retained),
            (&mut self.returning, &other.returning),
            (&mut self.churned, &other.churned),
        ];
        for (mine, theirs) in pairs {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        self.cohort.add(&other.cohort);
    }
}

/// Which periods each member was active in.
enum Activity {
    /// `words` u64 of bits per member: fast, and small while periods are few.
    Bits { bits: Vec<u64>, words: usize },
    /// Member m's periods, ascending, at `periods[offsets[m]..offsets[m + 1]]`: memory follows
    /// the visits however many periods the log spans.
    Lists {
        offsets: Vec<usize>,
        periods: Vec<u32>,
    },
}

impl Activity {
    /// Calls `f` with each period member `m` was active in, ascending.
    fn for_each_period(&self, m: usize, mut f: impl FnMut(usize)) {
        match self {
            Activity::Bits { bits, words } => {
                for (w, &word) in bits[m * words..(m + 1) * words].iter().enumerate() {
                    let mut word = word;
                    while word != 0 {
                        f(w * 64 + word.trailing_zeros() as usize);
                        word &= word - 1;
                    }
                }
            }
            Activity::Lists { offsets, periods } => {
                for &p in &periods[offsets[m]..offsets[m + 1]] {
                    f(p as usize);
                }
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
pub(super) fn chunks(len: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
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
    let Some(first) = range.clone().next().and_then(|i| periods.index_of(at[i])) else {
        return (flow, bits);
    };
    let mut cursor = PeriodCursor::starting_at(periods, first);
    for i in range {
        let p = cursor.period_of(at[i]);
        flow.count(p, spend[i]);
        let m = member[i];
        if m != ANONYMOUS {
            bits[m as usize * words + p / 64] |= 1 << (p % 64);
        }
    }
    (flow, bits)
}

/// One pass for logs whose bitsets would outgrow the visits (many periods, few visits per
/// member): flow per period and each member's list of active periods.
fn scan_lists(log: &VisitLog, periods: &Periods) -> (Flow, Activity) {
    let mut flow = Flow::new(periods.len());
    let (at, member, spend) = (log.at(), log.member(), log.spend());
    let mut last = vec![u32::MAX; log.member_count()];
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    let mut counts = vec![0usize; log.member_count() + 1];
    let mut cursor = PeriodCursor::starting_at(periods, 0);
    for i in 0..log.len() {
        let p = cursor.period_of(at[i]);
        flow.count(p, spend[i]);
        let m = member[i];
        // The log is sorted by time, so a member's periods arrive in order.
        if m != ANONYMOUS && last[m as usize] != p as u32 {
            last[m as usize] = p as u32;
            pairs.push((m, p as u32));
            counts[m as usize + 1] += 1;
        }
    }
    for m in 0..log.member_count() {
        counts[m + 1] += counts[m];
    }
    let offsets = counts.clone();
    let mut next = counts;
    let mut sorted = vec![0u32; pairs.len()];
    for (m, p) in pairs {
        sorted[next[m as usize]] = p;
        next[m as usize] += 1;
    }
    (
        flow,
        Activity::Lists {
            offsets,
            periods: sorted,
        },
    )
}

/// Second pass: derive member counts and cohort cells from the activity of `members`.
fn classify(
    activity: &Activity,
    periods: usize,
    dense_cells: bool,
    members: std::ops::Range<usize>,
) -> Counts {
    let mut counts = Counts::new(periods, dense_cells);
    for m in members {
        let mut first = None;
        let mut previous: Option<usize> = None;
        activity.for_each_period(m, |p| {
            counts.active[p] += 1;
            let cohort = *first.get_or_insert(p);
            counts.cohort.count(cohort, p - cohort);
            match previous {
                None => counts.new[p] += 1,
                Some(q) if q + 1 == p => counts.retained[p] += 1,
                Some(q) => {
                    counts.returning[p] += 1;
                    counts.churned[q + 1] += 1;
                }
            }
            previous = Some(p);
        });
        if let Some(q) = previous
            && q + 1 < periods
        {
            counts.churned[q + 1] += 1;
        }
    }
    counts
}

/// Bitsets are used while they take at most this many words per visit (plus a floor);
/// beyond, per-member lists.
const BIT_WORDS_PER_VISIT: usize = 2;

/// Bitsets larger than this (1 MiB: 131,072 members of one word) are filled through buckets
/// of members ([`super::bucketed`]) rather than straight from the log.
const BUCKETED_ABOVE_WORDS: usize = 1 << 17;

/// Period metrics and cohorts of `log` at `granularity`, on the log's time zone.
///
/// Memory follows the data: a few vectors as long as the number of periods, each cohort's
/// row as long as its members stayed active, and member activity as bitsets or, when the
/// log spans many periods, as lists no longer than the visits.
///
/// # Example
/// ```
/// use o2okit::StoreId;
/// use o2okit::analytics::{Granularity, VisitLogBuilder, analyze};
///
/// let mut visits = VisitLogBuilder::new(chrono_tz::Asia::Shanghai);
/// let at = |s: &str| s.parse().unwrap();
/// visits.push(Some("M-1"), StoreId(1), at("2026-01-10T04:00:00Z"), 5_000);
/// visits.push(Some("M-2"), StoreId(1), at("2026-01-12T04:00:00Z"), 3_000);
/// visits.push(Some("M-1"), StoreId(1), at("2026-02-03T04:00:00Z"), 4_000);
/// let report = analyze(&visits.build(), Granularity::Month)?;
///
/// let february = &report.periods[1];
/// assert_eq!(february.period, "2026-02");
/// assert_eq!((february.active, february.new, february.retained), (1, 0, 1));
/// assert_eq!(report.periods[0].avg_ticket_minor, Some(4_000));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`AnalyticsError::ImplausibleInstant`] when a visit is dated outside 2000 to 2199.
pub fn analyze(log: &VisitLog, granularity: Granularity) -> Result<VisitReport, AnalyticsError> {
    let at = log.at();
    let (Some(&first), Some(&last)) = (at.first(), at.last()) else {
        return Ok(VisitReport {
            granularity,
            periods: Vec::new(),
            cohorts: Vec::new(),
        });
    };
    if !is_plausible(first) || !is_plausible(last) {
        let early = at.partition_point(|&t| t < PLAUSIBLE_FROM_UNIX);
        let late = at.len() - at.partition_point(|&t| t < PLAUSIBLE_UNTIL_UNIX);
        return Err(AnalyticsError::ImplausibleInstant {
            at: if is_plausible(first) { last } else { first },
            count: early + late,
        });
    }
    let periods = Periods::covering(granularity, log.zone(), first, last);
    let n = periods.len();
    let words = n.div_ceil(64);
    let parts = threads();

    let bit_words = log.member_count().saturating_mul(words);
    let (flow, activity) = if bit_words > BIT_WORDS_PER_VISIT * log.len() + (1 << 16) {
        scan_lists(log, &periods)
    } else if bit_words > BUCKETED_ABOVE_WORDS {
        let (flow, bits) = super::bucketed::scan_bucketed(log, &periods, words, parts);
        (flow, Activity::Bits { bits, words })
    } else {
        scan_bits(log, &periods, words, parts)
    };

    // The dense triangle while it is no larger than the visits (or 1 Mi cells).
    let dense_cells = n.saturating_mul(n) / 2 <= log.len().max(1 << 20);
    let mut counts = Counts::new(n, dense_cells);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks(log.member_count(), parts)
            .into_iter()
            .map(|members| {
                let activity = &activity;
                s.spawn(move || classify(activity, n, dense_cells, members))
            })
            .collect();
        for h in handles {
            counts.add(&h.join().expect("classify thread"));
        }
    });

    let rows = (0..n)
        .map(|p| {
            let spend =
                i64::try_from(flow.spend[p]).map_err(|_| AnalyticsError::SpendOverflow {
                    period: periods.label(p).to_owned(),
                })?;
            Ok(PeriodRow {
                period: periods.label(p).to_owned(),
                active: counts.active[p],
                new: counts.new[p],
                retained: counts.retained[p],
                returning: counts.returning[p],
                churned: counts.churned[p],
                visits: flow.visits[p],
                spend_minor: spend,
                visits_with_spend: flow.paid[p],
                avg_ticket_minor: (flow.paid[p] > 0).then(|| spend.div_euclid(flow.paid[p] as i64)),
            })
        })
        .collect::<Result<Vec<_>, AnalyticsError>>()?;
    let cohorts = counts
        .cohort
        .into_rows(n)?
        .into_iter()
        .enumerate()
        .map(|(c, active)| CohortRow {
            cohort: periods.label(c).to_owned(),
            size: counts.new[c],
            active,
        })
        .collect();
    Ok(VisitReport {
        granularity,
        periods: rows,
        cohorts,
    })
}

/// The first pass with bitsets, split across threads.
fn scan_bits(log: &VisitLog, periods: &Periods, words: usize, parts: usize) -> (Flow, Activity) {
    let n = periods.len();
    let scanned: Vec<(Flow, Vec<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks(log.len(), parts)
            .into_iter()
            .map(|range| s.spawn(move || scan(log, periods, range, words)))
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
    (flow, Activity::Bits { bits, words })
}
