//! Electronic vouchers (电子凭证): the model, its limits, its signed token and its
//! verification at the till.
//!
//! A [`Voucher`] is built by the merchant's backend, signed into a [`Token`] with the
//! merchant's [`Keyring`], handed to the customer (usually as a QR code of the token's scanner
//! text), and checked at the till by [`verify`], a pure function of the scanned text, the
//! keyring and a [`RedemptionContext`]. Whether it is still unused is the ledger's business.

mod benefit;
mod codec;
mod limits;
mod verify;

pub use benefit::Benefit;
pub use limits::{
    CategoryRule, Conditions, DailyWindow, RegionLimits, StateLimits, TimeLimits, WeekdaySet,
};
pub use verify::{
    Acceptance, Basket, BasketLine, Decision, MemberContext, RedemptionContext, verify,
    verify_token,
};

use crate::error::Error;
use crate::ids::{CampaignId, CategoryId, MemberId, MerchantId, StoreId, VoucherId};
use crate::keys::{AuthError, KeyRole, Keyring, Scope, Verifier};
use crate::local_time::LocalDateTime;
use crate::membership::member::Tier;
use crate::money::Currency;
use crate::region::{Geofence, RegionCode};
use crate::rejection::Rejection;
use crate::token::{Token, TokenError, TokenKind};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Why a voucher cannot be signed: its fields contradict each other or exceed what a token
/// carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VoucherError {
    /// A benefit worth nothing (zero amount, zero percent, zero quantity, a zero cap).
    #[error("the benefit is empty: {0}")]
    EmptyBenefit(&'static str),
    /// More than 100% off.
    #[error("percent off above 100%: {0} basis points")]
    PercentAboveHundred(u16),
    /// `valid_from` is not before `valid_until`.
    #[error("validity window is empty: from {from} until {until}")]
    EmptyValidity {
        /// Start of validity.
        from: LocalDateTime,
        /// End of validity.
        until: LocalDateTime,
    },
    /// A weekday limit with no day in it.
    #[error("weekday limit has no days")]
    NoWeekdays,
    /// A category rule (`Only` or `Except`) with no category.
    #[error("category rule lists no category")]
    NoCategories,
    /// Zero total or per-member uses.
    #[error("a use limit of zero")]
    ZeroUses,
    /// A geofence of radius zero.
    #[error("geofence radius is zero")]
    EmptyGeofence,
    /// A list longer than a token carries.
    #[error("too many {field}: {count} (at most {max})")]
    TooMany {
        /// Which list.
        field: &'static str,
        /// How many were given.
        count: usize,
        /// The most allowed.
        max: usize,
    },
}

/// The most daily windows a voucher carries.
pub const MAX_DAILY_WINDOWS: usize = 8;
/// The most entries in each of a voucher's lists (stores, regions, categories).
pub const MAX_LIST_LEN: usize = 64;

/// An electronic voucher: who issued it, what it gives, whom it is for, and its limits.
///
/// Build one with [`Voucher::new`] and the chaining methods, then [`Voucher::sign`] it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voucher {
    /// The voucher's id, unique within the merchant; the ledger keys its state by it.
    pub id: VoucherId,
    /// The issuing merchant.
    pub merchant: MerchantId,
    /// The campaign that issued it, for analytics.
    pub campaign: Option<CampaignId>,
    /// The currency of every amount in the voucher.
    pub currency: Currency,
    /// What it gives.
    pub benefit: Benefit,
    /// The only member who may use it, if bound.
    pub member: Option<MemberId>,
    /// When it may be used.
    pub time: TimeLimits,
    /// Where it may be used.
    pub region: RegionLimits,
    /// Conditions on member and basket.
    pub conditions: Conditions,
    /// How often it may be used.
    pub state: StateLimits,
}

impl Voucher {
    /// A voucher with no limits except its use count: single use, or practically unlimited
    /// spends for [`Benefit::StoredValue`] (whose value is the limit).
    pub fn new(id: VoucherId, merchant: MerchantId, currency: Currency, benefit: Benefit) -> Self {
        let max_uses = match benefit {
            Benefit::StoredValue { .. } => u32::MAX,
            _ => 1,
        };
        Voucher {
            id,
            merchant,
            campaign: None,
            currency,
            benefit,
            member: None,
            time: TimeLimits::default(),
            region: RegionLimits::default(),
            conditions: Conditions::default(),
            state: StateLimits {
                max_uses,
                max_uses_per_member: None,
                online_only: false,
            },
        }
    }

    /// Records the campaign that issues it.
    pub fn campaign(mut self, campaign: CampaignId) -> Self {
        self.campaign = Some(campaign);
        self
    }

    /// Binds it to one member.
    pub fn for_member(mut self, member: MemberId) -> Self {
        self.member = Some(member);
        self
    }

    /// Valid from `from` (inclusive) until `until` (exclusive), store-local wall clock.
    pub fn valid_between(mut self, from: LocalDateTime, until: LocalDateTime) -> Self {
        self.time.valid_from = Some(from);
        self.time.valid_until = Some(until);
        self
    }

