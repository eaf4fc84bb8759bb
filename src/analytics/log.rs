//! The visit log: visits held column by column, sorted by time, members and stores interned
//! to dense indexes, so a report is one pass over a few flat arrays.
//!
//! Member and store ids are text, kept as the input wrote them (`M-000123`, `S016`, `7`): two
//! ids are the same only when their text is (`007` and `7` are two stores). Ids from the
//! ledger are numbers, written in decimal.

use super::dictionary::Dictionary;
use crate::ids::StoreId;
use crate::ledger::VisitEvent;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The member column's value for an anonymous walk-in.
pub const ANONYMOUS: u32 = u32::MAX;

/// Visits in columns, sorted by time, in one merchant's time zone.
///
/// Memory: 24 bytes a visit (time 8, member 4, store 4, spend 8) plus the member and store
/// dictionaries.
#[derive(Debug, Clone)]
pub struct VisitLog {
    zone: Tz,
    members: Dictionary,
    stores: Dictionary,
    at: Vec<i64>,
    member: Vec<u32>,
    store: Vec<u32>,
    spend: Vec<i64>,
}

impl VisitLog {
    /// The merchant's time zone, in which periods are cut.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// How many visits.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// How many distinct members.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// The external id of dense member `index`.
    pub fn member_id(&self, index: u32) -> &str {
        self.members.text(index)
    }

    /// Visit instants, Unix seconds, ascending.
    pub fn at(&self) -> &[i64] {
        &self.at
    }

    /// Dense member index per visit, [`ANONYMOUS`] for walk-ins.
    pub fn member(&self) -> &[u32] {
        &self.member
    }

    /// Dense store index per visit; [`VisitLog::store_id`] gives its id.
    pub fn store(&self) -> &[u32] {
        &self.store
    }

    /// How many distinct stores.
    pub fn store_count(&self) -> usize {
        self.stores.len()
    }

    /// The id of dense store `index`, as the input wrote it.
    pub fn store_id(&self, index: u32) -> &str {
        self.stores.text(index)
    }

    /// The dense index of store `id`, if the log has it.
    pub fn store_index(&self, id: &str) -> Option<u32> {
        self.stores.find(id)
    }

    /// Spend per visit, minor units.
    pub fn spend(&self) -> &[i64] {
        &self.spend
    }

    /// The visits of store `id` (none when the log does not have it), with (copies of) this
    /// log's dictionaries: members and stores keep their numbers.
    pub fn for_store(&self, id: &str) -> VisitLog {
        let index = self.store_index(id);
        let keep: Vec<usize> = (0..self.len())
            .filter(|&i| Some(self.store[i]) == index)
            .collect();
        VisitLog {
            zone: self.zone,
            members: self.members.clone(),
            stores: self.stores.clone(),
            at: keep.iter().map(|&i| self.at[i]).collect(),
            member: keep.iter().map(|&i| self.member[i]).collect(),
            store: keep.iter().map(|&i| self.store[i]).collect(),
            spend: keep.iter().map(|&i| self.spend[i]).collect(),
        }
    }

    /// The visits before `until_unix` (Unix seconds), with (a copy of) this log's member
    /// dictionary, so members keep their numbers (and `member_count` still counts those seen
    /// only later): a report cut at an instant, whose periods up to it are what they were on
    /// that day.
    pub fn before(&self, until_unix: i64) -> VisitLog {
        let n = self.at.partition_point(|&t| t < until_unix);
        VisitLog {
            zone: self.zone,
            members: self.members.clone(),
            stores: self.stores.clone(),
            at: self.at[..n].to_vec(),
            member: self.member[..n].to_vec(),
            store: self.store[..n].to_vec(),
            spend: self.spend[..n].to_vec(),
        }
    }

    /// The ids of the stores with a visit, in order of first appearance.
    pub fn stores(&self) -> Vec<&str> {
        let mut seen = vec![false; self.store_count()];
        for &s in &self.store {
            seen[s as usize] = true;
        }
        (0..self.store_count() as u32)
            .filter(|&s| seen[s as usize])
            .map(|s| self.store_id(s))
            .collect()
    }

    /// A log of ledger visit events (member and store ids become their decimal text).
    pub fn from_events(zone: Tz, events: &[VisitEvent]) -> Self {
        let mut builder = VisitLogBuilder::with_capacity(zone, events.len());
        for e in events {
            let member = e.member.map(|m| m.0.to_string());
            builder.push(member.as_deref(), e.store, e.at, e.spend_minor as i64);
        }
        builder.build()
    }
}

