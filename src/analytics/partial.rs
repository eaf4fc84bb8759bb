//! Reports over partitions of a log's members, merged exactly: a log too large for one machine
//! (or for memory) is split by member, each part is reported on its own — on other machines or
//! one after another — and the parts' figures add up to the whole log's report.
//!
//! Why it is exact: every member figure of [`super::metrics`] is a count of members, each
//! decided by that member's own visits only (new, retained, returning, churned, the cohort
//! cells), and the flow figures are sums over visits. So as long as all of a member's visits
//! are in the same part, the whole log's figures are the sums of the parts'. One correction:
//! a part ends at its own last visit, so its members active in its last period have not been
//! counted as churned in the next one; [`merge`] adds them when the whole log goes on.
//!
//! [`Partition`] splits by a fixed hash of the member's external id (the same on every
//! machine and in every release), so the parts can be cut where the data lives.

use super::log::{ANONYMOUS, VisitLog, VisitLogBuilder};
use super::metrics::{
    AnalyticsError, CohortRow, MAX_COHORT_CELLS, PeriodRow, VisitReport, analyze,
};
use super::period::{Granularity, Periods};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The version of [`PartialReport`]'s serialized form; [`merge`] refuses any other.
pub const PARTIAL_FORMAT: u32 = 1;

/// Part `index` of `count` parts of a log's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partition {
    index: u32,
    count: u32,
}

impl Partition {
    /// Part `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (index < count).then_some(Partition { index, count })
    }

    /// This part's number, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many parts.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether member `id`'s visits belong to this part. Anonymous walk-ins (no member)
    /// belong to part 0, so each is counted once.
    pub fn holds(self, member_id: Option<&str>) -> bool {
        let part = member_id.map_or(0, |id| member_hash(id) % u64::from(self.count));
        part == u64::from(self.index)
    }
}

/// A fixed 64-bit hash of a member's id: FNV-1a over the UTF-8 bytes, then SplitMix64's
/// finalizer so that `% count` is even for any count. Stable across machines and releases (a
/// partition written by one must be read the same by another); not keyed, so not for tables
/// an adversary fills.
pub fn member_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in id.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl VisitLog {
    /// The visits of the members in `part` (and, in part 0, the anonymous ones), with
    /// dictionaries of those members and their stores only.
    pub fn partition(&self, part: Partition) -> VisitLog {
        let keep: Vec<bool> = (0..self.member_count() as u32)
            .map(|m| part.holds(Some(self.member_id(m))))
            .collect();
        let mut builder = VisitLogBuilder::new(self.zone());
        let mut renumbered = vec![ANONYMOUS; self.member_count()];
        let mut stores = vec![ANONYMOUS; self.store_count()];
        let anonymous = part.holds(None);
        for i in 0..self.len() {
            let m = self.member()[i];
            let member = if m == ANONYMOUS {
                if !anonymous {
                    continue;
                }
                ANONYMOUS
            } else {
                if !keep[m as usize] {
                    continue;
                }
                if renumbered[m as usize] == ANONYMOUS {
                    renumbered[m as usize] = builder.intern(self.member_id(m));
                }
                renumbered[m as usize]
            };
            let s = self.store()[i] as usize;
            if stores[s] == ANONYMOUS {
                stores[s] = builder.intern_store(self.store_id(s as u32));
            }
            builder.push_indexed(member, stores[s], self.at()[i], self.spend()[i]);
        }
        builder.build()
    }
}

/// One part's report, ready to be stored, sent and [`merge`]d with the other parts'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialReport {
    /// [`PARTIAL_FORMAT`] when written.
    pub format: u32,
    /// The time zone the periods were cut in (an IANA name).
    pub zone: String,
    /// The part's first and last visit, Unix seconds; `None` for a part without visits.
    pub span: Option<(i64, i64)>,
    /// The part's own report: periods from its first visit's to its last visit's.
    pub report: VisitReport,
}

