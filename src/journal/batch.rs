//! A batch of journal records: what a till sends the head office.

use super::SyncError;
use super::chain::{JournalKey, Mac};
use super::entry::JournalEntry;
use crate::ids::{MerchantId, TillId};
use crate::token::wire::{Reader, Writer};

pub(crate) const BATCH_MAGIC: &[u8; 5] = b"O2OJB";
pub(crate) const FORMAT: u8 = 1;

/// The most records one batch may hold: bounds what hostile bytes can make the head office
/// allocate.
pub const MAX_RECORDS: usize = 1_000_000;

/// The largest payload of one record.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// One journal record: a sequence number, the entry's payload as the till MACed it, the MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRecord {
    /// Gap-free, from 1, per till.
    pub seq: u64,
    /// The entry's JSON, byte for byte as MACed.
    pub payload: Vec<u8>,
    /// The chained MAC.
    pub mac: Mac,
}

impl JournalRecord {
    /// The entry the payload holds.
    ///
    /// # Errors
    /// [`SyncError::Malformed`] when the payload is not an entry this build reads.
    pub fn entry(&self) -> Result<JournalEntry, SyncError> {
        JournalEntry::from_payload(&self.payload)
            .map_err(|e| SyncError::Malformed(format!("record {}: {e}", self.seq)))
    }
}

/// The records a till sends at once, with consecutive sequence numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalBatch {
    /// The merchant.
    pub merchant: MerchantId,
    /// The till.
    pub till: TillId,
    /// The version of the deny list the till holds (0: none), so the acknowledgement can
    /// carry the delta from it.
    pub deny_list_version: u64,
    /// When the till exported it (its clock, Unix microseconds): makes each export's bytes,
    /// and so the acknowledgement that names them, unique.
    pub exported_at: u64,
    /// The MAC of the record before the first (zeros before record 1).
    pub previous: Mac,
    /// The records, in order.
    pub records: Vec<JournalRecord>,
}

impl JournalBatch {
    /// The batch's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let size: usize = self.records.iter().map(|r| r.payload.len() + 44).sum();
        let mut w = Writer::with_capacity(64 + size);
        w.bytes(BATCH_MAGIC);
        w.u8(FORMAT);
        w.varint(u64::from(self.merchant.0));
        w.varint(u64::from(self.till.0));
        w.varint(self.deny_list_version);
        w.varint(self.exported_at);
        w.bytes(&self.previous);
        w.varint(self.records.len() as u64);
        for r in &self.records {
            w.varint(r.seq);
            w.varint(r.payload.len() as u64);
            w.bytes(&r.payload);
            w.bytes(&r.mac);
        }
        w.into_bytes()
    }

    /// Reads a batch's bytes. The MACs are not checked here: see [`JournalBatch::check`].
    ///
    /// # Errors
    /// [`SyncError::Malformed`], [`SyncError::UnsupportedFormat`], [`SyncError::OutOfOrder`]
    /// for sequence numbers that are not consecutive from at least 1.
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncError> {
        let bad = |e: crate::token::TokenError| SyncError::Malformed(e.to_string());
        let mut r = Reader::new(bytes);
        if r.take(5, "magic").map_err(bad)? != BATCH_MAGIC {
            return Err(SyncError::Malformed("not a journal batch".into()));
        }
        let format = r.u8("format").map_err(bad)?;
        if format != FORMAT {
            return Err(SyncError::UnsupportedFormat(format));
        }
        let merchant = MerchantId(r.varint_u32("merchant").map_err(bad)?);
        let till = TillId(r.varint_u32("till").map_err(bad)?);
        let deny_list_version = r.varint("deny-list version").map_err(bad)?;
        let exported_at = r.varint("exported at").map_err(bad)?;
        let previous: Mac = r
            .take(32, "previous MAC")
            .map_err(bad)?
            .try_into()
            .expect("32");
        let count = r.varint("count").map_err(bad)?;
        // Each record takes at least 34 bytes: a count beyond what is left is a lie.
        if count > MAX_RECORDS as u64 || count > (r.remaining() / 34) as u64 {
            return Err(SyncError::Malformed(format!("{count} records claimed")));
        }
        let mut records = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let seq = r.varint("seq").map_err(bad)?;
            // The head office stores it as a signed 64-bit integer.
            if seq >= i64::MAX as u64 {
                return Err(SyncError::Malformed(format!("record number {seq}")));
            }
            let expected = records
                .last()
                .map_or(seq.max(1), |p: &JournalRecord| p.seq + 1);
            if seq != expected {
                return Err(SyncError::OutOfOrder { seq });
            }
            let len = r.varint("payload length").map_err(bad)?;
            if len > MAX_PAYLOAD as u64 {
                return Err(SyncError::Malformed(format!(
                    "record {seq}: payload of {len} bytes"
                )));
            }
            let payload = r.take(len as usize, "payload").map_err(bad)?.to_vec();
            let mac: Mac = r.take(32, "MAC").map_err(bad)?.try_into().expect("32");
            records.push(JournalRecord { seq, payload, mac });
        }
        if !r.is_empty() {
            return Err(SyncError::Malformed("bytes after the last record".into()));
        }
        Ok(JournalBatch {
            merchant,
            till,
            deny_list_version,
            exported_at,
            previous,
            records,
        })
    }

    /// The name an acknowledgement gives the batch whose `bytes` it answers: the first 8 bytes
    /// of their SHA-256.
    pub fn digest(bytes: &[u8]) -> [u8; 8] {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(bytes);
        hash[..8]
            .try_into()
            .expect("SHA-256 is longer than 8 bytes")
    }

    /// The first and last sequence numbers, if any record.
    pub fn range(&self) -> Option<(u64, u64)> {
        Some((self.records.first()?.seq, self.records.last()?.seq))
    }

    /// Checks the batch was written by `key`'s till: every MAC, chained from
    /// [`JournalBatch::previous`], and the till and merchant.
    ///
    /// # Errors
    /// [`SyncError::WrongMerchant`], [`SyncError::WrongTill`], [`SyncError::BrokenChain`] at
    /// the first record that fails.
    pub fn check(&self, key: &JournalKey) -> Result<(), SyncError> {
        if self.merchant != key.merchant() {
            return Err(SyncError::WrongMerchant {
                expected: key.merchant().0,
                found: self.merchant.0,
            });
        }
        if self.till != key.till() {
            return Err(SyncError::WrongTill {
                expected: key.till(),
                found: self.till,
            });
        }
        let mut previous = self.previous;
        for r in &self.records {
            if (r.seq == 1 && previous != super::chain::GENESIS)
                || !key.link_checks(r.seq, &previous, &r.payload, &r.mac)
            {
                return Err(SyncError::BrokenChain {
                    till: self.till,
                    seq: r.seq,
                });
            }
            previous = r.mac;
        }
        Ok(())
    }
}
