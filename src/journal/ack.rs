//! The head office's answer to a batch: how far it holds the till's journal, and a deny-list
//! delta.

use super::SyncError;
use super::chain::JournalKey;
use crate::ids::{MerchantId, TillId};
use crate::token::wire::{Reader, Writer};

const ACK_MAGIC: &[u8; 5] = b"O2OJA";
const FORMAT: u8 = 1;
const MAC_LEN: usize = 32;

/// The most missing ranges one acknowledgement lists.
const MAX_MISSING: u64 = 10_000;

/// An acknowledgement, MACed with the till's journal key so that nothing but the head office
/// can make a till forget records it has not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAck {
    /// The merchant.
    pub merchant: MerchantId,
    /// The till.
    pub till: TillId,
    /// The batch it answers ([`crate::JournalBatch::digest`] of its bytes): a till counts as
    /// synced only by the answer to its latest export, so an old answer replayed proves
    /// nothing.
    pub batch: [u8; 8],
    /// The head office holds every record of this till up to this sequence number (0: none).
    pub through: u64,
    /// Ranges (first, last) after `through` that the head office lacks while holding later
    /// ones: records lost on the way, which the till sends again.
    pub missing: Vec<(u64, u64)>,
    /// A signed deny-list delta from the version the batch said the till holds (empty when
    /// nothing changed).
    pub deny_list_delta: Vec<u8>,
}

impl SyncAck {
    /// The acknowledgement's bytes, MACed with `key`.
    pub fn encode(&self, key: &JournalKey) -> Vec<u8> {
        let mut w = Writer::with_capacity(64 + self.deny_list_delta.len());
        w.bytes(ACK_MAGIC);
        w.u8(FORMAT);
        w.varint(u64::from(self.merchant.0));
        w.varint(u64::from(self.till.0));
        w.bytes(&self.batch);
        w.varint(self.through);
        // The first ranges only: the till resends from the first gap on anyway.
        let missing = &self.missing[..self.missing.len().min(MAX_MISSING as usize)];
        w.varint(missing.len() as u64);
        for &(first, last) in missing {
            w.varint(first);
            w.varint(last);
        }
        w.varint(self.deny_list_delta.len() as u64);
        w.bytes(&self.deny_list_delta);
        let mut bytes = w.into_bytes();
        let mac = key.ack_mac(&bytes);
        bytes.extend_from_slice(&mac);
        bytes
    }

    /// Reads an acknowledgement meant for `key`'s till, checking its MAC first.
    ///
    /// # Errors
    /// [`SyncError::Malformed`], [`SyncError::UnsupportedFormat`], [`SyncError::BadAck`],
    /// [`SyncError::WrongMerchant`], [`SyncError::WrongTill`].
    pub fn open(bytes: &[u8], key: &JournalKey) -> Result<Self, SyncError> {
        let bad = |e: crate::token::TokenError| SyncError::Malformed(e.to_string());
        if bytes.len() < ACK_MAGIC.len() + 1 + MAC_LEN || &bytes[..5] != ACK_MAGIC {
            return Err(SyncError::Malformed("not an acknowledgement".into()));
        }
        if bytes[5] != FORMAT {
            return Err(SyncError::UnsupportedFormat(bytes[5]));
        }
        let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        if !key.ack_checks(body, tag) {
            return Err(SyncError::BadAck);
        }
        let mut r = Reader::new(&body[6..]);
        let merchant = MerchantId(r.varint_u32("merchant").map_err(bad)?);
        let till = TillId(r.varint_u32("till").map_err(bad)?);
        if merchant != key.merchant() {
            return Err(SyncError::WrongMerchant {
                expected: key.merchant().0,
                found: merchant.0,
            });
        }
        if till != key.till() {
            return Err(SyncError::WrongTill {
                expected: key.till(),
                found: till,
            });
        }
        let batch: [u8; 8] = r
            .take(8, "batch")
            .map_err(bad)?
            .try_into()
            .expect("8 bytes");
        let through = r.varint("through").map_err(bad)?;
        let count = r.varint("missing").map_err(bad)?;
        if count > MAX_MISSING {
            return Err(SyncError::Malformed(format!("{count} missing ranges")));
        }
        let mut missing = Vec::with_capacity(count as usize);
        for _ in 0..count {
            missing.push((
                r.varint("first").map_err(bad)?,
                r.varint("last").map_err(bad)?,
            ));
        }
        let len = r.varint("delta length").map_err(bad)?;
        if len != r.remaining() as u64 {
            return Err(SyncError::Malformed("delta length".into()));
        }
        let deny_list_delta = r.take(len as usize, "delta").map_err(bad)?.to_vec();
        Ok(SyncAck {
            merchant,
            till,
            batch,
            through,
            missing,
            deny_list_delta,
        })
    }
}
