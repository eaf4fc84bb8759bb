//! Merchant keyrings: HMAC-SHA256 signing keys with ids, rotation and retirement.
//!
//! A keyring holds one merchant's keys. Exactly one key at a time is *active* and signs new
//! tokens; older keys stay *verify-only* so tokens already handed out keep working; a
//! *retired* key verifies nothing (tokens signed with it are refused with
//! [`Rejection::RetiredKey`](crate::Rejection::RetiredKey)), which is how a leaked key stops
//! doing damage. Rotation is therefore: add a new key, activate it, and retire the old one
//! once the vouchers it signed have expired — or at once if it leaked.

use crate::ids::{KeyId, MerchantId};
use crate::token::wire::Writer;
use crate::token::{FORMAT_VERSION, TAG_LEN, Token, TokenError, TokenKind};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Why a key or keyring operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Secret shorter than [`SigningKey::MIN_LEN`] bytes.
    #[error("signing key too short: {0} bytes, at least 32 required")]
    TooShort(usize),
    /// The key id is already on the keyring.
    #[error("key {0} is already on the keyring")]
    DuplicateKey(KeyId),
    /// The key id is not on the keyring.
    #[error("key {0} is not on the keyring")]
    UnknownKey(KeyId),
    /// The key is retired and can neither sign nor be re-activated.
    #[error("key {0} is retired")]
    Retired(KeyId),
    /// The active key cannot be retired; activate another first.
    #[error("key {0} is the active signing key; activate another key before retiring it")]
    RetiringActiveKey(KeyId),
    /// The keyring has no active key to sign with.
    #[error("the keyring has no active signing key")]
    NoActiveKey,
    /// The thing to sign belongs to another merchant.
    #[error("cannot sign for merchant {found} with the keyring of merchant {expected}")]
    WrongMerchant {
        /// The keyring's merchant.
        expected: MerchantId,
        /// The merchant named by what was to be signed.
        found: MerchantId,
    },
}

/// A secret HMAC-SHA256 key: at least 32 random bytes. The bytes are wiped from memory when
/// the key is dropped and never appear in `Debug` output.
#[derive(Clone)]
pub struct SigningKey(Zeroizing<Vec<u8>>);

impl SigningKey {
    /// The shortest secret accepted (the HMAC-SHA256 output size, per RFC 2104 §3).
    pub const MIN_LEN: usize = 32;

    /// A key from secret bytes, which should come from a cryptographic random source.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] below [`SigningKey::MIN_LEN`] bytes.
    pub fn from_bytes(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < Self::MIN_LEN {
            return Err(KeyError::TooShort(secret.len()));
        }
        Ok(SigningKey(Zeroizing::new(secret.to_vec())))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; the length was checked on construction.
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl SigningKey {
    /// The secret bytes, to write them to a key store: an explicit call, never implied.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<secret>)")
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new tokens and verifies.
    Active,
    /// Verifies tokens it signed earlier; signs nothing.
    VerifyOnly,
    /// Verifies nothing: its tokens are refused.
    Retired,
}

struct KeyEntry {
    id: KeyId,
    status: KeyStatus,
    /// Kept only for [`Keyring::export_secrets`]; wiped on drop.
    secret: SigningKey,
    /// HMAC state with the key already absorbed: each use clones it instead of re-keying,
    /// which saves two SHA-256 compressions per token.
    keyed: HmacSha256,
}

/// A keyring's content with its secrets, from [`Keyring::export_secrets`]. `Debug` shows ids
/// and statuses, never secrets; read a secret with [`SigningKey::expose_secret`].
#[derive(Debug, Clone)]
pub struct KeyringExport {
    /// The merchant whose keys these are.
    pub merchant: MerchantId,
    /// The keys, in the order added.
    pub keys: Vec<ExportedKey>,
}

/// One exported key.
#[derive(Debug, Clone)]
pub struct ExportedKey {
    /// Its id.
    pub id: KeyId,
    /// Its status.
    pub status: KeyStatus,
    /// Its secret.
    pub secret: SigningKey,
}

/// Why a token failed authentication. Each maps to one [`crate::Rejection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthError {
    Malformed(TokenError),
    WrongKind,
    WrongMerchant,
    UnknownKey,
    RetiredKey,
    BadSignature,
}

/// One merchant's signing keys.
///
/// Thread safety: a `Keyring` is `Send + Sync`; verification takes `&self`, so one keyring can
/// serve many tills' threads at once.
pub struct Keyring {
    merchant: MerchantId,
    keys: Vec<KeyEntry>,
}

impl Keyring {
    /// An empty keyring for `merchant`.
    pub fn new(merchant: MerchantId) -> Self {
        Keyring {
            merchant,
            keys: Vec::new(),
        }
    }