    /// Valid for `days` days from `issued_at`: from the issue minute on the wall clock of
    /// `zone` (the merchant's zone) to the same wall-clock minute `days` days later. Resolved
    /// now, so the token carries plain wall-clock bounds.
    ///
    /// # Errors
    /// [`Error::LocalTime`] when the bounds fall outside the supported range.
    pub fn valid_for_days(
        mut self,
        issued_at: DateTime<Utc>,
        zone: Tz,
        days: u32,
    ) -> Result<Self, Error> {
        let from = LocalDateTime::of_instant(issued_at, zone)?;
        self.time.valid_from = Some(from);
        self.time.valid_until = Some(from.plus_days(days)?);
        Ok(self)
    }

    /// Valid only on these days of the week (store-local).
    pub fn on_weekdays(mut self, days: WeekdaySet) -> Self {
        self.time.weekdays = Some(days);
        self
    }

    /// Adds a daily window it is valid in (store-local).
    pub fn during(mut self, window: DailyWindow) -> Self {
        self.time.hours.push(window);
        self
    }

    /// Valid only in these stores.
    pub fn at_stores(mut self, stores: impl IntoIterator<Item = StoreId>) -> Self {
        self.region.stores.extend(stores);
        self
    }

    /// Valid only in stores inside one of these regions.
    pub fn in_regions(mut self, regions: impl IntoIterator<Item = RegionCode>) -> Self {
        self.region.regions.extend(regions);
        self
    }

    /// Valid only in stores inside the circle.
    pub fn within(mut self, fence: Geofence) -> Self {
        self.region.geofence = Some(fence);
        self
    }

    /// Needs at least `minor` of spend that counts.
    pub fn min_spend(mut self, minor: u64) -> Self {
        self.conditions.min_spend_minor = minor;
        self
    }

    /// Only lines of these categories count toward the minimum spend and the discount.
    pub fn only_categories(mut self, categories: impl IntoIterator<Item = CategoryId>) -> Self {
        self.conditions.categories = CategoryRule::Only(categories.into_iter().collect());
        self
    }

    /// Lines of these categories do not count toward the minimum spend and the discount.
    pub fn except_categories(mut self, categories: impl IntoIterator<Item = CategoryId>) -> Self {
        self.conditions.categories = CategoryRule::Except(categories.into_iter().collect());
        self
    }

    /// Needs a member of at least this tier.
    pub fn min_tier(mut self, tier: Tier) -> Self {
        self.conditions.min_tier = Some(tier);
        self
    }

    /// Only for new members: those who have bought nothing yet (see [`MemberContext::is_new`];
    /// the check-in that enrolled them does not count). The definition is in
    /// `docs/metrics.md`.
    pub fn new_members_only(mut self) -> Self {
        self.conditions.new_members_only = true;
        self
    }

    /// Refused in a basket that holds other vouchers.
    pub fn not_combinable(mut self) -> Self {
        self.conditions.not_combinable = true;
        self
    }

    /// May be used `uses` times in all.
    pub fn max_uses(mut self, uses: u32) -> Self {
        self.state.max_uses = uses;
        self
    }

    /// May be redeemed only online, by the chain's shared ledger: a till working offline
    /// refuses it ([`crate::Rejection::OnlineRequired`]).
    pub fn online_only(mut self) -> Self {
        self.state.online_only = true;
        self
    }

    /// May be used `uses` times per member.
    pub fn max_uses_per_member(mut self, uses: u32) -> Self {
        self.state.max_uses_per_member = Some(uses);
        self
    }

    /// Checks that the fields are consistent and fit in a token.
    ///
    /// # Errors
    /// The first [`VoucherError`] found.
    pub fn validate(&self) -> Result<(), VoucherError> {
        match self.benefit {
            Benefit::AmountOff { minor: 0 } | Benefit::StoredValue { minor: 0 } => {
                return Err(VoucherError::EmptyBenefit("amount is zero"));
            }
            Benefit::PercentOff {
                basis_points: 0, ..
            } => {
                return Err(VoucherError::EmptyBenefit("percent is zero"));
            }
            Benefit::PercentOff { basis_points, .. } if basis_points > 10_000 => {
                return Err(VoucherError::PercentAboveHundred(basis_points));
            }
            Benefit::PercentOff {
                cap_minor: Some(0), ..
            } => return Err(VoucherError::EmptyBenefit("cap is zero")),
            Benefit::GiftItem { quantity: 0, .. } => {
                return Err(VoucherError::EmptyBenefit("quantity is zero"));
            }
            _ => {}
        }
        if let (Some(from), Some(until)) = (self.time.valid_from, self.time.valid_until)
            && from >= until
        {
            return Err(VoucherError::EmptyValidity { from, until });
        }
        if self.time.weekdays.is_some_and(WeekdaySet::is_empty) {
            return Err(VoucherError::NoWeekdays);
        }
        let too_many = |field, count, max| {
            if count > max {
                Err(VoucherError::TooMany { field, count, max })
            } else {
                Ok(())
            }
        };
        too_many("daily windows", self.time.hours.len(), MAX_DAILY_WINDOWS)?;
        too_many("stores", self.region.stores.len(), MAX_LIST_LEN)?;
        too_many("regions", self.region.regions.len(), MAX_LIST_LEN)?;
        if self.region.geofence.is_some_and(|g| g.radius_m == 0) {
            return Err(VoucherError::EmptyGeofence);
        }
        match &self.conditions.categories {
            CategoryRule::Only(list) | CategoryRule::Except(list) if list.is_empty() => {
                return Err(VoucherError::NoCategories);
            }
            CategoryRule::Only(list) | CategoryRule::Except(list) => {
                too_many("categories", list.len(), MAX_LIST_LEN)?;
            }
            CategoryRule::All => {}
        }
        if self.state.max_uses == 0 || self.state.max_uses_per_member == Some(0) {
            return Err(VoucherError::ZeroUses);
        }
        Ok(())
    }

