//! Verification at the till: a pure function of the scanned text, the merchant's keyring and
//! the redemption context.
//!
//! # Check order
//! The first failing check decides the [`Rejection`]:
//! 1. **Token**: text form, header, format version ([`Rejection::Malformed`],
//!    [`Rejection::UnsupportedVersion`], [`Rejection::WrongKind`]).
//! 2. **Signature**: merchant, key, tag ([`Rejection::WrongMerchant`],
//!    [`Rejection::UnknownKey`], [`Rejection::RetiredKey`], [`Rejection::BadSignature`]).
//!    Nothing in the body is read before the tag has been checked.
//! 3. **Time**, on the store's wall clock: [`Rejection::NotYetValid`],
//!    [`Rejection::Expired`], [`Rejection::WrongWeekday`], [`Rejection::OutsideHours`].
//! 4. **Region**: [`Rejection::WrongStore`], [`Rejection::OutsideRegion`],
//!    [`Rejection::OutsideGeofence`].
//! 5. **Member**: [`Rejection::MemberRequired`], [`Rejection::WrongMember`],
//!    [`Rejection::NotNewMember`], [`Rejection::TierTooLow`].
//! 6. **Basket**: [`Rejection::NotCombinable`], [`Rejection::CurrencyMismatch`],
//!    [`Rejection::BelowMinimumSpend`], [`Rejection::NoEligibleItems`] (no line counts
//!    toward the voucher: a gift limited to categories needs a line in them),
//!    [`Rejection::NoDiscount`] (a percentage that rounds down to nothing).
//!
//! A voucher is never accepted for nothing: an acceptance always gives a discount of at least
//! one minor unit, or a gift item against a basket line that counts.
//!
//! The state limits (uses left, value left, revoked) are the ledger's to enforce, atomically.

use super::Voucher;
use crate::deny_list::DenyList;
use crate::ids::{CategoryId, MemberId, StoreId};
use crate::keys::Verifier;
use crate::local_time::StoreClock;
use crate::membership::member::Tier;
use crate::merchant::Store;
use crate::money::{Currency, Money, MoneyError};
use crate::rejection::Rejection;
use crate::token::Token;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of the basket being paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BasketLine {
    /// The product category, as the POS numbers it.
    pub category: CategoryId,
    /// The line's amount, minor units.
    pub amount_minor: u64,
}

impl BasketLine {
    /// A line of `amount_minor` in `category`.
    pub const fn new(category: CategoryId, amount_minor: u64) -> Self {
        BasketLine {
            category,
            amount_minor,
        }
    }
}

/// The basket at the till: lines in one currency whose total fits in an `i64`.
///
/// In JSON: `{"currency": "CNY", "lines": [{"category": 1, "amount_minor": 1200}]}`; the
/// total is computed, and a basket whose total overflows is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "BasketFields")]
pub struct Basket {
    currency: Currency,
    lines: Vec<BasketLine>,
    total_minor: u64,
}

/// What a basket's JSON holds: its currency and lines (the total is derived).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasketFields {
    currency: Currency,
    lines: Vec<BasketLine>,
    #[serde(default)]
    total_minor: Option<u64>,
}

impl TryFrom<BasketFields> for Basket {
    type Error = String;
    fn try_from(fields: BasketFields) -> Result<Self, String> {
        let basket = Basket::new(fields.currency, fields.lines).map_err(|e| e.to_string())?;
        match fields.total_minor {
            Some(total) if total != basket.total_minor => Err(format!(
                "total_minor {total} is not the sum of the lines, {}",
                basket.total_minor
            )),
            _ => Ok(basket),
        }
    }
}

impl Basket {
    /// A basket of `lines` priced in `currency`.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when the total exceeds `i64::MAX` minor units.
    pub fn new(currency: Currency, lines: Vec<BasketLine>) -> Result<Self, MoneyError> {
        let total_minor = lines
            .iter()
            .try_fold(0u64, |sum, line| sum.checked_add(line.amount_minor))
            .filter(|total| i64::try_from(*total).is_ok())
            .ok_or(MoneyError::Overflow)?;
        Ok(Basket {
            currency,
            lines,
            total_minor,
        })
    }

