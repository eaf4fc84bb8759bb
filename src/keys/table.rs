//! The verifying half of every keyring: key ids, roles, statuses and what checks a signature.

use super::material::{HmacSha256, PublicKey};
use super::role::KeyRole;
use super::{AuthError, KeyError, KeyStatus};
use crate::ids::{KeyId, MerchantId};
use crate::token::{Scheme, TokenKind};
use hmac::Mac;

/// What checks one key's signatures.
#[derive(Clone)]
pub(crate) enum Check {
    /// HMAC state with the key already absorbed: each use clones it instead of re-keying,
    /// which saves two SHA-256 compressions per token.
    Hmac(HmacSha256),
    /// An Ed25519 public key.
    Ed25519(PublicKey),
}

impl Check {
    pub(crate) fn scheme(&self) -> Scheme {
        match self {
            Check::Hmac(_) => Scheme::HmacSha256,
            Check::Ed25519(_) => Scheme::Ed25519,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) id: KeyId,
    pub(crate) role: KeyRole,
    pub(crate) status: KeyStatus,
    pub(crate) check: Check,
}

/// A token whose signature checked out: its body and the role of the key that signed it.
#[derive(Debug, Clone, Copy)]
pub struct Opened<'t> {
    pub(crate) body: &'t [u8],
    pub(crate) role: KeyRole,
}

/// One merchant's keys as a verifier sees them. Not nameable outside the crate: reached only
/// through [`super::Verifier`].
#[derive(Clone)]
pub struct KeyTable {
    pub(crate) merchant: MerchantId,
    pub(crate) entries: Vec<Entry>,
    /// `(id, position in entries)` sorted by id: a binary search, no hashing, on every token.
    index: Vec<(KeyId, usize)>,
}

impl KeyTable {
    pub(crate) fn new(merchant: MerchantId) -> Self {
        KeyTable {
            merchant,
            entries: Vec::new(),
            index: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, entry: Entry) -> Result<usize, KeyError> {
        let slot = match self.index.binary_search_by_key(&entry.id, |&(id, _)| id) {
            Ok(_) => return Err(KeyError::DuplicateKey(entry.id)),
            Err(slot) => slot,
        };
        let position = self.entries.len();
        self.index.insert(slot, (entry.id, position));
        self.entries.push(entry);
        Ok(position)
    }

    pub(crate) fn position(&self, id: KeyId) -> Option<usize> {
        self.index
            .binary_search_by_key(&id, |&(id, _)| id)
            .ok()
            .map(|slot| self.index[slot].1)
    }

    pub(crate) fn entry(&self, id: KeyId) -> Option<&Entry> {
        self.position(id).map(|i| &self.entries[i])
    }

    /// Retires `id`.
    pub(crate) fn retire(&mut self, id: KeyId) -> Result<(), KeyError> {
        let i = self.position(id).ok_or(KeyError::UnknownKey(id))?;
        let entry = &mut self.entries[i];
        if entry.status == KeyStatus::Active {
            return Err(KeyError::RetiringActiveKey(id));
        }
        entry.status = KeyStatus::Retired;
        Ok(())
    }

    /// Checks a token's header and signature and returns its body with the signing key's
    /// role. Nothing in the body is read before the signature has been checked; the caller
    /// checks the role's scope against what the body claims.
    pub(crate) fn open<'t>(
        &self,
        token: &'t [u8],
        expected: TokenKind,
    ) -> Result<Opened<'t>, AuthError> {
        let parts = crate::token::split(token).map_err(AuthError::Malformed)?;
        let header = parts.header;
        if header.kind != expected {
            return Err(AuthError::WrongKind);
        }
        if header.merchant != self.merchant {
            return Err(AuthError::WrongMerchant);
        }
        let entry = self.entry(header.key).ok_or(AuthError::UnknownKey)?;
        if entry.status == KeyStatus::Retired {
            return Err(AuthError::RetiredKey);
        }
        let genuine = match (&entry.check, header.scheme) {
            (Check::Hmac(keyed), Scheme::HmacSha256) => {
                let mut mac = keyed.clone();
                mac.update(parts.signed);
                // Constant-time comparison of the truncated tag.
                mac.verify_truncated_left(parts.tag).is_ok()
            }
            (Check::Ed25519(public), Scheme::Ed25519) => public.verifies(parts.signed, parts.tag),
            // A key of one scheme never checks a token claiming the other.
            _ => false,
        };
        if !genuine {
            return Err(AuthError::BadSignature);
        }
        if !entry.role.signs_kind(expected) {
            return Err(AuthError::NotPermitted);
        }
        Ok(Opened {
            body: parts.body,
            role: entry.role,
        })
    }
}
