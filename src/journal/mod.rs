//! The till journal and sync with the head office: bytes in, bytes out.
//!
//! A till working offline decides alone; its journal brings every decision back. Each write of
//! a till's local ledger (a redemption, a void, a revocation, a points or balance movement, a
//! visit, a check-in) also appends a [`JournalEntry`] under the till's id and a gap-free
//! sequence number, in the same transaction. Each record carries a MAC chained over the one
//! before it, keyed with the till's journal key ([`crate::KeyRole::Journal`], derived by the
//! head office from the merchant secret): a franchise that edits, deletes or reorders a
//! redemption after the fact breaks the chain, and the head office notices.
//!
//! Sync runs over whatever the application has (HTTP, a queue, a USB stick):
//! 1. the till exports the records the head office has not acknowledged as a
//!    [`JournalBatch`];
//! 2. the head office ingests it (idempotently: the same batch twice, overlapping batches and
//!    batches out of order converge) and answers with a [`SyncAck`]: how far it holds the
//!    till's journal without a gap, and a deny-list delta;
//! 3. the till applies the acknowledgement and the delta, in one transaction.
//!
//! # Formats, version 1
//!
//! ```text
//! batch:  "O2OJB" 1, merchant varint, till varint, deny-list version held varint,
//!         exported at varint (the till's clock, Unix microseconds),
//!         MAC of the record before the first (32 bytes; zeros before record 1),
//!         count varint, then each record, with consecutive sequence numbers:
//!         seq varint (from 1, gap-free), payload length varint, payload (the entry as JSON),
//!         MAC (32 bytes)
//! ack:    "O2OJA" 1, merchant varint, till varint, the batch answered (8 bytes: the start
//!         of the SHA-256 of its bytes), acknowledged through seq varint,
//!         missing seq ranges: count varint, then (first, last) varint pairs,
//!         deny-list delta length varint, the signed delta (empty when there is none),
//!         MAC (32 bytes) of every byte before it, with the till's journal key
//! MAC of record n: HMAC-SHA256(journal key, "o2okit journal v1" ‖ merchant u32 LE ‖
//!         till u32 LE ‖ n u64 LE ‖ MAC of record n − 1 (32 zero bytes for record 1) ‖
//!         payload length u32 LE ‖ payload)
//! ```
//!
//! The head office checks every MAC before it stores anything, and checks that record n's
//! MAC chains from the record n − 1 it holds, whichever of the two arrived first.

mod ack;
mod allowance;
mod batch;
pub(crate) mod chain;
mod entry;

pub use ack::SyncAck;
pub use allowance::OfflineAllowance;
pub use batch::{JournalBatch, JournalRecord};
pub use chain::{JournalKey, Mac};
pub use entry::{JournalEntry, RedeemedTerms};

use crate::ids::TillId;

/// Why journal or sync bytes were refused. Nothing is stored or changed on an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// Not a batch or acknowledgement of a format this build reads, or cut short.
    #[error("not a journal batch or acknowledgement: {0}")]
    Malformed(String),
    /// A format version this build does not read.
    #[error("unsupported sync format {0}")]
    UnsupportedFormat(u8),
    /// For another merchant.
    #[error("the bytes are for merchant {found}, not {expected}")]
    WrongMerchant {
        /// This side's merchant.
        expected: u32,
        /// The bytes' merchant.
        found: u32,
    },
    /// For another till.
    #[error("the bytes are for till {found}, not {expected}")]
    WrongTill {
        /// This till.
        expected: TillId,
        /// The bytes' till.
        found: TillId,
    },
    /// A record's MAC does not check, or does not chain from the record before it: edited,
    /// reordered, or not written by this till.
    #[error("till {till}'s journal record {seq} does not check: edited, or not this till's")]
    BrokenChain {
        /// The till.
        till: TillId,
        /// The first record that fails.
        seq: u64,
    },
    /// The acknowledgement's MAC does not check.
    #[error("the acknowledgement does not check: forged or altered")]
    BadAck,
    /// Records out of order or repeated within one batch.
    #[error("record {seq} is out of order in the batch")]
    OutOfOrder {
        /// The record.
        seq: u64,
    },
    /// A journal call on a ledger opened without a journal key
    /// (`SqliteLedger::with_journal`), or a write to a till's ledger file opened without it.
    #[error("this ledger keeps no journal here (open it with the till's journal key)")]
    NoJournal,
    /// The head office acknowledged records this till never wrote: an acknowledgement meant
    /// for another ledger file of the same till.
    #[error("acknowledged through record {acknowledged}, but this journal ends at {written}")]
    AckBeyondJournal {
        /// What the acknowledgement claims.
        acknowledged: u64,
        /// The last record written.
        written: u64,
    },
    /// The till holds a different record under a sequence number the head office already
    /// holds: two journals claim the same till.
    #[error("till {till} sent a different record {seq} than the one held")]
    Forked {
        /// The till.
        till: TillId,
        /// The record.
        seq: u64,
    },
}
