//! Signed key sets: how the head office tells every till which public keys to trust.
//!
//! The head office publishes a versioned [`KeySet`] (active and retired public keys with their
//! roles, validity windows and the store or till they belong to), signed by a root Ed25519 key
//! whose public half every till pins at install. A till loads it into a [`VerifyingKeyring`];
//! a newer set replaces the keyring without downtime (build the new one, then swap it in), and
//! an older one is refused, so a stolen, outdated set cannot bring back a retired key. The
//! refusal survives a restart only if the till keeps the highest version it has loaded (in its
//! ledger or configuration) and passes it as `min_version` when it loads the set again.
//!
//! # Format, version 1
//! ```text
//! offset   field
//! 0..5     magic "O2OKS"
//! 5        format version: 1
//! 6..10    payload length n, u32 little-endian (at most 1 MiB)
//! 10..     payload: the KeySet as JSON (UTF-8), n bytes
//! last 64  Ed25519 signature by the root key of every byte before it
//! ```
//! The payload is read only after the signature checks out.
//!
//! ```json
//! {"merchant": 7, "version": 12, "issued_at": "2026-12-01T00:00:00Z",
//!  "keys": [{"id": 3, "role": "vouchers", "public_key": "<32 bytes, base64url>",
//!            "retired": false, "not_before": null, "not_after": "2027-01-31T00:00:00Z"}]}
//! ```

use super::material::{Ed25519Key, PublicKey};
use super::role::KeyRole;
use super::table::Check;
use super::{KeyStatus, VerifyingKeyring};
use crate::ids::{KeyId, MerchantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 5] = b"O2OKS";
/// The key-set format version this build writes and reads.
pub const KEY_SET_FORMAT: u8 = 1;
/// The largest key set accepted, bytes.
pub const MAX_KEY_SET_LEN: usize = 1 << 20;
const HEADER_LEN: usize = 10;
const SIGNATURE_LEN: usize = 64;

/// Why a key set was refused. Nothing is loaded from a refused set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// Not a key set: bad magic, lengths, JSON or field.
    #[error("not a valid key set: {0}")]
    Malformed(String),
    /// A format version this build does not read.
    #[error("unsupported key set format {0}")]
    UnsupportedFormat(u8),
    /// Larger than [`MAX_KEY_SET_LEN`].
    #[error("key set too large: {0} bytes (at most 1 MiB)")]
    TooLarge(usize),
    /// The root key's signature does not match: forged, altered, or signed by another root.
    #[error("the key set's signature does not match the pinned root key")]
    BadSignature,
    /// A key set of another merchant.
    #[error("a key set of merchant {found}, expected merchant {expected}")]
    WrongMerchant {
        /// The merchant expected.
        expected: MerchantId,
        /// The merchant named by the set.
        found: MerchantId,
    },
    /// Older than the set already loaded (or than the version the till remembers): a rollback
    /// to a set that may still trust a key retired since.
    #[error("key set version {offered} is older than version {have}, already loaded")]
    Rollback {
        /// The version loaded.
        have: u64,
        /// The version offered.
        offered: u64,
    },
    /// A key listed twice.
    #[error("key {0} is listed twice")]
    DuplicateKey(KeyId),
}

/// One public key in a key set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct PublishedKey {
    /// The key id tokens name.
    pub id: KeyId,
    /// What it may sign, and for which store or till.
    pub role: KeyRole,
    /// The Ed25519 public key.
    pub public_key: PublicKey,
    /// Retired: its tokens are refused.
    pub retired: bool,
    /// Trusted from this instant (`None`: from the start).
    pub not_before: Option<DateTime<Utc>>,
    /// Trusted until this instant, excluded (`None`: until retired).
    pub not_after: Option<DateTime<Utc>>,
}

impl PublishedKey {
    /// Key `id` of `role`, trusted from now on until retired.
    pub fn new(id: KeyId, role: KeyRole, public_key: PublicKey) -> Self {
        PublishedKey {
            id,
            role,
            public_key,
            retired: false,
            not_before: None,
            not_after: None,
        }
    }

    /// The same key, trusted only from `not_before` until `not_after` (excluded): a rotation
    /// publishes the new key before the old one's window closes, so the two overlap.
    pub fn valid_between(
        mut self,
        not_before: Option<DateTime<Utc>>,
        not_after: Option<DateTime<Utc>>,
    ) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// The same key, retired.
    pub fn retired(mut self) -> Self {
        self.retired = true;
        self
    }

    /// Whether its tokens are trusted at `at`.
    pub fn trusted_at(&self, at: DateTime<Utc>) -> bool {
        !self.retired
            && self.not_before.is_none_or(|t| t <= at)
            && self.not_after.is_none_or(|t| at < t)
    }
}

/// The public keys a merchant's tills trust, versioned. Made and signed by the head office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct KeySet {
    /// The merchant whose keys these are.
    pub merchant: MerchantId,
    /// Increases with every published set, from 1; a till refuses a set older than the one
    /// it has.
    pub version: u64,
    /// When the head office made it.
    pub issued_at: DateTime<Utc>,
    /// The keys, active and retired.
    pub keys: Vec<PublishedKey>,
}

impl KeySet {
    /// An empty set of `merchant`, numbered `version`.
    pub fn new(merchant: MerchantId, version: u64, issued_at: DateTime<Utc>) -> Self {
        KeySet {
            merchant,
            version,
            issued_at,
            keys: Vec::new(),
        }
    }

