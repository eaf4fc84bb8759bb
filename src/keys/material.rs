//! Key material: HMAC secrets, Ed25519 private and public keys, and the merchant secret that
//! per-store and per-till keys are derived from.

use super::KeyError;
use super::role::KeyRole;
use crate::ids::MerchantId;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// A secret HMAC-SHA256 key: at least 32 random bytes. The bytes are wiped from memory when
/// the key is dropped and never appear in `Debug` output. Whoever holds it can both verify
/// and mint: give it only to devices trusted with everything its role signs.
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

    /// The secret bytes, to write them to a key store: an explicit call, never implied.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; the length was checked on construction.
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length")
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<secret>)")
    }
}

/// An Ed25519 private key (RFC 8032): signs tokens that any holder of its [`PublicKey`] can
/// verify and nobody else can make. Kept by the head office (or a key-signing service), never
/// by a till. Wiped from memory on drop; never in `Debug` output.
#[derive(Clone)]
pub struct Ed25519Key(ed25519_dalek::SigningKey);

impl Ed25519Key {
    /// The key of a 32-byte seed, which must come from a cryptographic random source.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Ed25519Key(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The key of a seed given as a slice.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] unless exactly 32 bytes.
    pub fn from_bytes(seed: &[u8]) -> Result<Self, KeyError> {
        let seed: &[u8; 32] = seed.try_into().map_err(|_| {
            KeyError::InvalidKey(format!("an Ed25519 seed is 32 bytes, got {}", seed.len()))
        })?;
        Ok(Self::from_seed(seed))
    }

    /// The public key that verifies what this key signs.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The 32-byte seed, to write it to a key store: an explicit call, never implied.
    pub fn expose_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ed25519Key(<secret>, public {:?})", self.public_key())
    }
}

/// An Ed25519 public key: verifies, cannot sign. What tills, kiosks and phones hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub(crate) ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// The key of its 32-byte encoding.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] unless 32 bytes that encode a point of the curve outside its
    /// small subgroup (a weak key would accept forged signatures).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: &[u8; 32] = bytes.try_into().map_err(|_| {
            KeyError::InvalidKey(format!(
                "an Ed25519 public key is 32 bytes, got {}",
                bytes.len()
            ))
        })?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::InvalidKey("not an Ed25519 public key".into()))?;
        if key.is_weak() {
            return Err(KeyError::InvalidKey(
                "a weak (small-order) Ed25519 public key".into(),
            ));
        }
        Ok(PublicKey(key))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Whether `signature` is this key's signature of `message`, checked strictly (no
    /// malleable or non-canonical signatures, no small-order components).
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        self.0.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublicKey(")?;
        for byte in self.to_bytes() {
            write!(f, "{byte:02x}")?;
        }
        f.write_str(")")
    }
}

/// In JSON (key sets), a public key is its 32 bytes in base64url without padding.
impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.to_bytes());
        serializer.serialize_str(&text)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("a public key is base64url without padding"))?;
        PublicKey::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// What a keyring holds for one key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyMaterial {
    /// An HMAC-SHA256 secret: signs and verifies.
    Hmac(SigningKey),
    /// An Ed25519 private key: signs, and verifies with its public half.
    Ed25519(Ed25519Key),
    /// An Ed25519 public key: verifies only.
    Public(PublicKey),
}

impl From<SigningKey> for KeyMaterial {
    fn from(key: SigningKey) -> Self {
        KeyMaterial::Hmac(key)
    }
}

impl From<Ed25519Key> for KeyMaterial {
    fn from(key: Ed25519Key) -> Self {
        KeyMaterial::Ed25519(key)
    }
}

impl From<PublicKey> for KeyMaterial {
    fn from(key: PublicKey) -> Self {
        KeyMaterial::Public(key)
    }
}

