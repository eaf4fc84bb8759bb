//! The crate's error type: every fallible operation returns [`Error`] or one of the module
//! errors it wraps. A refused voucher is not an error; see [`crate::Rejection`].

use crate::keys::KeyError;
use crate::ledger::LedgerError;
use crate::local_time::LocalTimeError;
use crate::membership::member::CardError;
use crate::money::MoneyError;
use crate::region::RegionError;
use crate::token::TokenError;
use crate::voucher::VoucherError;

/// Any error o2okit returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A currency code or amount.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A store-local date, time or window.
    #[error(transparent)]
    LocalTime(#[from] LocalTimeError),
    /// A region code or coordinate.
    #[error(transparent)]
    Region(#[from] RegionError),
    /// A membership card number.
    #[error(transparent)]
    Card(#[from] CardError),
    /// A signing key or keyring operation.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A signed key set.
    #[error(transparent)]
    KeySet(#[from] crate::keys::key_set::KeySetError),
    /// A signed deny list or delta.
    #[error(transparent)]
    DenyList(#[from] crate::deny_list::DenyListError),
    /// A journal batch or sync acknowledgement.
    #[error(transparent)]
    Sync(#[from] crate::journal::SyncError),
    /// Token bytes or text.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A voucher that cannot be signed.
    #[error(transparent)]
    Voucher(#[from] VoucherError),
    /// A ledger operation.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// An idempotency key.
    #[error(transparent)]
    IdempotencyKey(#[from] crate::ledger::IdempotencyKeyError),
    /// A customer's phone number or app account.
    #[error(transparent)]
    Identity(#[from] crate::membership::enrollment::IdentityError),
    /// A visit report.
    #[error(transparent)]
    Analytics(#[from] crate::analytics::AnalyticsError),
    /// An argument outside its documented range.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The longest piece of caller input an error message repeats, in characters.
pub(crate) const EXCERPT_CHARS: usize = 200;

/// `text` as an error message may repeat it: at most [`EXCERPT_CHARS`] characters, with an
/// ellipsis and the full length when cut, so a hostile 64 KiB argument never becomes a 64 KiB
/// message.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
    }
}