    /// Signs the voucher with the keyring's active key.
    ///
    /// # Example
    /// ```
    /// use o2okit::*;
    ///
    /// let ring = Keyring::with_active_key(MerchantId(7), KeyId(1), SigningKey::from_bytes(&[9; 32])?);
    /// let token = Voucher::new(VoucherId(42), MerchantId(7), Currency::CNY,
    ///         Benefit::AmountOff { minor: 2_000 })
    ///     .max_uses(1)
    ///     .sign(&ring)?;
    /// let text = token.to_scanner_text(); // for the QR code: digits and capitals only
    /// assert!(text.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
    /// assert_eq!(text.parse::<Token>()?, token);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Voucher`] when [`Voucher::validate`] fails; [`Error::Key`] when the keyring has
    /// no active key whose role covers this voucher ([`crate::KeyError::NotPermitted`]: a
    /// store's key and a voucher valid elsewhere) or belongs to another merchant.
    pub fn sign(&self, keyring: &Keyring) -> Result<Token, Error> {
        self.validate()?;
        let scope = Scope::VoucherStores(&self.region.stores);
        keyring.seal(TokenKind::Voucher, self.merchant, scope, |w| {
            codec::encode_body(self, w)
        })
    }

    /// Authenticates a token and reads the voucher in it, without checking any limit.
    ///
    /// # Errors
    /// The [`Rejection`] of the signature stage: malformed, wrong kind or merchant, unknown or
    /// retired key, bad signature, or a key whose role does not cover this voucher
    /// ([`Rejection::KeyNotPermitted`]).
    pub fn open<V: Verifier + ?Sized>(token: &Token, keys: &V) -> Result<Voucher, Rejection> {
        Self::open_bytes(token.as_bytes(), keys)
    }

    /// [`Voucher::open`] on a token's bytes.
    pub(crate) fn open_bytes<V: Verifier + ?Sized>(
        token: &[u8],
        keys: &V,
    ) -> Result<Voucher, Rejection> {
        let opened =
            crate::keys::open(keys, token, TokenKind::Voucher).map_err(rejection_of_auth)?;
        let voucher = codec::decode_body(opened.body, keys.merchant())
            .map_err(|e| rejection_of_token_error(&e))?;
        let scope = Scope::VoucherStores(&voucher.region.stores);
        if !opened.role.permits(TokenKind::Voucher, scope) {
            return Err(Rejection::KeyNotPermitted);
        }
        Ok(voucher)
    }
}

pub(crate) fn rejection_of_auth(error: AuthError) -> Rejection {
    match error {
        AuthError::Malformed(e) => rejection_of_token_error(&e),
        AuthError::WrongKind => Rejection::WrongKind,
        AuthError::WrongMerchant => Rejection::WrongMerchant,
        AuthError::UnknownKey => Rejection::UnknownKey,
        AuthError::RetiredKey => Rejection::RetiredKey,
        AuthError::BadSignature => Rejection::BadSignature,
        AuthError::NotPermitted => Rejection::KeyNotPermitted,
    }
}

/// Parses scanned text, checks its kind, merchant, key and signature, and returns the
/// authenticated body with the signing key's role: the signature stage every kind of token
/// goes through.
pub(crate) fn open_text<V: Verifier + ?Sized>(
    text: &str,
    keys: &V,
    kind: TokenKind,
) -> Result<(Vec<u8>, KeyRole), Rejection> {
    let token = Token::parse(text).map_err(|e| rejection_of_token_error(&e))?;
    crate::keys::open(keys, token.as_bytes(), kind)
        .map(|opened| (opened.body.to_vec(), opened.role))
        .map_err(rejection_of_auth)
}

pub(crate) fn rejection_of_token_error(error: &TokenError) -> Rejection {
    match error {
        TokenError::UnsupportedVersion(_) | TokenError::UnsupportedScheme(_) => {
            Rejection::UnsupportedVersion
        }
        TokenError::UnknownKind(_) => Rejection::WrongKind,
        _ => Rejection::Malformed,
    }
}