/// The report of one part of a log (a log holding all the visits of the members it holds).
///
/// # Errors
/// As [`analyze`].
pub fn partial_report(
    log: &VisitLog,
    granularity: Granularity,
) -> Result<PartialReport, AnalyticsError> {
    Ok(PartialReport {
        format: PARTIAL_FORMAT,
        zone: log.zone().name().to_owned(),
        span: log.at().first().zip(log.at().last()).map(|(&a, &b)| (a, b)),
        report: analyze(log, granularity)?,
    })
}

/// Why partial reports cannot be merged. The parts came from files: each is checked before
/// any figure is added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no partial reports to merge")]
    Empty,
    /// A part written in another format version.
    #[error("a partial report in format {found}; this release reads format {PARTIAL_FORMAT}")]
    Format {
        /// The part's format.
        found: u32,
    },
    /// Parts cut in different time zones or granularities cannot be added.
    #[error("partial reports disagree: {0}")]
    Mismatch(String),
    /// A part whose figures do not fit its own span (a damaged or hand-edited file).
    #[error("a partial report is inconsistent: {0}")]
    Inconsistent(String),
    /// A sum does not fit.
    #[error("the merged figures overflow: {0}")]
    Overflow(String),
    /// The merged cohort matrix would hold more than [`MAX_COHORT_CELLS`] cells, which
    /// [`analyze`] refuses on the whole log too.
    #[error("the merged cohort matrix would hold {cells} cells, more than {max}")]
    TooManyCohortCells {
        /// Cells the merge would hold.
        cells: usize,
        /// The limit.
        max: usize,
    },
}

fn add(total: &mut u64, part: u64, what: &str) -> Result<(), MergeError> {
    *total = total
        .checked_add(part)
        .ok_or_else(|| MergeError::Overflow(what.to_owned()))?;
    Ok(())
}

