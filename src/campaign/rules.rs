//! A campaign's rules across campaigns: how often a member may be sent an offer, and how
//! much a campaign may spend.

use super::plan::{Arm, Assignment};
use crate::ids::MemberId;
use crate::ledger::{Ledger, LedgerError, Offer};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

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

    fn window(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.window_days))
    }

    /// The start of the span whose offers count against the cap at `at`: `window_days` days
    /// before (excluded); the earliest instant chrono holds if that is earlier.
    pub fn window_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.checked_sub_signed(self.window())
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Whether an offer issued at `t` counts against an offer at `at`: it lies within
    /// `window_days` days either side, so every window of that length that holds `at` is
    /// checked, even when campaigns are planned out of time order.
    fn counts(&self, t: DateTime<Utc>, at: DateTime<Utc>) -> bool {
        let end = at
            .checked_add_signed(self.window())
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        t > self.window_start(at) && t < end
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

    /// Offers sent to `member` that count against the cap at `at`: those issued less than
    /// `window_days` days before or after it.
    pub fn count_within(&self, member: MemberId, cap: &FrequencyCap, at: DateTime<Utc>) -> u32 {
        self.by_member.get(&member).map_or(0, |times| {
            times.iter().filter(|&&t| cap.counts(t, at)).count() as u32
        })
    }
}

/// What the ledger knows that every plan must respect: who opted out of marketing, which
/// offers members were already sent (for the frequency cap), and who sits in the holdout of a
/// campaign still being measured (a voucher from another campaign would spoil that holdout).
#[derive(Debug, Clone, Default)]
pub struct MarketingState {
    opted_out: HashSet<MemberId>,
    history: OfferHistory,
    held_out: HashSet<MemberId>,
}

impl MarketingState {
    /// Nobody opted out, nothing sent: for tests and for merchants without a ledger. Prefer
    /// [`MarketingState::load`].
    pub fn none() -> Self {
        MarketingState::default()
    }

    /// From opt-outs and offers the caller gathered.
    pub fn new(opted_out: impl IntoIterator<Item = MemberId>, offers: &[Offer]) -> Self {
        MarketingState {
            opted_out: opted_out.into_iter().collect(),
            history: OfferHistory::new(offers),
            held_out: HashSet::new(),
        }
    }

    /// The ledger's opt-outs, and the offers that count against `cap` at `at`.
    ///
    /// # Errors
    /// The ledger's.
    pub fn load(
        ledger: &dyn Ledger,
        cap: Option<&FrequencyCap>,
        at: DateTime<Utc>,
    ) -> Result<Self, LedgerError> {
        let offers = match cap {
            Some(cap) => ledger.offers_since(cap.window_start(at))?,
            None => Vec::new(),
        };
        Ok(MarketingState::new(ledger.marketing_opt_outs()?, &offers))
    }

    /// Also keeps out the holdout members of these assignments (campaigns still being
    /// measured).
    pub fn keeping_holdouts(mut self, assignments: &[Assignment]) -> Self {
        self.held_out.extend(
            assignments
                .iter()
                .filter(|a| a.arm == Arm::Holdout)
                .map(|a| a.member),
        );
        self
    }

    pub(crate) fn opted_out(&self, member: MemberId) -> bool {
        self.opted_out.contains(&member)
    }

    pub(crate) fn held_out(&self, member: MemberId) -> bool {
        self.held_out.contains(&member)
    }

    pub(crate) fn history(&self) -> &OfferHistory {
        &self.history
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
