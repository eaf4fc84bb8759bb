//! What a till's journal records: one entry per decision its local ledger wrote.

use crate::ids::{CampaignId, VoucherId};
use crate::ledger::{Movement, Receipt, ReceiptId, VisitEvent};
use crate::membership::member::Member;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A decision a till's ledger wrote, as the head office ingests it. Its JSON form is the
/// payload of a journal record (see [`crate::journal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "entry", deny_unknown_fields)]
#[non_exhaustive]
pub enum JournalEntry {
    /// A voucher was redeemed: the receipt, and what the till knew of the voucher's limits,
    /// so the head office can tell a double spend from a legitimate second use.
    Redeemed {
        /// The receipt, numbered by the till.
        receipt: Receipt,
        /// The voucher's signed terms.
        terms: RedeemedTerms,
    },
    /// A redemption was voided (a refund): the use, or the value, came back.
    Voided {
        /// The receipt's number at the till.
        receipt: ReceiptId,
        /// The voucher.
        voucher: VoucherId,
        /// When.
        at: DateTime<Utc>,
    },
    /// The till revoked a voucher.
    Revoked {
        /// The voucher.
        voucher: VoucherId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Points or prepaid balance moved.
    Moved {
        /// The movement as the till recorded it.
        movement: Movement,
    },
    /// A visit without a voucher (a sale, or a visit the application recorded).
    Visited {
        /// The visit.
        visit: VisitEvent,
    },
    /// A member opted out of marketing, or back in.
    MarketingChoice {
        /// The member.
        member: crate::ids::MemberId,
        /// Whether they opted out.
        opted_out: bool,
        /// When.
        at: DateTime<Utc>,
    },
    /// A member checked in by scanning the store's code.
    CheckedIn {
        /// The visit recorded.
        visit: VisitEvent,
        /// The member, when this check-in enrolled them.
        enrolled: Option<Member>,
    },
}

/// The limits of a redeemed voucher that decide, at the head office, whether two tills'
/// redemptions of it conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedeemedTerms {
    /// Total uses the voucher allows.
    pub max_uses: u32,
    /// The value of a stored-value voucher, minor units; `None` for every other benefit.
    pub stored_value_minor: Option<u64>,
    /// The campaign that issued it.
    pub campaign: Option<CampaignId>,
}

impl RedeemedTerms {
    /// The terms of `voucher`.
    pub fn of(voucher: &crate::voucher::Voucher) -> Self {
        RedeemedTerms {
            max_uses: voucher.state.max_uses,
            stored_value_minor: match voucher.benefit {
                crate::voucher::Benefit::StoredValue { minor } => Some(minor),
                _ => None,
            },
            campaign: voucher.campaign,
        }
    }
}

impl JournalEntry {
    /// The instant of the decision.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            JournalEntry::Redeemed { receipt, .. } => receipt.at,
            JournalEntry::Voided { at, .. }
            | JournalEntry::Revoked { at, .. }
            | JournalEntry::MarketingChoice { at, .. } => *at,
            JournalEntry::Moved { movement } => movement.at,
            JournalEntry::Visited { visit } | JournalEntry::CheckedIn { visit, .. } => visit.at,
        }
    }

    /// The entry's payload bytes (its JSON form).
    #[cfg(feature = "sqlite")]
    pub(crate) fn to_payload(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("journal entries serialize")
    }

    /// The entry of a payload.
    pub(crate) fn from_payload(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
