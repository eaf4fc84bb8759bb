//! The state of one voucher as the ledger keeps it, and the pure rules that move it.
//!
//! Both ledger implementations load a [`VoucherRecord`], ask it whether a redemption or a void
//! may happen, apply the change and store it back — inside one transaction. The rules live here
//! once, so the in-memory and the SQLite ledger cannot disagree.

use super::LedgerError;
use crate::ids::{CampaignId, MemberId, VoucherId};
use crate::local_time::LocalDateTime;
use crate::rejection::Rejection;
use crate::voucher::{Benefit, Voucher};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The state limits a voucher's token carries, copied into the ledger the first time the
/// voucher is seen (at issue, or at its first redemption if it was signed offline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    /// Total uses allowed.
    pub max_uses: u32,
    /// Uses allowed per member, if limited.
    pub max_uses_per_member: Option<u32>,
    /// Face value of a stored-value voucher, minor units.
    pub face_value_minor: Option<u64>,
    /// End of validity, store-local, if any.
    pub valid_until: Option<LocalDateTime>,
    /// The issuing campaign.
    pub campaign: Option<CampaignId>,
}

impl Terms {
    /// The terms a voucher carries.
    pub fn of(voucher: &Voucher) -> Self {
        Terms {
            max_uses: voucher.state.max_uses,
            max_uses_per_member: voucher.state.max_uses_per_member,
            face_value_minor: match voucher.benefit {
                Benefit::StoredValue { minor } => Some(minor),
                _ => None,
            },
            valid_until: voucher.time.valid_until,
            campaign: voucher.campaign,
        }
    }
}

/// Where a voucher is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VoucherStatus {
    /// Never used (or every use voided).
    Issued,
    /// Used, with uses or value left.
    PartiallyRedeemed,
    /// Every use or all its value spent.
    Exhausted,
    /// Revoked by the merchant.
    Revoked,
    /// Past its validity on the store's clock (derived from time, never stored).
    Expired,
}

/// One voucher's state in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherRecord {
    /// The voucher.
    pub voucher: VoucherId,
    /// Its state limits; `None` for a voucher revoked before the ledger ever saw it.
    pub terms: Option<Terms>,
    /// Redemptions that count (not voided).
    pub uses: u32,
    /// Stored value spent by redemptions that count, minor units.
    pub value_spent_minor: u64,
    /// When it was recorded as issued, if it was.
    pub issued_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A redemption the record admits: how much value it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admitted {
    pub(crate) amount_minor: u64,
}

impl VoucherRecord {
    /// A record for a voucher first seen now.
    pub fn new(voucher: VoucherId, terms: Option<Terms>) -> Self {
        VoucherRecord {
            voucher,
            terms,
            uses: 0,
            value_spent_minor: 0,
            issued_at: None,
            revoked_at: None,
        }
    }

    /// The record after `voucher` is recorded as issued at `at` (no change if it was before).
    ///
    /// # Errors
    /// [`LedgerError::VoucherConflict`] when the record holds other terms.
    pub(crate) fn issued(
        existing: Option<VoucherRecord>,
        voucher: &Voucher,
        at: DateTime<Utc>,
    ) -> Result<VoucherRecord, LedgerError> {
        let terms = Terms::of(voucher);
        let mut record = existing.unwrap_or_else(|| VoucherRecord::new(voucher.id, Some(terms)));
        match record.terms {
            Some(held) if held != terms => return Err(LedgerError::VoucherConflict(voucher.id)),
            None => record.terms = Some(terms),
            Some(_) => {}
        }
        record.issued_at.get_or_insert(at);
        Ok(record)
    }

    /// The record a redemption of `voucher` starts from: the stored one, or a new one for a
    /// voucher signed offline and never recorded. A revoked voucher stays without terms.
    pub(crate) fn for_redemption(
        existing: Option<VoucherRecord>,
        voucher: &Voucher,
    ) -> VoucherRecord {
        let mut record = existing.unwrap_or_else(|| VoucherRecord::new(voucher.id, None));
        if record.terms.is_none() && record.revoked_at.is_none() {
            record.terms = Some(Terms::of(voucher));
        }
        record
    }

    /// Stored value left, for a stored-value voucher.
    pub fn value_left_minor(&self) -> Option<u64> {
        let face = self.terms?.face_value_minor?;
        Some(face.saturating_sub(self.value_spent_minor))
    }

    /// Uses left.
    pub fn uses_left(&self) -> u32 {
        self.terms
            .map_or(0, |t| t.max_uses.saturating_sub(self.uses))
    }

    /// The status at `at` on the clock of a store in `zone`.
    pub fn status(&self, at: DateTime<Utc>, zone: Tz) -> VoucherStatus {
        if self.revoked_at.is_some() {
            return VoucherStatus::Revoked;
        }
        let exhausted = self.uses_left() == 0 || self.value_left_minor() == Some(0);
        if exhausted {
            return VoucherStatus::Exhausted;
        }
        let valid_until = self.terms.and_then(|t| t.valid_until);
        if valid_until.is_some_and(|until| until.is_reached_at(zone, at)) {
            return VoucherStatus::Expired;
        }
        if self.uses == 0 {
            VoucherStatus::Issued
        } else {
            VoucherStatus::PartiallyRedeemed
        }
    }

