//! The offline allowance: what a till may accept while it cannot reach the chain's ledger.

use crate::rejection::Rejection;
use crate::voucher::Voucher;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

/// A till's policy for redeeming offline. Every refusal is
/// [`Rejection::OnlineRequired`]: the cashier redeems online or not at all. What it bounds is
/// what offline double spends can cost: at most the daily cap per till per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineAllowance {
    /// The store's zone: the daily cap counts store-local days.
    pub time_zone: Tz,
    /// A redemption worth more than this (its discount, minor units) is refused offline.
    pub max_discount_minor: Option<u64>,
    /// Everything is refused once the till's last sync is older than this (or it never
    /// synced, or its clock now reads earlier than at that sync).
    pub max_since_sync: Option<Duration>,
    /// The most discount this till gives offline per store-local day, minor units: a
    /// redemption that would pass it is refused.
    pub daily_discount_cap_minor: Option<u64>,
}

impl OfflineAllowance {
    /// No limit but vouchers flagged online-only; days counted in `time_zone`.
    pub fn new(time_zone: Tz) -> Self {
        OfflineAllowance {
            time_zone,
            max_discount_minor: None,
            max_since_sync: None,
            daily_discount_cap_minor: None,
        }
    }

    /// Refuses a redemption worth more than `minor` offline.
    pub fn max_discount(mut self, minor: u64) -> Self {
        self.max_discount_minor = Some(minor);
        self
    }

    /// Refuses everything once the last sync is older than `age`.
    pub fn max_since_sync(mut self, age: Duration) -> Self {
        self.max_since_sync = Some(age);
        self
    }

    /// Caps the discount given offline per store-local day.
    pub fn daily_discount_cap(mut self, minor: u64) -> Self {
        self.daily_discount_cap_minor = Some(minor);
        self
    }

    /// The store-local day of `at`, whose offline discounts the cap sums.
    pub fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    /// Why a redemption of `voucher` worth `discount_minor` at `at` is refused offline, if it
    /// is: `last_sync` is when the till last applied an acknowledgement, `given_today_minor`
    /// the discount it already gave offline on [`OfflineAllowance::day_of`] `at`.
    pub fn refusal(
        &self,
        voucher: &Voucher,
        discount_minor: u64,
        at: DateTime<Utc>,
        last_sync: Option<DateTime<Utc>>,
        given_today_minor: u64,
    ) -> Option<Rejection> {
        let stale = self
            .max_since_sync
            .is_some_and(|age| last_sync.is_none_or(|synced| synced > at || at - synced > age));
        let too_big = self
            .max_discount_minor
            .is_some_and(|max| discount_minor > max);
        let over_cap = self
            .daily_discount_cap_minor
            .is_some_and(|cap| given_today_minor.saturating_add(discount_minor) > cap);
        (voucher.state.online_only || stale || too_big || over_cap)
            .then_some(Rejection::OnlineRequired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{MerchantId, VoucherId};
    use crate::money::Currency;
    use crate::voucher::Benefit;

    fn voucher() -> Voucher {
        Voucher::new(
            VoucherId(1),
            MerchantId(1),
            Currency::CNY,
            Benefit::AmountOff { minor: 500 },
        )
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn each_limit_refuses_only_past_its_bound() {
        let policy = OfflineAllowance::new(chrono_tz::Asia::Shanghai)
            .max_discount(1_000)
            .max_since_sync(Duration::hours(12))
            .daily_discount_cap(2_000);
        let now = at("2026-12-01T10:00:00Z");
        let synced = Some(at("2026-12-01T00:00:00Z"));
        let ok = |discount, last, given| policy.refusal(&voucher(), discount, now, last, given);
        assert_eq!(ok(1_000, synced, 1_000), None);
        assert_eq!(ok(1_001, synced, 0), Some(Rejection::OnlineRequired));
        assert_eq!(ok(500, synced, 1_501), Some(Rejection::OnlineRequired));
        assert_eq!(ok(500, None, 0), Some(Rejection::OnlineRequired));
        assert_eq!(
            ok(500, Some(at("2026-11-30T21:59:59Z")), 0),
            Some(Rejection::OnlineRequired)
        );
        assert_eq!(ok(500, Some(at("2026-11-30T22:00:00Z")), 0), None);
        // A clock set back since the last sync cannot stretch the time allowed.
        assert_eq!(
            ok(500, Some(at("2026-12-01T10:00:01Z")), 0),
            Some(Rejection::OnlineRequired)
        );
        assert_eq!(
            policy.refusal(&voucher().online_only(), 1, now, synced, 0),
            Some(Rejection::OnlineRequired)
        );
    }

    #[test]
    fn days_are_store_local() {
        let policy = OfflineAllowance::new(chrono_tz::Asia::Shanghai);
        // 23:30 UTC is 07:30 the next day in Shanghai.
        assert_eq!(
            policy.day_of(at("2026-12-01T23:30:00Z")),
            "2026-12-02".parse::<NaiveDate>().unwrap()
        );
        assert_eq!(
            OfflineAllowance::new(chrono_tz::Asia::Shanghai).refusal(
                &voucher(),
                10_000_000,
                at("2026-12-01T00:00:00Z"),
                None,
                u64::MAX
            ),
            None
        );
    }
}