    /// The same set with `key` added.
    pub fn with_key(mut self, key: PublishedKey) -> Self {
        self.keys.push(key);
        self
    }

    /// The signed bytes to publish, signed by `root` (the key whose public half tills pin).
    ///
    /// # Errors
    /// [`KeySetError::DuplicateKey`]; [`KeySetError::TooLarge`].
    pub fn sign(&self, root: &Ed25519Key) -> Result<Vec<u8>, KeySetError> {
        self.check_unique()?;
        let payload = serde_json::to_vec(self).expect("a key set always serializes");
        let len = HEADER_LEN + payload.len() + SIGNATURE_LEN;
        if len > MAX_KEY_SET_LEN {
            return Err(KeySetError::TooLarge(len));
        }
        Ok(sign_raw(root, &payload))
    }

    /// Checks signed key-set bytes against the pinned `root` public key and reads them.
    ///
    /// # Errors
    /// [`KeySetError`]: malformed, unsupported, too large, a bad signature (checked before
    /// the payload is parsed), a key listed twice.
    pub fn open(bytes: &[u8], root: &PublicKey) -> Result<KeySet, KeySetError> {
        if bytes.len() > MAX_KEY_SET_LEN {
            return Err(KeySetError::TooLarge(bytes.len()));
        }
        if bytes.len() < HEADER_LEN + SIGNATURE_LEN || &bytes[..5] != MAGIC {
            return Err(KeySetError::Malformed("no key set header".into()));
        }
        if bytes[5] != KEY_SET_FORMAT {
            return Err(KeySetError::UnsupportedFormat(bytes[5]));
        }
        let payload_len = u32::from_le_bytes(bytes[6..10].try_into().expect("4 bytes")) as usize;
        // `bytes` holds at least the header and the signature (checked above).
        if payload_len != bytes.len() - HEADER_LEN - SIGNATURE_LEN {
            return Err(KeySetError::Malformed(format!(
                "payload length {payload_len} does not match the {} bytes given",
                bytes.len()
            )));
        }
        let (signed, signature) = bytes.split_at(bytes.len() - SIGNATURE_LEN);
        if !root.verifies(signed, signature) {
            return Err(KeySetError::BadSignature);
        }
        let set: KeySet = serde_json::from_slice(&signed[HEADER_LEN..])
            .map_err(|e| KeySetError::Malformed(e.to_string()))?;
        set.check_unique()?;
        Ok(set)
    }

    fn check_unique(&self) -> Result<(), KeySetError> {
        if self.version == 0 {
            return Err(KeySetError::Malformed("key set versions start at 1".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for key in &self.keys {
            if !seen.insert(key.id) {
                return Err(KeySetError::DuplicateKey(key.id));
            }
        }
        Ok(())
    }

    /// The verifying keyring of this set at `at`: keys outside their window, or retired, are
    /// loaded as retired (their tokens are refused as `retired_key`).
    pub fn keyring_at(&self, at: DateTime<Utc>) -> VerifyingKeyring {
        let mut ring = VerifyingKeyring::new(self.merchant);
        for key in &self.keys {
            let status = if key.trusted_at(at) {
                KeyStatus::VerifyOnly
            } else {
                KeyStatus::Retired
            };
            ring.push(key.id, key.role, status, Check::Ed25519(key.public_key))
                .expect("ids were checked unique");
        }
        ring.key_set_version = Some(self.version);
        ring
    }
}

/// `payload` framed and signed with `root`, whatever it holds.
pub(crate) fn sign_raw(root: &Ed25519Key, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + SIGNATURE_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.push(KEY_SET_FORMAT);
    bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    bytes.extend_from_slice(payload);
    let signature = root.sign(&bytes);
    bytes.extend_from_slice(&signature);
    bytes
}

impl VerifyingKeyring {
    /// A till's keyring from signed key-set bytes, checked against the pinned `root` key, with
    /// each key's window applied at `at` (reload at least daily, and at start). `min_version`
    /// is the highest version this till has loaded before (0 the first time): keep it across
    /// restarts, so an older set put back on disk is refused.
    ///
    /// # Errors
    /// [`KeySetError`]; [`KeySetError::WrongMerchant`] for another merchant's set;
    /// [`KeySetError::Rollback`] below `min_version`.
    pub fn from_key_set(
        bytes: &[u8],
        root: &PublicKey,
        merchant: MerchantId,
        at: DateTime<Utc>,
        min_version: u64,
    ) -> Result<VerifyingKeyring, KeySetError> {
        let set = KeySet::open(bytes, root)?;
        if set.merchant != merchant {
            return Err(KeySetError::WrongMerchant {
                expected: merchant,
                found: set.merchant,
            });
        }
        if set.version < min_version {
            return Err(KeySetError::Rollback {
                have: min_version,
                offered: set.version,
            });
        }
        Ok(set.keyring_at(at))
    }

    /// The keyring of a key set published after the one this keyring came from: build it, then
    /// swap it in (behind an `RwLock` or an `Arc`) — verification never stops. The same
    /// version again gives the same keys with windows applied at `at`.
    ///
    /// # Errors
    /// [`KeySetError::Rollback`] for an older set; as [`VerifyingKeyring::from_key_set`].
    pub fn with_key_set(
        &self,
        bytes: &[u8],
        root: &PublicKey,
        at: DateTime<Utc>,
    ) -> Result<VerifyingKeyring, KeySetError> {
        let have = self.key_set_version.unwrap_or(0);
        VerifyingKeyring::from_key_set(bytes, root, self.merchant(), at, have)
    }
}