/// The whole log's report from the reports of its parts: exactly [`analyze`] of the whole
/// log, provided each member's visits (and each anonymous visit) are in exactly one part, as
/// [`Partition`] cuts them. Parts may come in any order, and parts without visits count
/// nothing.
///
/// # Errors
/// [`MergeError`] when there are no parts, when they disagree on zone or granularity, when a
/// part is inconsistent (periods outside its own span, a cohort longer than the log), when a
/// sum overflows or when the cohort matrix would outgrow [`MAX_COHORT_CELLS`].
pub fn merge(parts: &[PartialReport]) -> Result<VisitReport, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    let granularity = first.report.granularity;
    for part in parts {
        if part.format != PARTIAL_FORMAT {
            return Err(MergeError::Format { found: part.format });
        }
        if part.zone != first.zone || part.report.granularity != granularity {
            return Err(MergeError::Mismatch(format!(
                "{} by {:?} and {} by {:?}",
                first.zone, granularity, part.zone, part.report.granularity
            )));
        }
    }
    let zone: Tz = first
        .zone
        .parse()
        .map_err(|_| MergeError::Inconsistent(format!("unknown time zone {:?}", first.zone)))?;
    let spans = parts.iter().filter_map(|p| p.span);
    let (Some(start), Some(end)) = (spans.clone().map(|s| s.0).min(), spans.map(|s| s.1).max())
    else {
        return Ok(VisitReport {
            granularity,
            periods: Vec::new(),
            cohorts: Vec::new(),
        });
    };
    if parts.iter().any(|p| p.span.is_some_and(|(a, b)| a > b)) {
        return Err(MergeError::Inconsistent(
            "a span ends before it starts".into(),
        ));
    }
    if !crate::is_plausible(start) || !crate::is_plausible(end) {
        return Err(MergeError::Inconsistent(
            "a span outside the years 2000 to 2199".into(),
        ));
    }
    let periods = Periods::covering(granularity, zone, start, end);
    let n = periods.len();
    let index: HashMap<&str, usize> = (0..n).map(|p| (periods.label(p), p)).collect();
    let find = |label: &str| {
        index
            .get(label)
            .copied()
            .ok_or_else(|| MergeError::Inconsistent(format!("period {label:?} outside the span")))
    };

    let mut rows: Vec<PeriodRow> = (0..n)
        .map(|p| PeriodRow {
            period: periods.label(p).to_owned(),
            active: 0,
            new: 0,
            retained: 0,
            returning: 0,
            churned: 0,
            visits: 0,
            spend_minor: 0,
            visits_with_spend: 0,
            avg_ticket_minor: None,
        })
        .collect();
    let mut spend = vec![0i128; n];
    let mut cohorts: Vec<Vec<u64>> = vec![Vec::new(); n];
    let mut sizes = vec![0u64; n];
    let mut cells_held = 0usize;
    for part in parts {
        // The periods this part's own span covers: its rows may name no others.
        let own = match part.span {
            Some((a, b)) => {
                let own = Periods::covering(granularity, zone, a, b);
                find(own.label(0))?..=find(own.label(own.len() - 1))?
            }
            None if part.report.periods.is_empty() && part.report.cohorts.is_empty() => continue,
            None => return Err(MergeError::Inconsistent("periods without a span".into())),
        };
        let find = |label: &str| {
            let p = find(label)?;
            own.contains(&p).then_some(p).ok_or_else(|| {
                MergeError::Inconsistent(format!("period {label:?} outside its part's span"))
            })
        };
        for row in &part.report.periods {
            let p = find(&row.period)?;
            let total = &mut rows[p];
            add(&mut total.active, row.active, "active")?;
            add(&mut total.new, row.new, "new")?;
            add(&mut total.retained, row.retained, "retained")?;
            add(&mut total.returning, row.returning, "returning")?;
            add(&mut total.churned, row.churned, "churned")?;
            add(&mut total.visits, row.visits, "visits")?;
            add(
                &mut total.visits_with_spend,
                row.visits_with_spend,
                "visits",
            )?;
            spend[p] += i128::from(row.spend_minor);
        }
        // The part's members active in its last period are churned in the next one, if the
        // whole log reaches it.
        if let Some(last) = part.report.periods.last() {
            let p = find(&last.period)?;
            if p + 1 < n {
                add(&mut rows[p + 1].churned, last.active, "churned")?;
            }
        }
        for row in &part.report.cohorts {
            let c = find(&row.cohort)?;
            // `find` put the cohort inside the part's own span, which its row may not outrun.
            if row.active.len() > *own.end() + 1 - c {
                return Err(MergeError::Inconsistent(format!(
                    "cohort {} runs past its part's last period",
                    row.cohort
                )));
            }
            add(&mut sizes[c], row.size, "cohort size")?;
            let cells = &mut cohorts[c];
            if cells.len() < row.active.len() {
                cells_held += row.active.len() - cells.len();
                if cells_held > MAX_COHORT_CELLS {
                    return Err(MergeError::TooManyCohortCells {
                        cells: cells_held,
                        max: MAX_COHORT_CELLS,
                    });
                }
                cells.resize(row.active.len(), 0);
            }
            for (k, &members) in row.active.iter().enumerate() {
                add(&mut cells[k], members, "cohort cell")?;
            }
        }
    }
    for (row, &spend) in rows.iter_mut().zip(&spend) {
        row.spend_minor = i64::try_from(spend).map_err(|_| {
            MergeError::Overflow(format!("the total spend of period {}", row.period))
        })?;
        row.avg_ticket_minor = (row.visits_with_spend > 0).then(|| {
            // Both fit: the total is an i64 and the count at most u64::MAX.
            i64::try_from(i128::from(row.spend_minor).div_euclid(i128::from(row.visits_with_spend)))
                .unwrap_or(0)
        });
    }
    let cohorts = cohorts
        .into_iter()
        .zip(sizes)
        .enumerate()
        .map(|(c, (mut active, size))| {
            // A row ends at its last active period, as `analyze`'s do.
            while active.last() == Some(&0) {
                active.pop();
            }
            CohortRow {
                cohort: periods.label(c).to_owned(),
                size,
                active,
            }
        })
        .collect();
    Ok(VisitReport {
        granularity,
        periods: rows,
        cohorts,
    })
}