    /// Whether a redemption may happen now, and for how much. `member_uses` counts the
    /// presenting member's redemptions that count; `requested_minor` is the verified discount
    /// (or, for stored value, the amount the customer wants to spend).
    pub(crate) fn admit(
        &self,
        member: Option<MemberId>,
        member_uses: u32,
        requested_minor: u64,
    ) -> Result<Admitted, Rejection> {
        if self.revoked_at.is_some() {
            return Err(Rejection::Revoked);
        }
        let terms = self.terms.ok_or(Rejection::Revoked)?;
        if self.uses >= terms.max_uses {
            return Err(Rejection::AlreadyUsed);
        }
        if let Some(limit) = terms.max_uses_per_member {
            if member.is_none() {
                return Err(Rejection::MemberRequired);
            }
            if member_uses >= limit {
                return Err(Rejection::MemberLimitReached);
            }
        }
        let amount_minor = match self.value_left_minor() {
            Some(0) => return Err(Rejection::NoValueLeft),
            Some(left) => requested_minor.min(left),
            None => requested_minor,
        };
        Ok(Admitted { amount_minor })
    }

    /// Applies an admitted redemption.
    pub(crate) fn apply_redemption(&mut self, admitted: Admitted) {
        self.uses += 1;
        if self.value_left_minor().is_some() {
            self.value_spent_minor += admitted.amount_minor;
        }
    }

    /// Reverses a redemption of `amount_minor` (a refund). Never takes the use count below
    /// zero nor the spent value below nothing: a record that would is inconsistent.
    pub(crate) fn apply_void(&mut self, amount_minor: u64) -> Result<(), String> {
        self.uses = self
            .uses
            .checked_sub(1)
            .ok_or_else(|| format!("voucher {} has no use to void", self.voucher))?;
        if self.value_left_minor().is_some() {
            self.value_spent_minor = self
                .value_spent_minor
                .checked_sub(amount_minor)
                .ok_or_else(|| {
                    format!("voucher {} has less value spent than voided", self.voucher)
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(max_uses: u32, face: Option<u64>) -> Terms {
        Terms {
            max_uses,
            max_uses_per_member: None,
            face_value_minor: face,
            valid_until: None,
            campaign: None,
        }
    }

    #[test]
    fn single_use_goes_issued_exhausted_and_back_on_void() {
        let at = "2026-06-01T00:00:00Z".parse().unwrap();
        let zone = chrono_tz::UTC;
        let mut r = VoucherRecord::new(VoucherId(1), Some(terms(1, None)));
        assert_eq!(r.status(at, zone), VoucherStatus::Issued);
        let ok = r.admit(None, 0, 500).unwrap();
        assert_eq!(ok.amount_minor, 500);
        r.apply_redemption(ok);
        assert_eq!(r.status(at, zone), VoucherStatus::Exhausted);
        assert_eq!(r.admit(None, 0, 500), Err(Rejection::AlreadyUsed));
        r.apply_void(500).unwrap();
        assert_eq!(r.status(at, zone), VoucherStatus::Issued);
        assert!(r.apply_void(500).is_err());
        assert_eq!(r.uses, 0);
    }

    #[test]
    fn stored_value_is_spent_in_parts_and_never_below_zero() {
        let mut r = VoucherRecord::new(VoucherId(2), Some(terms(u32::MAX, Some(10_000))));
        let first = r.admit(None, 0, 3_000).unwrap();
        r.apply_redemption(first);
        let second = r.admit(None, 0, 9_000).unwrap();
        assert_eq!(second.amount_minor, 7_000);
        r.apply_redemption(second);
        assert_eq!(r.value_left_minor(), Some(0));
        assert_eq!(r.admit(None, 0, 1), Err(Rejection::NoValueLeft));
        r.apply_void(3_000).unwrap();
        assert_eq!(r.value_left_minor(), Some(3_000));
    }

    #[test]
    fn revoked_and_unknown_terms_refuse() {
        let mut r = VoucherRecord::new(VoucherId(3), Some(terms(5, None)));
        r.revoked_at = Some("2026-06-01T00:00:00Z".parse().unwrap());
        assert_eq!(r.admit(None, 0, 1), Err(Rejection::Revoked));
        let blind = VoucherRecord::new(VoucherId(4), None);
        assert_eq!(blind.admit(None, 0, 1), Err(Rejection::Revoked));
    }

    #[test]
    fn expiry_is_derived_on_the_store_clock() {
        let mut t = terms(1, None);
        t.valid_until = Some("2026-07-01T00:00".parse().unwrap());
        let r = VoucherRecord::new(VoucherId(5), Some(t));
        let zone = chrono_tz::Asia::Shanghai;
        let before = "2026-06-30T15:59:59Z".parse().unwrap();
        let after = "2026-06-30T16:00:00Z".parse().unwrap();
        assert_eq!(r.status(before, zone), VoucherStatus::Issued);
        assert_eq!(r.status(after, zone), VoucherStatus::Expired);
    }
}