    /// A basket of one line of category 0.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] above `i64::MAX` minor units.
    pub fn single(currency: Currency, amount_minor: u64) -> Result<Self, MoneyError> {
        Self::new(
            currency,
            vec![BasketLine {
                category: CategoryId(0),
                amount_minor,
            }],
        )
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The lines.
    pub fn lines(&self) -> &[BasketLine] {
        &self.lines
    }

    /// The total, minor units (at most `i64::MAX`).
    pub fn total_minor(&self) -> u64 {
        self.total_minor
    }
}

/// The member presenting the voucher, as the till knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MemberContext {
    /// The member's id (from their membership card).
    pub id: MemberId,
    /// Their current tier.
    pub tier: Tier,
    /// Whether they have bought nothing from this merchant yet (see
    /// [`crate::Ledger::member_context`]): what "new members only" vouchers require.
    pub is_new: bool,
}

impl MemberContext {
    /// Member `id` of `tier`; `is_new` when they have bought nothing yet.
    pub const fn new(id: MemberId, tier: Tier, is_new: bool) -> Self {
        MemberContext { id, tier, is_new }
    }
}

/// Everything about the moment of redemption that a voucher's limits are checked against.
/// The instant comes in as a parameter: verification never reads a clock.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RedemptionContext<'a> {
    /// The store redeeming; its time zone is the clock of every time limit.
    pub store: &'a Store,
    /// The instant of redemption.
    pub at: DateTime<Utc>,
    /// The basket being paid for.
    pub basket: &'a Basket,
    /// The member presenting the voucher, if identified.
    pub member: Option<MemberContext>,
    /// How many other vouchers are in the same basket.
    pub other_vouchers: u32,
    /// The head office's list of revoked and spent vouchers, for a till working offline.
    pub deny_list: Option<&'a DenyList>,
}

impl<'a> RedemptionContext<'a> {
    /// The context of a redemption at `store` at `at` for `basket`, without a member and
    /// without other vouchers (add them with [`RedemptionContext::with_member`] and
    /// [`RedemptionContext::with_other_vouchers`]).
    pub fn new(store: &'a Store, at: DateTime<Utc>, basket: &'a Basket) -> Self {
        RedemptionContext {
            store,
            at,
            basket,
            member: None,
            other_vouchers: 0,
            deny_list: None,
        }
    }

    /// The context with the member presenting the voucher.
    pub fn with_member(mut self, member: MemberContext) -> Self {
        self.member = Some(member);
        self
    }

    /// The context with `count` other vouchers in the same basket.
    pub fn with_other_vouchers(mut self, count: u32) -> Self {
        self.other_vouchers = count;
        self
    }

    /// The context with the deny list the till holds: a voucher it names is refused as
    /// [`Rejection::Revoked`] or [`Rejection::AlreadyUsed`] before any other limit.
    pub fn with_deny_list(mut self, deny_list: &'a DenyList) -> Self {
        self.deny_list = Some(deny_list);
        self
    }
}

/// A voucher that passed every check, with the context it passed in. Only [`verify`] makes
/// one, so a ledger handed an `Acceptance` knows the signature and every limit were checked.
///
/// It serializes (for logs and APIs) but deliberately does not deserialize, and neither does
/// [`Decision`]: an `Acceptance` read from JSON would let anyone who can send JSON redeem a
/// voucher nobody verified. Send the scanned text and verify it where it is redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acceptance {
    voucher: Voucher,
    store: StoreId,
    at: DateTime<Utc>,
    member: Option<MemberId>,
    spend_minor: u64,
    eligible_minor: u64,
    discount_minor: u64,
}

impl Acceptance {
    /// The voucher as signed.
    pub fn voucher(&self) -> &Voucher {
        &self.voucher
    }

    /// The store where it was accepted.
    pub fn store(&self) -> StoreId {
        self.store
    }

    /// The instant it was accepted at.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The member who presented it, if identified.
    pub fn member(&self) -> Option<MemberId> {
        self.member
    }

    /// The basket total, minor units: the visit's spend.
    pub fn spend_minor(&self) -> u64 {
        self.spend_minor
    }

    /// Spend that counts toward the voucher, minor units.
    pub fn eligible_minor(&self) -> u64 {
        self.eligible_minor
    }

