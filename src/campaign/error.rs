//! What can stop a campaign from being planned or issued.

use crate::error::Error;
use crate::ledger::LedgerError;

/// Why a campaign could not be planned, issued or reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CampaignError {
    /// A budget by discount needs an offer whose discount is bounded (an amount off, a
    /// stored value, or a capped percentage).
    #[error(
        "a discount budget needs an offer with a bounded discount (amount off, stored value or a capped percentage)"
    )]
    UnboundedOffer,
    /// The holdout share is above 100% (10,000 basis points).
    #[error("holdout share {0} basis points is above 10,000")]
    HoldoutShare(u16),
    /// The voucher ids the plan would use run past `u64::MAX`.
    #[error("voucher ids from {first} for {count} vouchers overflow")]
    VoucherIdsOverflow {
        /// The first id.
        first: u64,
        /// How many.
        count: u64,
    },
    /// A sum passed what its type holds (hostile or corrupt figures): nothing is reported
    /// rather than a wrong total.
    #[error("{0} overflows")]
    Overflow(&'static str),
    /// The offer template cannot make a valid voucher (see the source).
    #[error("the offer template makes an invalid voucher: {0}")]
    Offer(#[source] Error),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Writing the offers or the assignments failed.
    #[error("writing failed: {0}")]
    Io(#[from] std::io::Error),
    /// A line of an assignments CSV is not what [`crate::campaign::write_assignments_csv`]
    /// writes.
    #[error("assignments CSV line {line}: {reason}")]
    Csv {
        /// The line, from 1.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}
