//! The till-scoped journal key and the MAC chain over journal records.

use crate::ids::{MerchantId, TillId};
use crate::keys::{KeyRole, MerchantSecret, SigningKey};
use hmac::Mac as _;

/// A record's MAC: HMAC-SHA256, 32 bytes.
pub type Mac = [u8; 32];

/// The MAC chained before a till's first record.
pub(crate) const GENESIS: Mac = [0; 32];

/// The key that MACs one till's journal, and the acknowledgements sent to it. It signs no
/// token a customer holds: a till's copy can forge neither a voucher nor another till's
/// journal.
#[derive(Clone, Debug)]
pub struct JournalKey {
    merchant: MerchantId,
    till: TillId,
    key: SigningKey,
}

impl JournalKey {
    /// The journal key of `till`, as the head office derives it from the merchant secret.
    pub fn derive(secret: &MerchantSecret, merchant: MerchantId, till: TillId) -> Self {
        JournalKey {
            merchant,
            till,
            key: secret.derive(merchant, KeyRole::Journal(till)),
        }
    }

    /// A key provisioned on the till (the bytes [`JournalKey::derive`] gave the head office).
    pub fn from_key(merchant: MerchantId, till: TillId, key: SigningKey) -> Self {
        JournalKey {
            merchant,
            till,
            key,
        }
    }

    /// The merchant.
    pub fn merchant(&self) -> MerchantId {
        self.merchant
    }

    /// The till whose journal this key MACs.
    pub fn till(&self) -> TillId {
        self.till
    }

    /// The secret bytes, to provision the till with.
    pub fn expose_secret(&self) -> &[u8] {
        self.key.expose_secret()
    }

    /// The MAC of record `seq` with `payload`, chained from `previous`.
    pub(crate) fn link(&self, seq: u64, previous: &Mac, payload: &[u8]) -> Mac {
        let mut mac = self.key.mac();
        mac.update(b"o2okit journal v1");
        mac.update(&self.merchant.0.to_le_bytes());
        mac.update(&self.till.0.to_le_bytes());
        mac.update(&seq.to_le_bytes());
        mac.update(previous);
        let len = u32::try_from(payload.len()).expect("a journal payload is far below 4 GiB");
        mac.update(&len.to_le_bytes());
        mac.update(payload);
        mac.finalize().into_bytes().into()
    }

    /// The MAC of an acknowledgement's bytes.
    pub(crate) fn ack_mac(&self, bytes: &[u8]) -> Mac {
        let mut mac = self.key.mac();
        mac.update(b"o2okit ack v1");
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is `bytes`' acknowledgement MAC, compared in constant time.
    pub(crate) fn ack_checks(&self, bytes: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.key.mac();
        mac.update(b"o2okit ack v1");
        mac.update(bytes);
        mac.verify_slice(tag).is_ok()
    }

    /// Whether `tag` is record `seq`'s MAC, compared in constant time.
    pub(crate) fn link_checks(&self, seq: u64, previous: &Mac, payload: &[u8], tag: &Mac) -> bool {
        let expected = self.link(seq, previous, payload);
        expected
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}