    /// The discount to apply, minor units of the voucher's currency: 0 for a gift item; for
    /// stored value, the most that may be spent now (the ledger caps it at what is left).
    pub fn discount_minor(&self) -> u64 {
        self.discount_minor
    }

    /// The discount as money.
    pub fn discount(&self) -> Money {
        // discount ≤ eligible ≤ basket total ≤ i64::MAX
        Money::new(self.discount_minor as i64, self.voucher.currency)
    }
}

/// The outcome of verification.
// Boxing the acceptance would cost an allocation on every accepted scan (measured ~8% of verify).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
#[must_use = "a decision says whether to apply the discount"]
pub enum Decision {
    /// Usable here and now.
    Accepted(Acceptance),
    /// Refused, with the one reason.
    Rejected {
        /// Why.
        reason: Rejection,
    },
}

impl Decision {
    /// The rejection, if refused.
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            Decision::Accepted(_) => None,
            Decision::Rejected { reason } => Some(*reason),
        }
    }

    /// Whether accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Decision::Accepted(_))
    }
}

impl From<Rejection> for Decision {
    fn from(reason: Rejection) -> Self {
        Decision::Rejected { reason }
    }
}

/// Verifies scanned voucher text (scanner form or base64url) in a redemption context.
/// See the module documentation for the check order.
///
/// Pure: the same text, keyring and context always give the same decision, so a till can
/// verify offline. Only the ledger's [`crate::Ledger::redeem`] spends the voucher.
///
/// # Example
/// ```
/// use o2okit::*;
///
/// let ring = Keyring::with_active_key(MerchantId(7), KeyId(1), SigningKey::from_bytes(&[9; 32])?);
/// let text = Voucher::new(VoucherId(1), MerchantId(7), Currency::CNY,
///         Benefit::PercentOff { basis_points: 1_000, cap_minor: None })
///     .min_spend(5_000)
///     .sign(&ring)?
///     .to_scanner_text();
/// let store = Store::new(StoreId(1), MerchantId(7), chrono_tz::Asia::Shanghai,
///     RegionCode::new("440305")?);
/// let at = "2026-12-24T04:00:00Z".parse()?;
///
/// let lunch = Basket::single(Currency::CNY, 8_000)?;
/// match verify(&text, &ring, &RedemptionContext::new(&store, at, &lunch)) {
///     Decision::Accepted(ok) => assert_eq!(ok.discount_minor(), 800), // 10% of CNY 80
///     Decision::Rejected { reason } => panic!("{reason}"),
/// }
///
/// let coffee = Basket::single(Currency::CNY, 2_800)?;
/// let decision = verify(&text, &ring, &RedemptionContext::new(&store, at, &coffee));
/// assert_eq!(decision.rejection(), Some(Rejection::BelowMinimumSpend));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify<V: Verifier + ?Sized>(
    text: &str,
    keyring: &V,
    ctx: &RedemptionContext<'_>,
) -> Decision {
    let mut buffer = [0; crate::token::STACK_LEN];
    if let Some(bytes) = crate::token::scanner_bytes(text, &mut buffer) {
        return match Voucher::open_bytes(bytes, keyring) {
            Ok(voucher) => check_limits(voucher, ctx),
            Err(reason) => reason.into(),
        };
    }
    match Token::parse(text) {
        Ok(token) => verify_token(&token, keyring, ctx),
        Err(e) => super::rejection_of_token_error(&e).into(),
    }
}

/// Verifies a decoded token in a redemption context.
pub fn verify_token<V: Verifier + ?Sized>(
    token: &Token,
    keyring: &V,
    ctx: &RedemptionContext<'_>,
) -> Decision {
    match Voucher::open(token, keyring) {
        Ok(voucher) => check_limits(voucher, ctx),
        Err(reason) => reason.into(),
    }
}

fn check_limits(voucher: Voucher, ctx: &RedemptionContext<'_>) -> Decision {
    if let Some(reason) = ctx.deny_list.and_then(|list| list.check(voucher.id)) {
        return reason.into();
    }
    let outcome = check_time(&voucher, ctx)
        .and_then(|()| check_region(&voucher, ctx))
        .and_then(|()| check_member(&voucher, ctx))
        .and_then(|()| check_basket(&voucher, ctx));
    match outcome {
        Ok(eligible_minor) => Decision::Accepted(Acceptance {
            discount_minor: voucher.benefit.discount_on(eligible_minor),
            eligible_minor,
            store: ctx.store.id,
            at: ctx.at,
            member: ctx.member.map(|m| m.id),
            spend_minor: ctx.basket.total_minor(),
            voucher,
        }),
        Err(reason) => reason.into(),
    }
}

