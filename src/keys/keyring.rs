//! [`Keyring`]: one merchant's signing keys, with roles, rotation and retirement.

use super::material::{Ed25519Key, KeyMaterial, SigningKey};
use super::role::{KeyRole, Scope};
use super::table::{Check, Entry, KeyTable};
use super::verifying::VerifyingKeyring;
use super::{KeyError, KeyStatus, Verifier, sealed};
use crate::ids::{KeyId, MerchantId};
use crate::token::wire::Writer;
use crate::token::{FORMAT_VERSION, Token, TokenError, TokenKind};
use hmac::Mac;
use std::fmt;

/// The secret half of a key, beside its entry in the table.
#[derive(Clone)]
enum Secret {
    Hmac(SigningKey),
    Ed25519(Ed25519Key),
    /// A public key (kept in the table's check): verifies, signs nothing.
    None,
}

/// A keyring's content with its secrets, from [`Keyring::export_secrets`]. `Debug` shows ids,
/// roles and statuses, never secrets.
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
    /// What it may sign.
    pub role: KeyRole,
    /// Its status.
    pub status: KeyStatus,
    /// Its material (secrets redacted in `Debug`).
    pub material: KeyMaterial,
}

/// One merchant's signing keys (and the public keys it verifies with).
///
/// Thread safety: a `Keyring` is `Send + Sync`; signing and verification take `&self`, so one
/// keyring can serve many threads at once.
///
/// # Example
/// ```
/// use o2okit::*;
///
/// // A chain: the head office signs vouchers with Ed25519 and gives tills public keys only.
/// let mut head_office = Keyring::new(MerchantId(7));
/// head_office.add_key(KeyId(1), KeyRole::Vouchers, Ed25519Key::from_seed(&[4; 32]))?;
/// head_office.activate(KeyId(1))?;
/// let text = Voucher::new(VoucherId(1), MerchantId(7), Currency::CNY,
///         Benefit::AmountOff { minor: 500 })
///     .sign(&head_office)?
///     .to_scanner_text();
///
/// let till: VerifyingKeyring = head_office.verifying_keyring();
/// let store = Store::new(StoreId(1), MerchantId(7), chrono_tz::Asia::Shanghai,
///     RegionCode::new("440305")?);
/// let basket = Basket::single(Currency::CNY, 1_000)?;
/// let ctx = RedemptionContext::new(&store, "2026-12-24T04:00:00Z".parse()?, &basket);
/// assert!(verify(&text, &till, &ctx).is_accepted());
/// // `Voucher::sign(&till)` does not compile: a VerifyingKeyring has no signing method.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Keyring {
    table: KeyTable,
    /// Parallel to `table.entries`.
    secrets: Vec<Secret>,
}

impl Keyring {
    /// An empty keyring for `merchant`.
    pub fn new(merchant: MerchantId) -> Self {
        Keyring {
            table: KeyTable::new(merchant),
            secrets: Vec::new(),
        }
    }

    /// A single shop's keyring: one HMAC key that signs everything ([`KeyRole::All`]), active.
    pub fn with_active_key(merchant: MerchantId, id: KeyId, key: SigningKey) -> Self {
        let mut ring = Keyring::new(merchant);
        ring.push(id, KeyRole::All, KeyStatus::Active, key.into())
            .expect("an empty keyring has no duplicate");
        ring
    }

    /// The merchant whose keys these are.
    pub fn merchant(&self) -> MerchantId {
        self.table.merchant
    }

    fn push(
        &mut self,
        id: KeyId,
        role: KeyRole,
        status: KeyStatus,
        material: KeyMaterial,
    ) -> Result<(), KeyError> {
        let (check, secret) = match material {
            KeyMaterial::Hmac(key) => (Check::Hmac(key.mac()), Secret::Hmac(key)),
            KeyMaterial::Ed25519(key) => (Check::Ed25519(key.public_key()), Secret::Ed25519(key)),
            KeyMaterial::Public(key) => (Check::Ed25519(key), Secret::None),
        };
        if status == KeyStatus::Active && matches!(secret, Secret::None) {
            return Err(KeyError::CannotSign(id));
        }
        self.table.push(Entry {
            id,
            role,
            status,
            check,
        })?;
        self.secrets.push(secret);
        Ok(())
    }

    /// Adds an HMAC key that may sign everything ([`KeyRole::All`]), verify-only;
    /// [`Keyring::activate`] makes it the signing key.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKey`] when the id is taken.
    pub fn add(&mut self, id: KeyId, key: SigningKey) -> Result<(), KeyError> {
        self.add_key(id, KeyRole::All, key)
    }

