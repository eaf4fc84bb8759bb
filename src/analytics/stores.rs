//! Figures per store, under the store ids the input used.

use super::log::{ANONYMOUS, VisitLog};
use serde::{Deserialize, Serialize};

/// One store's figures over the whole log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRow {
    /// The store's id, as the input wrote it.
    pub store: String,
    /// Visits, anonymous included.
    pub visits: u64,
    /// Distinct members with a visit at the store.
    pub members: u64,
    /// Total spend, minor units (`None` when it does not fit an `i64`).
    pub spend_minor: Option<i64>,
    /// spend / visits with a spend above zero, rounded down; `None` without such visits.
    pub avg_ticket_minor: Option<i64>,
}

/// The figures of every store with a visit, ordered by store id (as text).
pub fn store_report(log: &VisitLog) -> Vec<StoreRow> {
    let stores = log.store_count();
    let mut visits = vec![0u64; stores];
    let mut paid = vec![0u64; stores];
    let mut spend = vec![0i128; stores];
    // (store, member) pairs, deduplicated below: a member counts once per store.
    let mut pairs: Vec<u64> = Vec::with_capacity(log.len());
    for i in 0..log.len() {
        let (s, m) = (log.store()[i] as usize, log.member()[i]);
        visits[s] += 1;
        spend[s] += i128::from(log.spend()[i]);
        paid[s] += u64::from(log.spend()[i] > 0);
        if m != ANONYMOUS {
            pairs.push((s as u64) << 32 | u64::from(m));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut members = vec![0u64; stores];
    for pair in pairs {
        members[(pair >> 32) as usize] += 1;
    }
    let mut rows: Vec<StoreRow> = (0..stores)
        .filter(|&s| visits[s] > 0)
        .map(|s| {
            let total = i64::try_from(spend[s]).ok();
            StoreRow {
                store: log.store_id(s as u32).to_owned(),
                visits: visits[s],
                members: members[s],
                spend_minor: total,
                avg_ticket_minor: total
                    .filter(|_| paid[s] > 0)
                    .map(|t| t.div_euclid(paid[s] as i64)),
            }
        })
        .collect();
    rows.sort_unstable_by(|a, b| a.store.cmp(&b.store));
    rows
}
