//! In-store check-in codes: the QR code on a store's screen that proves a visit.
//!
//! A **rotating** code is a signed token of (store, time step): the screen shows a new one
//! every [`CheckInPolicy::period_secs`] seconds, TOTP-like. A phone that scans it within the
//! tolerance ([`CheckInPolicy::skew_steps`] steps either side, for clock drift and slow scans)
//! proves it was in front of the screen; a photo of it shared online goes stale within
//! `period × (skew + 1)` seconds and is refused as [`Rejection::StaleCode`]. A **printed**
//! (static) code carries no time step: scanning it is accepted but marked
//! [`Presence::Unproven`], unless the phone's reported position lies within the store's
//! geofence ([`Presence::Geofenced`]).
//!
//! Replays of a still-fresh code (one person scanning twice) are a ledger matter: the ledger
//! records at most one check-in visit per member, store and clock hour ([`visit_hour`]),
//! refusing the same code scanned again as [`Rejection::ReplayedCode`] for as long as the code
//! stays valid (and after), and another code within the hour, or in an hour before the
//! member's latest check-in at that store, as [`Rejection::AlreadyCheckedIn`] (see
//! [`crate::Ledger::check_in`]), so standing in front of the screen does not pile up visits
//! and a till clock stepped back does not open a new hour.

use crate::ids::StoreId;
use crate::keys::{Keyring, Scope, Verifier};
use crate::region::{GeoPoint, Geofence};
use crate::rejection::Rejection;
use crate::token::wire::Reader;
use crate::token::{Token, TokenError, TokenKind};
use crate::voucher::open_text;
use chrono::{DateTime, Utc};
use std::num::NonZeroU32;

/// How rotating codes rotate and how much drift is tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckInPolicy {
    /// Seconds each code is shown: never zero, by its type.
    pub period_secs: NonZeroU32,
    /// Steps accepted either side of the current one.
    pub skew_steps: u32,
}

impl Default for CheckInPolicy {
    /// A new code every 30 seconds, one step of tolerance either side.
    fn default() -> Self {
        CheckInPolicy {
            period_secs: NonZeroU32::MIN.saturating_add(29),
            skew_steps: 1,
        }
    }
}

impl CheckInPolicy {
    /// A policy of a new code every `period_secs` seconds, `skew_steps` steps of tolerance.
    ///
    /// # Errors
    /// [`crate::Error::InvalidInput`] when `period_secs` is 0.
    pub fn new(period_secs: u32, skew_steps: u32) -> Result<Self, crate::Error> {
        let period_secs = NonZeroU32::new(period_secs).ok_or_else(|| {
            crate::Error::InvalidInput("a check-in code's period_secs must be at least 1".into())
        })?;
        Ok(CheckInPolicy {
            period_secs,
            skew_steps,
        })
    }

    /// The same as [`CheckInPolicy::new`] for a period known to be non-zero; usable in a
    /// `const`.
    pub const fn every(period_secs: NonZeroU32, skew_steps: u32) -> Self {
        CheckInPolicy {
            period_secs,
            skew_steps,
        }
    }

    /// The time step of `at`.
    pub fn step_at(&self, at: DateTime<Utc>) -> u64 {
        (at.timestamp().max(0) as u64) / u64::from(self.period_secs.get())
    }
}

/// How well a check-in proves the customer was in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// A fresh rotating code: it was on the store's screen moments ago.
    Proven,
    /// A printed code checked against the phone's position inside the store's geofence.
    Geofenced,
    /// A printed code with no position: could have been photographed anywhere.
    Unproven,
}

/// An accepted check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckIn {
    /// The store checked into.
    pub store: StoreId,
    /// How well it proves presence.
    pub presence: Presence,
    /// The code's time step (`None` for a printed code).
    pub step: Option<u64>,
}

/// The clock hour (Unix seconds / 3600) a check-in at `at` counts in: the ledger records at
/// most one check-in visit per member, store and hour.
pub fn visit_hour(at: DateTime<Utc>) -> u64 {
    at.timestamp().max(0) as u64 / 3600
}

const STATIC: u64 = u64::MAX;

fn seal(keyring: &Keyring, store: StoreId, step: u64) -> Result<Token, crate::Error> {
    keyring.seal(
        TokenKind::CheckIn,
        keyring.merchant(),
        Scope::Store(store),
        |w| {
            w.varint(u64::from(store.0));
            w.varint(step);
        },
    )
}

/// The rotating code `store` shows at `at`.
///
/// # Errors
/// [`crate::KeyError::NoActiveKey`] (as [`crate::Error::Key`]);
/// [`crate::KeyError::NotPermitted`] when no active key may sign this store's codes.
pub fn rotating_code(
    keyring: &Keyring,
    store: StoreId,
    policy: &CheckInPolicy,
    at: DateTime<Utc>,
) -> Result<Token, crate::Error> {
    seal(keyring, store, policy.step_at(at))
}

/// A printed (static) code for `store`.
///
/// # Errors
/// [`crate::KeyError::NoActiveKey`] (as [`crate::Error::Key`]).
pub fn printed_code(keyring: &Keyring, store: StoreId) -> Result<Token, crate::Error> {
    seal(keyring, store, STATIC)
}

