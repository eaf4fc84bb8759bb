//! Who brought whom: the "one seed member brings N" figure.

use super::period::{Granularity, Periods};
use crate::ids::MemberId;
use crate::membership::member::Member;
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::HashMap;

/// Referral figures of a merchant's members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferralReport {
    /// Members enrolled through each referring member, most first (ties by id).
    pub by_referrer: Vec<(MemberId, u64)>,
    /// Per period of enrollment: (period, enrolled, of whom referred).
    pub by_period: Vec<(String, u64, u64)>,
    /// Members enrolled through a share code.
    pub referred: u64,
    /// Members who referred at least one other.
    pub seeds: u64,
    /// referred / seeds: how many new members one seed brings.
    pub per_seed: f64,
}

/// Referral figures of `members`, enrollment periods cut on the wall clock of `zone`.
pub fn referrals(members: &[Member], zone: Tz, granularity: Granularity) -> ReferralReport {
    let mut by_referrer: HashMap<MemberId, u64> = HashMap::new();
    for m in members {
        if let Some(referrer) = m.referred_by {
            *by_referrer.entry(referrer).or_default() += 1;
        }
    }
    let mut by_referrer: Vec<(MemberId, u64)> = by_referrer.into_iter().collect();
    by_referrer.sort_by_key(|&(id, n)| (std::cmp::Reverse(n), id));
    let times: Vec<i64> = members.iter().map(|m| m.enrolled_at.timestamp()).collect();
    let by_period = match (times.iter().min(), times.iter().max()) {
        (Some(&first), Some(&last)) => {
            let periods = Periods::covering(granularity, zone, first, last);
            let mut rows: Vec<(String, u64, u64)> = (0..periods.len())
                .map(|p| (periods.label(p).to_owned(), 0, 0))
                .collect();
            for (m, t) in members.iter().zip(&times) {
                if let Some(p) = periods.index_of(*t) {
                    rows[p].1 += 1;
                    rows[p].2 += u64::from(m.referred_by.is_some());
                }
            }
            rows
        }
        _ => Vec::new(),
    };
    let referred: u64 = by_referrer.iter().map(|(_, n)| n).sum();
    let seeds = by_referrer.len() as u64;
    ReferralReport {
        by_referrer,
        by_period,
        referred,
        seeds,
        per_seed: if seeds == 0 {
            0.0
        } else {
            referred as f64 / seeds as f64
        },
    }
}
