//! [`VerifyingKeyring`]: what a till, kiosk or phone loads to verify tokens. It has no signing
//! method at all.

use super::material::{PublicKey, SigningKey};
use super::role::KeyRole;
use super::table::{Check, Entry, KeyTable};
use super::{KeyError, KeyStatus, Verifier, sealed};
use crate::ids::{KeyId, MerchantId};
use std::fmt;

/// A merchant's keys as a till holds them: it verifies, and cannot sign — there is no method
/// to sign with, so minting from a till's keyring does not compile. Built from a signed
/// [`KeySet`](super::key_set::KeySet) (public keys only: nothing a till holds can mint), from
/// [`Keyring::verifying_keyring`](super::Keyring::verifying_keyring), or key by key.
///
/// Thread safety: `Send + Sync`; verification takes `&self`.
///
/// Signing with it does not compile:
/// ```compile_fail
/// use o2okit::*;
/// let till = VerifyingKeyring::new(MerchantId(7));
/// let voucher = Voucher::new(VoucherId(1), MerchantId(7), Currency::CNY,
///     Benefit::AmountOff { minor: 50_000 });
/// let minted = voucher.sign(&till); // error: expected `&Keyring`, found `&VerifyingKeyring`
/// ```
#[derive(Clone)]
pub struct VerifyingKeyring {
    table: KeyTable,
    /// The version of the key set it was loaded from, if any: a later load of an older set
    /// is refused.
    pub(crate) key_set_version: Option<u64>,
}

impl VerifyingKeyring {
    /// An empty verifying keyring of `merchant`.
    pub fn new(merchant: MerchantId) -> Self {
        Self::from_table(KeyTable::new(merchant))
    }

    pub(crate) fn from_table(mut table: KeyTable) -> Self {
        for entry in &mut table.entries {
            if entry.status == KeyStatus::Active {
                entry.status = KeyStatus::VerifyOnly;
            }
        }
        VerifyingKeyring {
            table,
            key_set_version: None,
        }
    }

    /// The merchant whose tokens it verifies.
    pub fn merchant(&self) -> MerchantId {
        self.table.merchant
    }

    /// Adds an Ed25519 public key of `role`.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKey`] when the id is taken.
    pub fn add_public_key(
        &mut self,
        id: KeyId,
        role: KeyRole,
        key: PublicKey,
    ) -> Result<(), KeyError> {
        self.push(id, role, KeyStatus::VerifyOnly, Check::Ed25519(key))
    }

    /// Adds an HMAC key of `role`, to verify with. The scheme is symmetric: the secret could
    /// mint outside this type, so give tills HMAC keys only where every till is trusted (one
    /// shop), or only a store-scoped key.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKey`] when the id is taken.
    pub fn add_hmac_key(
        &mut self,
        id: KeyId,
        role: KeyRole,
        key: &SigningKey,
    ) -> Result<(), KeyError> {
        self.push(id, role, KeyStatus::VerifyOnly, Check::Hmac(key.mac()))
    }

    pub(crate) fn push(
        &mut self,
        id: KeyId,
        role: KeyRole,
        status: KeyStatus,
        check: Check,
    ) -> Result<(), KeyError> {
        self.table
            .push(Entry {
                id,
                role,
                status,
                check,
            })
            .map(drop)
    }

    /// Retires `id`: tokens it signed are refused from now on.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`].
    pub fn retire(&mut self, id: KeyId) -> Result<(), KeyError> {
        self.table.retire(id)
    }

    /// The status of key `id` (never `Active`: this keyring signs nothing).
    pub fn status(&self, id: KeyId) -> Option<KeyStatus> {
        self.table.entry(id).map(|e| e.status)
    }

    /// The version of the key set this keyring was loaded from, if it was.
    pub fn key_set_version(&self) -> Option<u64> {
        self.key_set_version
    }
}

impl sealed::Sealed for VerifyingKeyring {
    fn table(&self) -> &KeyTable {
        &self.table
    }
}

impl Verifier for VerifyingKeyring {}

impl fmt::Debug for VerifyingKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKeyring")
            .field("merchant", &self.merchant())
            .field("keys", &self.key_roles())
            .field("key_set_version", &self.key_set_version)
            .finish()
    }
}