/// Verifies a scanned check-in code at `at` for `expected_store` (the store the app believes
/// the customer is in, if it knows), with the phone's `position` and the store's `fence` for
/// printed codes.
///
/// # Errors
/// The [`Rejection`]: signature-stage reasons, [`Rejection::WrongStore`],
/// [`Rejection::StaleCode`], [`Rejection::FutureCode`]; [`Rejection::KeyNotPermitted`] for a
/// code signed with another store's check-in key.
pub fn verify_check_in<V: Verifier + ?Sized>(
    text: &str,
    keyring: &V,
    policy: &CheckInPolicy,
    at: DateTime<Utc>,
    expected_store: Option<StoreId>,
    position: Option<(GeoPoint, Geofence)>,
) -> Result<CheckIn, Rejection> {
    let (body, role) = open_text(text, keyring, TokenKind::CheckIn)?;
    let mut r = Reader::new(&body);
    let fields = (|| {
        let store = StoreId(r.varint_u32("store")?);
        let step = r.varint("step")?;
        if !r.is_empty() {
            return Err(TokenError::TrailingBytes);
        }
        Ok((store, step))
    })();
    let (store, step) = fields.map_err(|e| crate::voucher::rejection_of_token_error(&e))?;
    if !role.permits(TokenKind::CheckIn, Scope::Store(store)) {
        return Err(Rejection::KeyNotPermitted);
    }
    if expected_store.is_some_and(|s| s != store) {
        return Err(Rejection::WrongStore);
    }
    if step == STATIC {
        let presence = match position {
            Some((phone, fence)) if fence.contains(&phone) => Presence::Geofenced,
            _ => Presence::Unproven,
        };
        return Ok(CheckIn {
            store,
            presence,
            step: None,
        });
    }
    let now = policy.step_at(at);
    let skew = u64::from(policy.skew_steps);
    if step + skew < now {
        return Err(Rejection::StaleCode);
    }
    if step > now + skew {
        return Err(Rejection::FutureCode);
    }
    Ok(CheckIn {
        store,
        presence: Presence::Proven,
        step: Some(step),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{KeyId, MerchantId};
    use crate::keys::SigningKey;

    fn ring() -> Keyring {
        Keyring::with_active_key(
            MerchantId(88),
            KeyId(1),
            SigningKey::from_bytes(&[3; 32]).unwrap(),
        )
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn rotating_codes_expire_outside_the_tolerance() {
        let ring = ring();
        let policy = CheckInPolicy::default(); // 30 s, ±1 step
        let shown = t("2026-06-15T04:00:10Z"); // step covers :00–:30
        let code = rotating_code(&ring, StoreId(7), &policy, shown)
            .unwrap()
            .to_scanner_text();
        let check =
            |at: &str| verify_check_in(&code, &ring, &policy, t(at), Some(StoreId(7)), None);
        assert_eq!(
            check("2026-06-15T04:00:10Z").unwrap().presence,
            Presence::Proven
        );
        // The next step is tolerated, the one after is stale.
        assert!(check("2026-06-15T04:00:59Z").is_ok());
        assert_eq!(check("2026-06-15T04:01:00Z"), Err(Rejection::StaleCode));
        // A phone clock one step behind is tolerated, two are not.
        assert!(check("2026-06-15T03:59:30Z").is_ok());
        assert_eq!(check("2026-06-15T03:59:29Z"), Err(Rejection::FutureCode));
    }

    #[test]
    fn a_code_from_another_store_or_merchant_is_refused() {
        let ring = ring();
        let policy = CheckInPolicy::default();
        let now = t("2026-06-15T04:00:00Z");
        let code = rotating_code(&ring, StoreId(7), &policy, now)
            .unwrap()
            .to_scanner_text();
        assert_eq!(
            verify_check_in(&code, &ring, &policy, now, Some(StoreId(8)), None),
            Err(Rejection::WrongStore)
        );
        let other = Keyring::with_active_key(
            MerchantId(89),
            KeyId(1),
            SigningKey::from_bytes(&[3; 32]).unwrap(),
        );
        assert_eq!(
            verify_check_in(&code, &other, &policy, now, None, None),
            Err(Rejection::WrongMerchant)
        );
        // A voucher is not a check-in code.
        let voucher = crate::Voucher::new(
            crate::VoucherId(1),
            MerchantId(88),
            crate::Currency::CNY,
            crate::Benefit::AmountOff { minor: 1 },
        )
        .sign(&ring)
        .unwrap()
        .to_scanner_text();
        assert_eq!(
            verify_check_in(&voucher, &ring, &policy, now, None, None),
            Err(Rejection::WrongKind)
        );
    }

    #[test]
    fn printed_codes_are_unproven_unless_geofenced() {
        let ring = ring();
        let policy = CheckInPolicy::default();
        let code = printed_code(&ring, StoreId(7)).unwrap().to_scanner_text();
        let now = t("2030-01-01T00:00:00Z");
        let result = verify_check_in(&code, &ring, &policy, now, None, None).unwrap();
        assert_eq!((result.presence, result.step), (Presence::Unproven, None));
        let store_at = GeoPoint::from_degrees(22.5329, 113.9305).unwrap();
        let fence = Geofence {
            center: store_at,
            radius_m: 150,
        };
        let inside = GeoPoint::from_degrees(22.5335, 113.9305).unwrap(); // ~67 m north
        let outside = GeoPoint::from_degrees(22.5400, 113.9305).unwrap(); // ~790 m north
        let at = |phone| {
            verify_check_in(&code, &ring, &policy, now, None, Some((phone, fence)))
                .unwrap()
                .presence
        };
        assert_eq!(at(inside), Presence::Geofenced);
        assert_eq!(at(outside), Presence::Unproven);
    }
}