    /// Adds a key of `role`, verify-only: an HMAC secret, an Ed25519 private key, or an Ed25519
    /// public key (which verifies and can never sign). [`Keyring::activate`] makes a secret the
    /// signing key of its role.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKey`] when the id is taken.
    pub fn add_key(
        &mut self,
        id: KeyId,
        role: KeyRole,
        key: impl Into<KeyMaterial>,
    ) -> Result<(), KeyError> {
        self.push(id, role, KeyStatus::VerifyOnly, key.into())
    }

    /// Makes `id` the signing key of its role; the role's previous active key becomes
    /// verify-only. Keys of other roles keep their status.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`]; [`KeyError::Retired`] for a retired key;
    /// [`KeyError::CannotSign`] for a public key.
    pub fn activate(&mut self, id: KeyId) -> Result<(), KeyError> {
        let i = self.table.position(id).ok_or(KeyError::UnknownKey(id))?;
        if self.table.entries[i].status == KeyStatus::Retired {
            return Err(KeyError::Retired(id));
        }
        if matches!(self.secrets[i], Secret::None) {
            return Err(KeyError::CannotSign(id));
        }
        let role = self.table.entries[i].role;
        for entry in &mut self.table.entries {
            if entry.id == id {
                entry.status = KeyStatus::Active;
            } else if entry.role == role && entry.status == KeyStatus::Active {
                entry.status = KeyStatus::VerifyOnly;
            }
        }
        Ok(())
    }

