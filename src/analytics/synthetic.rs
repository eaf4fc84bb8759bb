//! A synthetic visit log with realistic repeat behaviour, for benchmarks, demos and tests.
//! Deterministic: the same parameters and seed give the same log.
//!
//! Each member joins on a random day, comes back at their own rhythm (every few days to every
//! few months, jittered), sometimes pauses for months and comes back (returning customers),
//! and eventually stops (churn). Some visits are anonymous walk-ins; a few spend nothing.

use super::log::{ANONYMOUS, VisitLog, VisitLogBuilder};
use crate::ids::StoreId;
use chrono::{Days, Months, NaiveDate, TimeZone};
use chrono_tz::Tz;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SyntheticParams {
    /// Members.
    pub members: u32,
    /// Stores (each member has a home store and visits others now and then).
    pub stores: u32,
    /// First month of the log.
    pub start: NaiveDate,
    /// Months covered.
    pub months: u32,
    /// The merchant's time zone.
    pub zone: Tz,
    /// Seed of the pseudo-random generator.
    pub seed: u64,
}

/// SplitMix64: small, fast, and good enough for test data.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

/// A member's habits.
#[derive(Clone, Copy)]
struct Habit {
    rhythm_days: u32,
    store: u32,
    visits_left: u32,
}

/// Generates the log, in time order.
pub fn generate(params: &SyntheticParams) -> VisitLog {
    let mut rng = Rng(params.seed);
    let end = params.start + Months::new(params.months);
    let days = (end - params.start).num_days().max(1) as usize;
    let mut calendar: Vec<Vec<u32>> = vec![Vec::new(); days];
    let mut habits = Vec::with_capacity(params.members as usize);
    for member in 0..params.members {
        // Rhythms from every 4 days to every ~3 months; a few very loyal regulars.
        let rhythm_days = [4, 7, 10, 14, 21, 30, 45, 60, 90][rng.below(9) as usize];
        habits.push(Habit {
            rhythm_days,
            store: rng.below(u64::from(params.stores)) as u32,
            visits_left: 1 + rng.below(30) as u32,
        });
        calendar[rng.below(days as u64) as usize].push(member);
    }
    let expected = params.members as usize * 11;
    let mut builder = VisitLogBuilder::with_capacity(params.zone, expected + expected / 8);
    // Each store's dense index, on its first visit.
    let mut store_index = vec![ANONYMOUS; params.stores as usize];
    for member in 0..params.members {
        builder.intern(&format!("m{member:07}"));
    }
    let mut day_visits: Vec<(u32, u32, u32)> = Vec::new(); // (second of day, member, store)
    for day in 0..days {
        let date = params.start + Days::new(day as u64);
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        let day_start = params
            .zone
            .from_local_datetime(&midnight)
            .earliest()
            .map_or_else(
                || params.zone.from_utc_datetime(&midnight).timestamp(),
                |t| t.timestamp(),
            );
        day_visits.clear();
        for member in std::mem::take(&mut calendar[day]) {
            let habit = &mut habits[member as usize];
            let store = if rng.chance(150) {
                rng.below(u64::from(params.stores)) as u32
            } else {
                habit.store
            };
            // Open 10:00–22:00 local.
            day_visits.push((36_000 + rng.below(43_200) as u32, member, store));
            habit.visits_left -= 1;
            if habit.visits_left > 0 {
                let jitter = rng.below(u64::from(habit.rhythm_days)) as u32;
                let pause = if rng.chance(60) {
                    60 + rng.below(120) as u32
                } else {
                    0
                };
                let next = day + (habit.rhythm_days / 2 + jitter + pause).max(1) as usize;
                if next < days {
                    calendar[next].push(member);
                }
            }
        }
        // Anonymous walk-ins: about one in ten visits.
        let walk_ins = day_visits.len() / 9;
        for _ in 0..walk_ins {
            let store = rng.below(u64::from(params.stores)) as u32;
            day_visits.push((36_000 + rng.below(43_200) as u32, ANONYMOUS, store));
        }
        day_visits.sort_unstable();
        for &(second, member, store) in &day_visits {
            let spend = if rng.chance(40) {
                0
            } else {
                1_500 + rng.below(18_000) as i64
            };
            let index = &mut store_index[store as usize];
            if *index == ANONYMOUS {
                *index = builder.intern_store_number(StoreId(store));
            }
            builder.push_indexed(member, *index, day_start + i64::from(second), spend);
        }
    }
    builder.build()
}