/// A merchant's root HMAC secret, from which the head office derives one key per role and
/// scope (every store's check-in key, every till's journal key) with HKDF-SHA256 (RFC 5869),
/// instead of storing thousands of keys. A store's screen receives only its own derived key;
/// from it, neither the root nor another store's key can be computed.
#[derive(Clone)]
pub struct MerchantSecret(Zeroizing<Vec<u8>>);

impl MerchantSecret {
    /// The HKDF salt: names the construction, so these keys are never reused elsewhere.
    const SALT: &'static [u8] = b"o2okit key derivation v1";

    /// A merchant secret from at least 32 random bytes.
    ///
    /// # Errors
    /// [`KeyError::TooShort`] below 32 bytes.
    pub fn from_bytes(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < SigningKey::MIN_LEN {
            return Err(KeyError::TooShort(secret.len()));
        }
        Ok(MerchantSecret(Zeroizing::new(secret.to_vec())))
    }

    /// The HMAC key of `merchant` for `role`: HKDF-SHA256 with info
    /// `"o2okit" ‖ merchant (u32 LE) ‖ role tag ‖ store or till id (u32 LE)`, 32 bytes.
    pub fn derive(&self, merchant: MerchantId, role: KeyRole) -> SigningKey {
        let mut info = [0u8; 15];
        info[..6].copy_from_slice(b"o2okit");
        info[6..10].copy_from_slice(&merchant.0.to_le_bytes());
        info[10..].copy_from_slice(&role.derivation_info());
        let hkdf = hkdf::Hkdf::<Sha256>::new(Some(Self::SALT), &self.0);
        let mut okm = Zeroizing::new([0u8; 32]);
        hkdf.expand(&info, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SigningKey::from_bytes(okm.as_ref()).expect("32 bytes is long enough")
    }
}

impl fmt::Debug for MerchantSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MerchantSecret(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{StoreId, TillId};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn ed25519_matches_rfc_8032_test_1() {
        let seed: [u8; 32] = (0..32)
            .map(|i| {
                u8::from_str_radix(
                    &"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
                        [i * 2..i * 2 + 2],
                    16,
                )
                .unwrap()
            })
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let key = Ed25519Key::from_seed(&seed);
        assert_eq!(
            hex(&key.public_key().to_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let signature = key.sign(b"");
        assert_eq!(
            hex(&signature),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(key.public_key().verifies(b"", &signature));
        assert!(!key.public_key().verifies(b"x", &signature));
        assert!(!key.public_key().verifies(b"", &signature[..63]));
    }

    #[test]
    fn public_keys_that_are_not_keys_are_refused() {
        assert!(PublicKey::from_bytes(&[0; 31]).is_err());
        // The identity point: small order, would verify forged signatures.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_bytes(&identity),
            Err(KeyError::InvalidKey(_))
        ));
    }

    #[test]
    fn derived_keys_differ_by_merchant_role_and_scope_and_are_stable() {
        let root = MerchantSecret::from_bytes(&[7; 32]).unwrap();
        let m = MerchantId(88);
        let a = root.derive(m, KeyRole::CheckIn(StoreId(1)));
        assert_eq!(
            a.expose_secret(),
            root.derive(m, KeyRole::CheckIn(StoreId(1))).expose_secret()
        );
        for other in [
            root.derive(m, KeyRole::CheckIn(StoreId(2))),
            root.derive(MerchantId(89), KeyRole::CheckIn(StoreId(1))),
            root.derive(m, KeyRole::Journal(TillId(1))),
            root.derive(m, KeyRole::StoreVouchers(StoreId(1))),
            MerchantSecret::from_bytes(&[8; 32])
                .unwrap()
                .derive(m, KeyRole::CheckIn(StoreId(1))),
        ] {
            assert_ne!(a.expose_secret(), other.expose_secret());
        }
        assert!(MerchantSecret::from_bytes(&[7; 31]).is_err());
        assert_eq!(format!("{root:?}"), "MerchantSecret(<secret>)");
    }
}