    /// A keyring with one key, active.
    pub fn with_active_key(merchant: MerchantId, id: KeyId, key: SigningKey) -> Self {
        let mut ring = Keyring::new(merchant);
        ring.keys.push(KeyEntry {
            id,
            status: KeyStatus::Active,
            keyed: key.mac(),
            secret: key,
        });
        ring
    }

    /// The merchant whose keys these are.
    pub fn merchant(&self) -> MerchantId {
        self.merchant
    }

    /// Adds a key as verify-only; [`Keyring::activate`] makes it the signing key.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKey`] when the id is taken.
    pub fn add(&mut self, id: KeyId, key: SigningKey) -> Result<(), KeyError> {
        if self.entry(id).is_some() {
            return Err(KeyError::DuplicateKey(id));
        }
        self.keys.push(KeyEntry {
            id,
            status: KeyStatus::VerifyOnly,
            keyed: key.mac(),
            secret: key,
        });
        Ok(())
    }

    /// Makes `id` the signing key; the previous active key becomes verify-only.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`], or [`KeyError::Retired`] for a retired key.
    pub fn activate(&mut self, id: KeyId) -> Result<(), KeyError> {
        match self.status(id) {
            None => return Err(KeyError::UnknownKey(id)),
            Some(KeyStatus::Retired) => return Err(KeyError::Retired(id)),
            Some(_) => {}
        }
        for entry in &mut self.keys {
            if entry.id == id {
                entry.status = KeyStatus::Active;
            } else if entry.status == KeyStatus::Active {
                entry.status = KeyStatus::VerifyOnly;
            }
        }
        Ok(())
    }

    /// Retires `id`: tokens it signed are refused from now on.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`], or [`KeyError::RetiringActiveKey`] for the active key.
    pub fn retire(&mut self, id: KeyId) -> Result<(), KeyError> {
        let entry = self
            .keys
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or(KeyError::UnknownKey(id))?;
        if entry.status == KeyStatus::Active {
            return Err(KeyError::RetiringActiveKey(id));
        }
        entry.status = KeyStatus::Retired;
        Ok(())
    }

    /// The status of key `id`, or `None` when it is not on the keyring.
    pub fn status(&self, id: KeyId) -> Option<KeyStatus> {
        self.entry(id).map(|e| e.status)
    }

    /// Every key's id and status, in the order added (no secrets).
    pub fn keys(&self) -> impl Iterator<Item = (KeyId, KeyStatus)> + '_ {
        self.keys.iter().map(|e| (e.id, e.status))
    }

    /// The keyring's whole content, secrets included, to store it in a key store. This is the
    /// only way secrets leave a keyring: `Debug` redacts them and neither a keyring nor an
    /// export implements serde, so nothing is written out by accident.
    pub fn export_secrets(&self) -> KeyringExport {
        KeyringExport {
            merchant: self.merchant,
            keys: self
                .keys
                .iter()
                .map(|e| ExportedKey {
                    id: e.id,
                    status: e.status,
                    secret: e.secret.clone(),
                })
                .collect(),
        }
    }