fn check_time(v: &Voucher, ctx: &RedemptionContext<'_>) -> Result<(), Rejection> {
    let t = &v.time;
    if t.valid_from.is_none()
        && t.valid_until.is_none()
        && t.weekdays.is_none()
        && t.hours.is_empty()
    {
        return Ok(());
    }
    let clock = StoreClock::read(ctx.at, ctx.store.time_zone);
    if t.valid_from.is_some_and(|from| !from.is_reached_by(&clock)) {
        return Err(Rejection::NotYetValid);
    }
    if t.valid_until
        .is_some_and(|until| until.is_reached_by(&clock))
    {
        return Err(Rejection::Expired);
    }
    if t.weekdays
        .is_some_and(|days| !days.contains(clock.weekday()))
    {
        return Err(Rejection::WrongWeekday);
    }
    let second = clock.second_of_day();
    if !t.hours.is_empty() && !t.hours.iter().any(|w| w.contains_second(second)) {
        return Err(Rejection::OutsideHours);
    }
    Ok(())
}

fn check_region(v: &Voucher, ctx: &RedemptionContext<'_>) -> Result<(), Rejection> {
    let r = &v.region;
    let store = ctx.store;
    if !r.stores.is_empty() && !r.stores.contains(&store.id) {
        return Err(Rejection::WrongStore);
    }
    if !r.regions.is_empty() && !r.regions.iter().any(|code| code.contains(&store.region)) {
        return Err(Rejection::OutsideRegion);
    }
    if let Some(fence) = r.geofence
        && !store.location.is_some_and(|at| fence.contains(&at))
    {
        return Err(Rejection::OutsideGeofence);
    }
    Ok(())
}

fn check_member(v: &Voucher, ctx: &RedemptionContext<'_>) -> Result<(), Rejection> {
    let c = &v.conditions;
    let needs_member = v.member.is_some()
        || c.new_members_only
        || c.min_tier.is_some()
        || v.state.max_uses_per_member.is_some();
    if !needs_member {
        return Ok(());
    }
    let member = ctx.member.ok_or(Rejection::MemberRequired)?;
    if v.member.is_some_and(|bound| bound != member.id) {
        return Err(Rejection::WrongMember);
    }
    if c.new_members_only && !member.is_new {
        return Err(Rejection::NotNewMember);
    }
    if c.min_tier.is_some_and(|min| member.tier < min) {
        return Err(Rejection::TierTooLow);
    }
    Ok(())
}

/// Returns the spend that counts toward the voucher.
fn check_basket(v: &Voucher, ctx: &RedemptionContext<'_>) -> Result<u64, Rejection> {
    let c = &v.conditions;
    if c.not_combinable && ctx.other_vouchers > 0 {
        return Err(Rejection::NotCombinable);
    }
    if ctx.basket.currency() != v.currency {
        return Err(Rejection::CurrencyMismatch);
    }
    let eligible: u64 = match &c.categories {
        super::CategoryRule::All => ctx.basket.total_minor(),
        rule => ctx
            .basket
            .lines()
            .iter()
            .filter(|line| rule.counts(line.category))
            .map(|line| line.amount_minor)
            .sum(),
    };
    if eligible < c.min_spend_minor {
        return Err(Rejection::BelowMinimumSpend);
    }
    let restricted = !matches!(c.categories, super::CategoryRule::All);
    let no_line_counts = restricted
        && !ctx
            .basket
            .lines()
            .iter()
            .any(|l| c.categories.counts(l.category));
    if no_line_counts || (eligible == 0 && v.benefit.needs_eligible_spend()) {
        return Err(Rejection::NoEligibleItems);
    }
    if v.benefit.needs_eligible_spend() && v.benefit.discount_on(eligible) == 0 {
        return Err(Rejection::NoDiscount);
    }
    Ok(eligible)
}
