//! A campaign's rules across campaigns: how often a member may be sent an offer, and how
//! much a campaign may spend.

use crate::ids::MemberId;
use crate::ledger::Offer;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// At most `max_offers` offers per member in any `window_days` days, across every campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyCap {
    /// Offers at most (0 sends nothing).
    pub max_offers: u32,
    /// The rolling window, days.
    pub window_days: u32,
}

impl FrequencyCap {
    /// `max_offers` per `window_days` days.
    pub fn new(max_offers: u32, window_days: u32) -> Self {
        FrequencyCap {
            max_offers,
            window_days,
        }
    }

    /// The earliest issue instant that still counts against the cap at `at`.
    pub fn window_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at - chrono::Duration::days(i64::from(self.window_days))
    }
}

/// The offers members were sent: from [`Ledger::offers_since`](crate::Ledger::offers_since)
/// with the cap's window start.
#[derive(Debug, Clone, Default)]
pub struct OfferHistory {
    by_member: HashMap<MemberId, Vec<DateTime<Utc>>>,
}

impl OfferHistory {
    /// The history of these offers.
    pub fn new(offers: &[Offer]) -> Self {
        let mut by_member: HashMap<MemberId, Vec<DateTime<Utc>>> = HashMap::new();
        for offer in offers {
            by_member
                .entry(offer.member)
                .or_default()
                .push(offer.issued_at);
        }
        OfferHistory { by_member }
    }

    /// Offers sent to `member` in `(at − window, at]`.
    pub fn count_within(&self, member: MemberId, cap: &FrequencyCap, at: DateTime<Utc>) -> u32 {
        let from = cap.window_start(at);
        self.by_member.get(&member).map_or(0, |times| {
            times.iter().filter(|&&t| t > from && t <= at).count() as u32
        })
    }
}

/// What a campaign may spend. Issuance stops exactly at the first limit reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Vouchers at most.
    pub max_vouchers: Option<u64>,
    /// Total discount at most, minor units, counting each voucher at the most it can take off.
    pub max_discount_minor: Option<u64>,
}

impl Budget {
    /// No limit.
    pub fn unlimited() -> Self {
        Budget::default()
    }

    /// At most `n` vouchers.
    pub fn vouchers(n: u64) -> Self {
        Budget {
            max_vouchers: Some(n),
            max_discount_minor: None,
        }
    }

    /// At most `minor` of total discount.
    pub fn discount(minor: u64) -> Self {
        Budget {
            max_vouchers: None,
            max_discount_minor: Some(minor),
        }
    }

    /// Whether one more voucher of `cost_minor` fits after `issued` vouchers costing `spent`.
    pub(crate) fn affords(&self, issued: u64, spent: u64, cost_minor: u64) -> bool {
        self.max_vouchers.is_none_or(|max| issued < max)
            && self
                .max_discount_minor
                .is_none_or(|max| spent.saturating_add(cost_minor) <= max)
    }
}