    /// A keyring from an export (or from a key store holding the same fields).
    ///
    /// # Errors
    /// [`KeyError::DuplicateKey`] for an id listed twice; [`KeyError::RetiringActiveKey`] when
    /// more than one key is active (the second is named).
    pub fn import(export: KeyringExport) -> Result<Keyring, KeyError> {
        let mut ring = Keyring::new(export.merchant);
        for key in export.keys {
            if ring.entry(key.id).is_some() {
                return Err(KeyError::DuplicateKey(key.id));
            }
            if key.status == KeyStatus::Active && ring.active_key().is_some() {
                return Err(KeyError::RetiringActiveKey(key.id));
            }
            ring.keys.push(KeyEntry {
                id: key.id,
                status: key.status,
                keyed: key.secret.mac(),
                secret: key.secret,
            });
        }
        Ok(ring)
    }

    /// The id of the active signing key, if any.
    pub fn active_key(&self) -> Option<KeyId> {
        self.keys
            .iter()
            .find(|e| e.status == KeyStatus::Active)
            .map(|e| e.id)
    }

    fn entry(&self, id: KeyId) -> Option<&KeyEntry> {
        self.keys.iter().find(|e| e.id == id)
    }

    /// Signs a token of `kind` for `merchant` whose body `write_body` appends.
    pub(crate) fn seal(
        &self,
        kind: TokenKind,
        merchant: MerchantId,
        write_body: impl FnOnce(&mut Writer),
    ) -> Result<Token, crate::Error> {
        if merchant != self.merchant {
            return Err(KeyError::WrongMerchant {
                expected: self.merchant,
                found: merchant,
            }
            .into());
        }
        let entry = self
            .keys
            .iter()
            .find(|e| e.status == KeyStatus::Active)
            .ok_or(KeyError::NoActiveKey)?;
        let mut writer = Writer::with_capacity(96);
        writer.u8(FORMAT_VERSION);
        writer.u8(kind.code());
        writer.varint(u64::from(self.merchant.0));
        writer.varint(u64::from(entry.id.0));
        write_body(&mut writer);
        if writer.len() + TAG_LEN > crate::token::MAX_LEN {
            return Err(TokenError::TooLong(writer.len() + TAG_LEN).into());
        }
        let mut mac = entry.keyed.clone();
        mac.update(writer.as_slice());
        let tag = mac.finalize().into_bytes();
        writer.bytes(&tag[..TAG_LEN]);
        Ok(Token::from_signed_parts(writer.into_bytes()))
    }