    /// Makes the active key `id` verify-only: its role signs nothing until another key of it
    /// is activated (and it may then be retired).
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`].
    pub fn deactivate(&mut self, id: KeyId) -> Result<(), KeyError> {
        let i = self.table.position(id).ok_or(KeyError::UnknownKey(id))?;
        let entry = &mut self.table.entries[i];
        if entry.status == KeyStatus::Active {
            entry.status = KeyStatus::VerifyOnly;
        }
        Ok(())
    }

    /// Retires `id`: tokens it signed are refused from now on.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`], or [`KeyError::RetiringActiveKey`] for an active key.
    pub fn retire(&mut self, id: KeyId) -> Result<(), KeyError> {
        self.table.retire(id)
    }

    /// The status of key `id`, or `None` when it is not on the keyring.
    pub fn status(&self, id: KeyId) -> Option<KeyStatus> {
        self.table.entry(id).map(|e| e.status)
    }

    /// The role of key `id`, or `None` when it is not on the keyring.
    pub fn role(&self, id: KeyId) -> Option<KeyRole> {
        self.table.entry(id).map(|e| e.role)
    }

    /// Every key's id and status, in the order added (no secrets).
    pub fn keys(&self) -> impl Iterator<Item = (KeyId, KeyStatus)> + '_ {
        self.table.entries.iter().map(|e| (e.id, e.status))
    }

    /// The id of the first active key, if any (with one role, the signing key).
    pub fn active_key(&self) -> Option<KeyId> {
        self.table
            .entries
            .iter()
            .find(|e| e.status == KeyStatus::Active)
            .map(|e| e.id)
    }

    /// What a till needs to verify this keyring's tokens, and nothing to sign with: Ed25519
    /// keys as public keys, HMAC keys as pre-keyed verification state. With HMAC keys the
    /// till's memory still holds what could mint (the scheme is symmetric); only a keyring of
    /// Ed25519 keys makes a till that cannot.
    pub fn verifying_keyring(&self) -> VerifyingKeyring {
        VerifyingKeyring::from_table(self.table.clone())
    }

    /// The keyring's whole content, secrets included, to store it in a key store. This is the
    /// only way secrets leave a keyring: `Debug` redacts them and neither a keyring nor an
    /// export implements serde, so nothing is written out by accident.
    pub fn export_secrets(&self) -> KeyringExport {
        KeyringExport {
            merchant: self.merchant(),
            keys: self
                .table
                .entries
                .iter()
                .zip(&self.secrets)
                .map(|(e, secret)| ExportedKey {
                    id: e.id,
                    role: e.role,
                    status: e.status,
                    material: match (secret, &e.check) {
                        (Secret::Hmac(key), _) => KeyMaterial::Hmac(key.clone()),
                        (Secret::Ed25519(key), _) => KeyMaterial::Ed25519(key.clone()),
                        (Secret::None, Check::Ed25519(key)) => KeyMaterial::Public(*key),
                        (Secret::None, Check::Hmac(_)) => {
                            unreachable!("an HMAC key always keeps its secret")
                        }
                    },
                })
                .collect(),
        }
    }

    /// A keyring from an export (or from a key store holding the same fields).
    ///
    /// # Errors
    /// [`KeyError::DuplicateKey`] for an id listed twice; [`KeyError::RetiringActiveKey`] when
    /// more than one key of a role is active (the second is named);
    /// [`KeyError::CannotSign`] for an active public key.
    pub fn import(export: KeyringExport) -> Result<Keyring, KeyError> {
        let mut ring = Keyring::new(export.merchant);
        for key in export.keys {
            let active_of_role = ring
                .table
                .entries
                .iter()
                .any(|e| e.role == key.role && e.status == KeyStatus::Active);
            if key.status == KeyStatus::Active && active_of_role {
                return Err(KeyError::RetiringActiveKey(key.id));
            }
            ring.push(key.id, key.role, key.status, key.material)?;
        }
        Ok(ring)
    }

    /// Signs a token of `kind` for `merchant` claiming `scope`, whose body `write_body`
    /// appends, with the active key whose role covers it.
    pub(crate) fn seal(
        &self,
        kind: TokenKind,
        merchant: MerchantId,
        scope: Scope<'_>,
        write_body: impl FnOnce(&mut Writer),
    ) -> Result<Token, crate::Error> {
        if merchant != self.merchant() {
            return Err(KeyError::WrongMerchant {
                expected: self.merchant(),
                found: merchant,
            }
            .into());
        }
        // The most specific active key that covers the token: a store's own key before a
        // chain-wide one, before an all-purpose key; the first added among equals.
        let signer = self
            .table
            .entries
            .iter()
            .zip(&self.secrets)
            .filter(|(e, _)| e.status == KeyStatus::Active && e.role.permits(kind, scope))
            .min_by_key(|(e, _)| std::cmp::Reverse(e.role.specificity()));
        let Some((entry, secret)) = signer else {
            if self.active_key().is_none() {
                return Err(KeyError::NoActiveKey.into());
            }
            return Err(KeyError::NotPermitted(describe(kind, scope)).into());
        };
        let scheme = entry.check.scheme();
        let mut writer = Writer::with_capacity(128);
        writer.u8(FORMAT_VERSION);
        writer.u8(scheme.code() << 4 | kind.code());
        writer.varint(u64::from(self.merchant().0));
        writer.varint(u64::from(entry.id.0));
        write_body(&mut writer);
        let len = writer.len() + scheme.signature_len();
        if len > crate::token::MAX_LEN {
            return Err(TokenError::TooLong(len).into());
        }
        match (secret, &entry.check) {
            (Secret::Hmac(_), Check::Hmac(keyed)) => {
                let mut mac = keyed.clone();
                mac.update(writer.as_slice());
                let tag = mac.finalize().into_bytes();
                writer.bytes(&tag[..crate::token::TAG_LEN]);
            }
            (Secret::Ed25519(key), _) => {
                let signature = key.sign(writer.as_slice());
                writer.bytes(&signature);
            }
            _ => unreachable!("public keys are never active"),
        }
        Ok(Token::from_signed_parts(writer.into_bytes()))
    }
}

/// What was to be signed, for [`KeyError::NotPermitted`].
fn describe(kind: TokenKind, scope: Scope<'_>) -> String {
    match (kind, scope) {
        (TokenKind::CheckIn, Scope::Store(store)) => format!("a check-in code of store {store}"),
        (TokenKind::Voucher, Scope::VoucherStores([])) => "a voucher valid in every store".into(),
        (TokenKind::Voucher, Scope::VoucherStores(stores)) => {
            format!("a voucher valid in stores {stores:?}")
        }
        (TokenKind::MembershipCard, _) => "a membership card".into(),
        (TokenKind::Share, _) => "a share code".into(),
        (kind, _) => format!("a token of kind {kind:?}"),
    }
}

impl sealed::Sealed for Keyring {
    fn table(&self) -> &KeyTable {
        &self.table
    }
}

impl Verifier for Keyring {}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<_> = self
            .table
            .entries
            .iter()
            .map(|e| (e.id, e.role, e.status))
            .collect();
        f.debug_struct("Keyring")
            .field("merchant", &self.merchant())
            .field("keys", &keys)
            .finish()
    }
}
