//! Keys: who may sign what, and what a device needs to verify.
//!
//! # Schemes
//! A key is an HMAC-SHA256 secret ([`SigningKey`]) or an Ed25519 key pair ([`Ed25519Key`],
//! [`PublicKey`]); the token's header names the scheme. HMAC is the smallest and fastest and
//! fits one shop whose every device is trusted: whoever can verify can also mint. Ed25519 fits
//! a chain: the head office signs, tills verify with public keys and can mint nothing.
//!
//! # Roles
//! Every key has a [`KeyRole`]: vouchers (anywhere, or of one store only), membership cards
//! and share codes, the check-in codes of one store, a till's journal — or everything, for a
//! single shop. A keyring signs only with an active key whose role covers the token, and a
//! verifier refuses a token signed outside its key's role
//! ([`Rejection::KeyNotPermitted`](crate::Rejection::KeyNotPermitted)). Per-store and
//! per-till HMAC keys are derived from one [`MerchantSecret`].
//!
//! # Keyrings
//! - [`Keyring`]: a merchant's signing keys (and public keys it verifies with). At most one
//!   key per role is *active*; a token is signed by the narrowest active key whose role covers
//!   it (a store's own key before a chain-wide one, before an all-purpose key). Older keys stay
//!   *verify-only* so tokens already handed out keep working; a *retired* key verifies nothing (tokens signed with it are
//!   refused with [`Rejection::RetiredKey`](crate::Rejection::RetiredKey)), which is how a
//!   leaked key stops doing damage.
//! - [`VerifyingKeyring`]: what a till loads. It has no signing method at all: minting from
//!   it does not compile. Loaded from a [`key_set::KeySet`] signed by a root key the till
//!   pins, it holds public keys only, so nothing a till holds can mint.
//!
//! Every verifying function takes either, through the sealed [`Verifier`] trait.

pub mod key_set;
mod keyring;
mod material;
mod role;
mod table;
mod verifying;

pub use keyring::{ExportedKey, Keyring, KeyringExport};
pub use material::{Ed25519Key, KeyMaterial, MerchantSecret, PublicKey, SigningKey};
pub use role::KeyRole;
pub(crate) use role::Scope;
pub use verifying::VerifyingKeyring;

use crate::ids::{KeyId, MerchantId};
use crate::token::{TokenError, TokenKind};

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
    /// The keyring has no active signing key at all.
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
    /// No active key's role covers what was to be signed (a check-in screen's key asked for a
    /// voucher, a kiosk's store key for a voucher valid elsewhere).
    #[error("no active key may sign {0}")]
    NotPermitted(String),
    /// A public key cannot be made the signing key.
    #[error("key {0} is a public key: it verifies but cannot sign")]
    CannotSign(KeyId),
    /// Bytes that are not a key of the scheme.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new tokens of its role and verifies.
    Active,
    /// Verifies tokens it signed earlier; signs nothing.
    VerifyOnly,
    /// Verifies nothing: its tokens are refused.
    Retired,
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
    NotPermitted,
}

mod sealed {
    /// Only this crate's keyrings verify: the trait cannot be implemented elsewhere.
    pub trait Sealed {
        fn table(&self) -> &super::table::KeyTable;
    }
}

/// What verifies tokens: a [`Keyring`] or a [`VerifyingKeyring`]. Sealed: only those two
/// implement it, so every verifier applies the same checks.
pub trait Verifier: sealed::Sealed {
    /// The merchant whose tokens it verifies.
    fn merchant(&self) -> MerchantId {
        self.table().merchant
    }

    /// Every key's id, role and status, in the order added.
    fn key_roles(&self) -> Vec<(KeyId, KeyRole, KeyStatus)> {
        self.table()
            .entries
            .iter()
            .map(|e| (e.id, e.role, e.status))
            .collect()
    }
}

/// Opens `token` as `kind` with `keys`: its body and the signing key's role.
pub(crate) fn open<'t, V: Verifier + ?Sized>(
    keys: &V,
    token: &'t [u8],
    kind: TokenKind,
) -> Result<table::Opened<'t>, AuthError> {
    keys.table().open(token, kind)
}

#[cfg(test)]
mod tests {
    use super::material::HmacSha256;
    use super::*;
    use crate::token::{TAG_LEN, Token};
    use hmac::{KeyInit, Mac};

    fn body<'t>(ring: &Keyring, token: &'t Token, kind: TokenKind) -> Result<&'t [u8], AuthError> {
        open(ring, token.as_bytes(), kind).map(|opened| opened.body)
    }

    const ANY_STORE: Scope<'static> = Scope::VoucherStores(&[]);

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
            .seal(TokenKind::Voucher, MerchantId(1), ANY_STORE, |w| {
                w.bytes(b"body")
            })
            .unwrap();
        let len = token.as_bytes().len();
        for index in [len - TAG_LEN, len - 1] {
            let mut bytes = token.as_bytes().to_vec();
            bytes[index] ^= 0x01;
            let forged = Token::from_bytes(bytes).unwrap();
            assert_eq!(
                body(&ring, &forged, TokenKind::Voucher),
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
            .seal(TokenKind::Voucher, MerchantId(1), ANY_STORE, |w| {
                w.bytes(b"body")
            })
            .unwrap();
        assert_eq!(body(&ring, &token, TokenKind::Voucher).unwrap(), b"body");
        assert_eq!(
            body(&ring, &token, TokenKind::CheckIn),
            Err(AuthError::WrongKind)
        );
        let other_key = Keyring::with_active_key(MerchantId(1), KeyId(1), key(2));
        assert_eq!(
            body(&other_key, &token, TokenKind::Voucher),
            Err(AuthError::BadSignature)
        );
        let other_merchant = Keyring::with_active_key(MerchantId(2), KeyId(1), key(1));
        assert_eq!(
            body(&other_merchant, &token, TokenKind::Voucher),
            Err(AuthError::WrongMerchant)
        );
        assert!(matches!(
            ring.seal(TokenKind::Voucher, MerchantId(2), ANY_STORE, |_| {}),
            Err(crate::Error::Key(KeyError::WrongMerchant { .. }))
        ));
        assert_eq!(
            Keyring::new(MerchantId(1)).seal(TokenKind::Voucher, MerchantId(1), ANY_STORE, |_| {}),
            Err(crate::Error::Key(KeyError::NoActiveKey))
        );
        assert!(matches!(
            ring.seal(TokenKind::Voucher, MerchantId(1), ANY_STORE, |w| w
                .bytes(&[0; 2000])),
            Err(crate::Error::Token(TokenError::TooLong(_)))
        ));
    }
}