    /// Checks a token's header and signature and returns its body. Nothing in the body is
    /// read before the signature has been checked.
    pub(crate) fn open<'t>(
        &self,
        token: &'t Token,
        expected: TokenKind,
    ) -> Result<&'t [u8], AuthError> {
        let parts = token.split().map_err(AuthError::Malformed)?;
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
        let mut mac = entry.keyed.clone();
        mac.update(parts.signed);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(parts.tag)
            .map_err(|_| AuthError::BadSignature)?;
        Ok(parts.body)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<_> = self.keys.iter().map(|e| (e.id, e.status)).collect();
        f.debug_struct("Keyring")
            .field("merchant", &self.merchant)
            .field("keys", &keys)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32]).unwrap()
    }

    /// RFC 4231 test case 2 ("Jefe"), and case 6 (a 131-byte key, longer than a block):
    /// proves the HMAC construction the keyring relies on, including the pre-keyed clone.
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        let keyed = mac.clone();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            mac.finalize().into_bytes()[..],
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")[..]
        );
        let mut again = keyed;
        again.update(b"what do ya want for nothing?");
        assert!(
            again
                .verify_truncated_left(&hex("5bdcc146bf60754e6a042426089575c7"))
                .is_ok()
        );

        let mut mac = HmacSha256::new_from_slice(&[0xaa; 131]).unwrap();
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            mac.finalize().into_bytes()[..],
            hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")[..]
        );
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_tag_wrong_in_its_first_or_last_byte_is_a_bad_signature() {
        // The comparison is HMAC's constant-time `verify_truncated_left`: it reads the whole
        // tag whichever byte differs. This checks the outcome; the timing is by construction.
        let ring = Keyring::with_active_key(MerchantId(1), KeyId(1), key(1));
        let token = ring
            .seal(TokenKind::Voucher, MerchantId(1), |w| w.bytes(b"body"))
            .unwrap();
        let len = token.as_bytes().len();
        for index in [len - TAG_LEN, len - 1] {
            let mut bytes = token.as_bytes().to_vec();
            bytes[index] ^= 0x01;
            let forged = Token::from_bytes(bytes).unwrap();
            assert_eq!(
                ring.open(&forged, TokenKind::Voucher),
                Err(AuthError::BadSignature)
            );
        }
    }

    #[test]
    fn short_keys_are_refused_and_never_printed() {
        assert_eq!(
            SigningKey::from_bytes(&[1; 31]).unwrap_err(),
            KeyError::TooShort(31)
        );
        assert_eq!(format!("{:?}", key(7)), "SigningKey(<secret>)");
    }

    #[test]
    fn rotation_moves_the_active_key() {
        let mut ring = Keyring::with_active_key(MerchantId(1), KeyId(1), key(1));
        ring.add(KeyId(2), key(2)).unwrap();
        assert_eq!(ring.active_key(), Some(KeyId(1)));
        assert_eq!(
            ring.add(KeyId(2), key(3)),
            Err(KeyError::DuplicateKey(KeyId(2)))
        );
        ring.activate(KeyId(2)).unwrap();
        assert_eq!(ring.active_key(), Some(KeyId(2)));
        assert_eq!(ring.status(KeyId(1)), Some(KeyStatus::VerifyOnly));
        assert_eq!(
            ring.retire(KeyId(2)),
            Err(KeyError::RetiringActiveKey(KeyId(2)))
        );
        ring.retire(KeyId(1)).unwrap();
        assert_eq!(ring.activate(KeyId(1)), Err(KeyError::Retired(KeyId(1))));
        assert_eq!(ring.activate(KeyId(9)), Err(KeyError::UnknownKey(KeyId(9))));
    }

    #[test]
    fn sealed_tokens_open_only_with_their_key_kind_and_merchant() {
        let ring = Keyring::with_active_key(MerchantId(1), KeyId(1), key(1));
        let token = ring
            .seal(TokenKind::Voucher, MerchantId(1), |w| w.bytes(b"body"))
            .unwrap();
        assert_eq!(ring.open(&token, TokenKind::Voucher).unwrap(), b"body");
        assert_eq!(
            ring.open(&token, TokenKind::CheckIn),
            Err(AuthError::WrongKind)
        );
        let other_key = Keyring::with_active_key(MerchantId(1), KeyId(1), key(2));
        assert_eq!(
            other_key.open(&token, TokenKind::Voucher),
            Err(AuthError::BadSignature)
        );
        let other_merchant = Keyring::with_active_key(MerchantId(2), KeyId(1), key(1));
        assert_eq!(
            other_merchant.open(&token, TokenKind::Voucher),
            Err(AuthError::WrongMerchant)
        );
        assert!(matches!(
            ring.seal(TokenKind::Voucher, MerchantId(2), |_| {}),
            Err(crate::Error::Key(KeyError::WrongMerchant { .. }))
        ));
        assert_eq!(
            Keyring::new(MerchantId(1)).seal(TokenKind::Voucher, MerchantId(1), |_| {}),
            Err(crate::Error::Key(KeyError::NoActiveKey))
        );
        assert!(matches!(
            ring.seal(TokenKind::Voucher, MerchantId(1), |w| w.bytes(&[0; 2000])),
            Err(crate::Error::Token(TokenError::TooLong(_)))
        ));
    }
}