/// Collects visits in any order and builds a [`VisitLog`].
#[derive(Debug)]
pub struct VisitLogBuilder {
    zone: Tz,
    log: VisitLog,
}

impl VisitLogBuilder {
    /// An empty builder for a merchant in `zone`.
    pub fn new(zone: Tz) -> Self {
        Self::with_capacity(zone, 0)
    }

    /// An empty builder with room for `visits` visits.
    pub fn with_capacity(zone: Tz, visits: usize) -> Self {
        VisitLogBuilder {
            zone,
            log: VisitLog {
                zone,
                members: Dictionary::new(super::dictionary::random_seed()),
                stores: Dictionary::new(super::dictionary::random_seed()),
                at: Vec::with_capacity(visits),
                member: Vec::with_capacity(visits),
                store: Vec::with_capacity(visits),
                spend: Vec::with_capacity(visits),
            },
        }
    }

    /// A builder holding visits already in columns, with their dictionaries.
    pub(super) fn from_columns(
        zone: Tz,
        members: Dictionary,
        stores: Dictionary,
        at: Vec<i64>,
        member: Vec<u32>,
        store: Vec<u32>,
        spend: Vec<i64>,
    ) -> Self {
        VisitLogBuilder {
            zone,
            log: VisitLog {
                zone,
                members,
                stores,
                at,
                member,
                store,
                spend,
            },
        }
    }

    /// The dense index of member `id`, interning it on first sight.
    pub fn intern(&mut self, id: &str) -> u32 {
        self.log.members.id(id)
    }

    /// The dense index of store `id`, interning it on first sight.
    pub fn intern_store(&mut self, id: &str) -> u32 {
        self.log.stores.id(id)
    }

    /// The dense index of a ledger store, whose id is its number in decimal.
    pub fn intern_store_number(&mut self, store: StoreId) -> u32 {
        let mut digits = [0u8; 10];
        let mut n = store.0;
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // ASCII digits only.
        let text = std::str::from_utf8(&digits[start..]).unwrap_or_default();
        self.intern_store(text)
    }

    /// Adds a visit at a ledger store (its id: the number in decimal); `member` is `None` for
    /// an anonymous walk-in.
    pub fn push(
        &mut self,
        member: Option<&str>,
        store: StoreId,
        at: DateTime<Utc>,
        spend_minor: i64,
    ) {
        let index = member.map_or(ANONYMOUS, |id| self.intern(id));
        let store = self.intern_store_number(store);
        self.push_indexed(index, store, at.timestamp(), spend_minor);
    }

    /// Adds a visit at the store whose id is `store` (any text); `member` is `None` for an
    /// anonymous walk-in.
    pub fn push_at(
        &mut self,
        member: Option<&str>,
        store: &str,
        at: DateTime<Utc>,
        spend_minor: i64,
    ) {
        let index = member.map_or(ANONYMOUS, |id| self.intern(id));
        let store = self.intern_store(store);
        self.push_indexed(index, store, at.timestamp(), spend_minor);
    }

    /// Adds a visit by dense member index (from [`VisitLogBuilder::intern`], or
    /// [`ANONYMOUS`]), dense store index (from [`VisitLogBuilder::intern_store`]) and Unix
    /// seconds: the fast path for bulk loads.
    pub fn push_indexed(&mut self, member: u32, store: u32, at_unix: i64, spend_minor: i64) {
        let log = &mut self.log;
        log.at.push(at_unix);
        log.member.push(member);
        log.store.push(store);
        log.spend.push(spend_minor);
    }

    /// Sorts by time (stable; free when the visits came in order) and returns the log.
    pub fn build(self) -> VisitLog {
        let mut log = self.log;
        log.zone = self.zone;
        if !log.at.is_sorted() {
            let mut order: Vec<u32> = (0..log.at.len() as u32).collect();
            order.sort_by_key(|&i| log.at[i as usize]);
            let permute_i64 = |column: &[i64]| order.iter().map(|&i| column[i as usize]).collect();
            let permute_u32 = |column: &[u32]| order.iter().map(|&i| column[i as usize]).collect();
            log.at = permute_i64(&log.at);
            log.spend = permute_i64(&log.spend);
            log.member = permute_u32(&log.member);
            log.store = permute_u32(&log.store);
        }
        log
    }
}
