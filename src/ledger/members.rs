//! Members and check-ins in the ledger: the rules both ledgers share.
//!
//! A check-in enrolls the member if the ledger has not seen their pseudonym, records at most
//! one visit per member, store and clock hour, and records the welcome voucher of a new member
//! — all in one transaction, so a repeated scan neither enrolls twice nor counts two visits.

use super::{LedgerError, VisitEvent, check_merchant, ledger_instant};
use crate::ids::{MemberId, MerchantId};
use crate::membership::checkin::{CheckIn, visit_hour};
use crate::membership::enrollment::Pseudonym;
use crate::membership::member::{CardNumber, Member};
use crate::rejection::Rejection;
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};

/// A verified check-in to record.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct CheckInRequest<'a> {
    /// The verified check-in code.
    pub check_in: &'a CheckIn,
    /// Who scanned it.
    pub pseudonym: &'a Pseudonym,
    /// The referring member (from a verified share code); kept only when this check-in
    /// enrolls the member, and never the member themselves.
    pub referred_by: Option<MemberId>,
    /// When.
    pub at: DateTime<Utc>,
    /// The welcome voucher to record if this check-in enrolls the member; it must be bound to
    /// the pseudonym's member, and its id must be new to the ledger.
    pub welcome: Option<&'a Voucher>,
}

impl<'a> CheckInRequest<'a> {
    /// `pseudonym`'s verified `check_in` at `at`, with no referrer and no welcome voucher.
    pub fn new(check_in: &'a CheckIn, pseudonym: &'a Pseudonym, at: DateTime<Utc>) -> Self {
        CheckInRequest {
            check_in,
            pseudonym,
            referred_by: None,
            at,
            welcome: None,
        }
    }

    /// The same request, made through `member`'s share code.
    pub fn referred_by(mut self, member: MemberId) -> Self {
        self.referred_by = Some(member);
        self
    }

    /// The same request, recording `voucher` as the welcome voucher if it enrolls.
    pub fn with_welcome(mut self, voucher: &'a Voucher) -> Self {
        self.welcome = Some(voucher);
        self
    }
}

/// What a check-in did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", deny_unknown_fields)]
#[must_use = "a check-in may be refused"]
pub enum CheckInOutcome {
    /// The visit was recorded.
    Visited {
        /// The member as the ledger holds them.
        member: Member,
        /// Whether this check-in enrolled them.
        enrolled: bool,
        /// The visit recorded.
        visit: VisitEvent,
    },
    /// Refused: [`Rejection::ReplayedCode`] (this member scanned this code already) or
    /// [`Rejection::AlreadyCheckedIn`] (another code, within the hour). Nothing was recorded.
    Refused {
        /// Why.
        reason: Rejection,
    },
}

/// Refuses a request the ledger must not record: a welcome voucher of another merchant or not
/// bound to the member.
pub(crate) fn check_request(
    merchant: MerchantId,
    request: &CheckInRequest<'_>,
) -> Result<(), LedgerError> {
    if let Some(welcome) = request.welcome {
        check_merchant(merchant, welcome.merchant)?;
        if welcome.member != Some(request.pseudonym.member_id()) {
            return Err(LedgerError::InvalidRequest(format!(
                "welcome voucher {} is not bound to member {}",
                welcome.id,
                request.pseudonym.member_id()
            )));
        }
    }
    Ok(())
}

/// The member a first check-in enrolls, holding card `serial`.
pub(crate) fn new_member(
    merchant: MerchantId,
    request: &CheckInRequest<'_>,
    serial: u64,
) -> Result<Member, LedgerError> {
    let id = request.pseudonym.member_id();
    Ok(Member {
        id,
        merchant,
        card: CardNumber::from_serial(serial).map_err(|e| LedgerError::Corrupt(e.to_string()))?,
        enrolled_store: request.check_in.store,
        referred_by: request.referred_by.filter(|&r| r != id),
        enrolled_at: ledger_instant(request.at),
        welcome_voucher: request.welcome.map(|v| v.id),
    })
}

/// The visit a check-in records: no spend, no voucher.
pub(crate) fn visit_of_check_in(request: &CheckInRequest<'_>) -> VisitEvent {
    VisitEvent {
        member: Some(request.pseudonym.member_id()),
        store: request.check_in.store,
        at: ledger_instant(request.at),
        spend_minor: 0,
        voucher: None,
        campaign: None,
        discount_minor: 0,
    }
}

/// The clock hour the check-in counts in.
pub(crate) fn hour_of(request: &CheckInRequest<'_>) -> u64 {
    visit_hour(request.at)
}

/// What the ledger holds about a member's earlier check-ins at the request's store.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EarlierCheckIns {
    /// Whether the request's code step was recorded before (at any time).
    pub(crate) step_seen: bool,
    /// The latest clock hour of a check-in recorded before.
    pub(crate) latest_hour: Option<u64>,
}

/// Why a check-in must be refused: the same rotating code seen before, whenever that was (a
/// code can stay valid for hours: `period × (2 × skew + 1)`), or a check-in already recorded in
/// this clock hour or a later one (a till clock stepped back must not open a new hour).
pub(crate) fn refusal(request: &CheckInRequest<'_>, earlier: EarlierCheckIns) -> Option<Rejection> {
    if request.check_in.step.is_some() && earlier.step_seen {
        return Some(Rejection::ReplayedCode);
    }
    earlier
        .latest_hour
        .is_some_and(|latest| latest >= hour_of(request))
        .then_some(Rejection::AlreadyCheckedIn)
}

/// The first card serial from the pseudonym's preferred one that `taken` says is free.
pub(crate) fn free_card_serial<E>(
    pseudonym: &Pseudonym,
    mut taken: impl FnMut(u64) -> Result<bool, E>,
) -> Result<u64, E> {
    let mut serial = pseudonym.preferred_card_serial();
    while taken(serial)? {
        serial = if serial == CardNumber::MAX_SERIAL {
            0
        } else {
            serial + 1
        };
    }
    Ok(serial)
}
