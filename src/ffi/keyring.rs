//! `o2o_keyring`: a merchant's keys, either signing (`o2o_keyring_new`) or verify-only
//! (`o2o_keyring_from_key_set`).

use super::status::{Failure, guard, o2o_status};
use super::{borrow, borrow_mut, bytes, check_out, hand_out, instant, put, release};
use crate::deny_list::DenyList;
use crate::ids::{KeyId, MerchantId, StoreId, TillId};
use crate::keys::{
    Ed25519Key, KeyMaterial, KeyRole, Keyring, MerchantSecret, PublicKey, SigningKey, Verifier,
    VerifyingKeyring,
};

/// A merchant's keys. Made by `o2o_keyring_new` (or `_new_empty`), it signs with the active
/// key of each role and verifies; made by `o2o_keyring_from_key_set`, it holds public keys
/// only and verifies: every signing call on it returns `O2O_STATUS_KEY_NOT_PERMITTED`, and no
/// secret is in the process to sign with.
///
/// Which keys each device needs:
/// - a till (POS): a key set (`o2o_keyring_from_key_set`), no secret at all;
/// - a store's check-in screen: its store's check-in key (`O2O_KEY_ROLE_CHECK_IN`, derived
///   with `o2o_derive_key`), which signs that store's codes only;
/// - a sign-up kiosk: the store's check-in key (to verify codes), a `O2O_KEY_ROLE_MEMBERS`
///   key (cards), a `O2O_KEY_ROLE_STORE_VOUCHERS` key of its store (welcome vouchers valid
///   there only) and the members public key of the key set (friends' share codes);
/// - the head office: the voucher and members private keys and the root key of key sets.
///
/// Thread safety: functions taking `const o2o_keyring *` may run on several threads at once;
/// `o2o_keyring_add_key`, `_add_role_key`, `_activate`, `_retire`, `_update_key_set` and
/// `_free` must not run concurrently with any other call on the same keyring.
///
/// A keyring also holds the deny list a till consults offline (`o2o_keyring_load_deny_list`).
pub struct o2o_keyring(pub(crate) Keys, pub(crate) Option<DenyList>);

/// The two kinds of keyring behind a C handle.
pub(crate) enum Keys {
    Signing(Keyring),
    Verifying(VerifyingKeyring),
}

impl Keys {
    /// The keys as a verifier, whichever kind.
    pub(crate) fn verifier(&self) -> &dyn Verifier {
        match self {
            Keys::Signing(ring) => ring,
            Keys::Verifying(ring) => ring,
        }
    }

    /// The signing keyring, or `KEY_NOT_PERMITTED` for a verify-only one.
    pub(crate) fn signing(&self) -> Result<&Keyring, Failure> {
        match self {
            Keys::Signing(ring) => Ok(ring),
            Keys::Verifying(_) => Err(verify_only()),
        }
    }

    fn signing_mut(&mut self) -> Result<&mut Keyring, Failure> {
        match self {
            Keys::Signing(ring) => Ok(ring),
            Keys::Verifying(_) => Err(verify_only()),
        }
    }
}

fn verify_only() -> Failure {
    Failure::new(
        o2o_status::KeyNotPermitted,
        "this keyring was loaded from a key set: it verifies and cannot sign",
    )
}

/// `role` of `o2o_keyring_add_role_key`: every kind of token for every store (one shop).
pub const O2O_KEY_ROLE_ALL: u32 = 0;
/// `role`: vouchers valid anywhere (the head office's voucher key).
pub const O2O_KEY_ROLE_VOUCHERS: u32 = 1;
/// `role`: vouchers limited to the store `scope_id` only (a sign-up kiosk's welcome offers).
pub const O2O_KEY_ROLE_STORE_VOUCHERS: u32 = 2;
/// `role`: membership cards and share codes.
pub const O2O_KEY_ROLE_MEMBERS: u32 = 3;
/// `role`: check-in codes of the store `scope_id` (its screen's key).
pub const O2O_KEY_ROLE_CHECK_IN: u32 = 4;
/// `role`: the journal of the till `scope_id`.
pub const O2O_KEY_ROLE_JOURNAL: u32 = 5;

/// `scheme` of `o2o_keyring_add_role_key`: an HMAC-SHA256 secret of at least 32 bytes (signs
/// and verifies).
pub const O2O_KEY_SCHEME_HMAC: u32 = 0;
/// `scheme`: an Ed25519 private key's 32-byte seed (signs and verifies).
pub const O2O_KEY_SCHEME_ED25519: u32 = 1;
/// `scheme`: an Ed25519 public key, 32 bytes (verifies only).
pub const O2O_KEY_SCHEME_ED25519_PUBLIC: u32 = 2;

fn role_of(role: u32, scope_id: u32) -> Result<KeyRole, Failure> {
    Ok(match role {
        0 => KeyRole::All,
        1 => KeyRole::Vouchers,
        2 => KeyRole::StoreVouchers(StoreId(scope_id)),
        3 => KeyRole::Members,
        4 => KeyRole::CheckIn(StoreId(scope_id)),
        5 => KeyRole::Journal(TillId(scope_id)),
        other => {
            return Err(Failure::new(
                o2o_status::InvalidArgument,
                format!("role {other} is not an o2o_key_role"),
            ));
        }
    })
}

/// Makes a keyring for `merchant_id` holding one active key `key_id` with the `secret_len`
/// bytes at `secret_bytes` (at least 32, from a cryptographic random source; copied).
///
/// On success `*out` receives a new keyring, which the caller must release with
/// `o2o_keyring_free`. Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_TOO_SHORT`.
///
/// # Safety
/// - `secret_bytes` is NULL or points to `secret_len` readable bytes.
/// - `out` is NULL or points to writable memory for an `o2o_keyring *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_new(
    merchant_id: u32,
    key_id: u32,
    secret_bytes: *const u8,
    secret_len: usize,
    out: *mut *mut o2o_keyring,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        let key = SigningKey::from_bytes(
            // SAFETY: NULL or `secret_len` readable bytes, per the header.
            unsafe { bytes(secret_bytes, secret_len, "secret") }?,
        )?;
        let ring = Keyring::with_active_key(MerchantId(merchant_id), KeyId(key_id), key);
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_keyring(Keys::Signing(ring), None)) };
        Ok(())
    })
}

/// Adds key `key_id` (verify-only until activated) with the `secret_len` bytes at `secret_bytes`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_TOO_SHORT`, `O2O_STATUS_KEY_DUPLICATE`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
/// - `secret_bytes` is NULL or points to `secret_len` readable bytes.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_add_key(
    keyring: *mut o2o_keyring,
    key_id: u32,
    secret_bytes: *const u8,
    secret_len: usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow_mut(keyring, "keyring") }?;
        let key = SigningKey::from_bytes(
            // SAFETY: NULL or `secret_len` readable bytes, per the header.
            unsafe { bytes(secret_bytes, secret_len, "secret") }?,
        )?;
        ring.0.signing_mut()?.add(KeyId(key_id), key)?;
        Ok(())
    })
}

/// Makes `key_id` the signing key of its role; the role's previous one becomes verify-only.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_UNKNOWN`, `O2O_STATUS_KEY_RETIRED`,
/// `O2O_STATUS_KEY_CANNOT_SIGN` (a public key), `O2O_STATUS_KEY_NOT_PERMITTED` (a verify-only
/// keyring).
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_activate(
    keyring: *mut o2o_keyring,
    key_id: u32,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow_mut(keyring, "keyring") }?;
        ring.0.signing_mut()?.activate(KeyId(key_id))?;
        Ok(())
    })
}

/// Retires `key_id`: vouchers it signed are refused from now on (`O2O_REJECTION_RETIRED_KEY`).
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_UNKNOWN`,
/// `O2O_STATUS_KEY_RETIRING_ACTIVE`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_retire(keyring: *mut o2o_keyring, key_id: u32) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow_mut(keyring, "keyring") }?;
        match &mut ring.0 {
            Keys::Signing(ring) => ring.retire(KeyId(key_id))?,
            Keys::Verifying(ring) => ring.retire(KeyId(key_id))?,
        }
        Ok(())
    })
}

/// Releases a keyring and wipes its secrets. NULL is fine; never free the same keyring twice.
///
/// # Safety
/// - `keyring` is NULL or an `o2o_keyring` made by this library and not released before; it is not
///   used again.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_free(keyring: *mut o2o_keyring) {
    let _ = guard(|| {
        // SAFETY: NULL or a keyring from o2o_keyring_new, per the header.
        unsafe { release(keyring) };
        Ok(())
    });
}

/// Makes an empty signing keyring for `merchant_id`: add keys with
/// `o2o_keyring_add_role_key`, then `o2o_keyring_activate` them.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// - `out` is NULL or points to writable memory for an `o2o_keyring *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_new_empty(
    merchant_id: u32,
    out: *mut *mut o2o_keyring,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        let ring = Keyring::new(MerchantId(merchant_id));
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_keyring(Keys::Signing(ring), None)) };
        Ok(())
    })
}

/// Adds key `key_id` of `role` (an `o2o_key_role`; `scope_id` is the store of
/// `STORE_VOUCHERS` and `CHECK_IN`, the till of `JOURNAL`, ignored otherwise), verify-only
/// until activated. `scheme` (an `o2o_key_scheme`) says what the `material_len` bytes at
/// `material` are: an HMAC secret (at least 32 bytes), an Ed25519 seed or an Ed25519 public key
/// (32 bytes each).
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` (role or scheme),
/// `O2O_STATUS_KEY_TOO_SHORT`, `O2O_STATUS_KEY_INVALID`, `O2O_STATUS_KEY_DUPLICATE`,
/// `O2O_STATUS_KEY_NOT_PERMITTED` (a verify-only keyring).
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
/// - `material` is NULL or points to `material_len` readable bytes.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_add_role_key(
    keyring: *mut o2o_keyring,
    key_id: u32,
    role: u32,
    scope_id: u32,
    scheme: u32,
    material: *const u8,
    material_len: usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow_mut(keyring, "keyring") }?;
        // SAFETY: NULL or `material_len` readable bytes, per the header.
        let bytes = unsafe { bytes(material, material_len, "material") }?;
        let role = role_of(role, scope_id)?;
        let material: KeyMaterial = match scheme {
            0 => SigningKey::from_bytes(bytes)?.into(),
            1 => Ed25519Key::from_bytes(bytes)?.into(),
            2 => PublicKey::from_bytes(bytes)?.into(),
            other => {
                return Err(Failure::new(
                    o2o_status::InvalidArgument,
                    format!("scheme {other} is not an o2o_key_scheme"),
                ));
            }
        };
        ring.0
            .signing_mut()?
            .add_key(KeyId(key_id), role, material)?;
        Ok(())
    })
}

/// Loads a verify-only keyring for `merchant_id` from a signed key set (`key_set_len` bytes
/// at `key_set`, as the head office published it), checked against the root public key the
/// till pins (32 bytes at `root_public_key`), with each key's validity window applied at
/// `at_unix_seconds`. The keyring holds public keys only: it verifies and signs nothing.
/// `min_version` is the highest key-set version this till has loaded before (0 the first
/// time; read it back with `o2o_keyring_key_set_version` and keep it across restarts): an
/// older set put back on disk is refused with `O2O_STATUS_KEY_SET_ROLLBACK`.
///
/// On success `*out` receives the keyring (release with `o2o_keyring_free`). Errors:
/// `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_INVALID` (root key), `O2O_STATUS_KEY_SET_*`,
/// `O2O_STATUS_INVALID_ARGUMENT` (time).
///
/// # Safety
/// - `key_set` is NULL or points to `key_set_len` readable bytes.
/// - `root_public_key` is NULL or points to `root_len` readable bytes.
/// - `out` is NULL or points to writable memory for an `o2o_keyring *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_from_key_set(
    merchant_id: u32,
    key_set: *const u8,
    key_set_len: usize,
    root_public_key: *const u8,
    root_len: usize,
    at_unix_seconds: i64,
    min_version: u64,
    out: *mut *mut o2o_keyring,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or readable bytes of the given lengths, per the header.
        let (set, root) = unsafe {
            (
                bytes(key_set, key_set_len, "key_set")?,
                bytes(root_public_key, root_len, "root_public_key")?,
            )
        };
        let root = PublicKey::from_bytes(root)?;
        let at = instant(at_unix_seconds)?;
        let ring =
            VerifyingKeyring::from_key_set(set, &root, MerchantId(merchant_id), at, min_version)?;
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_keyring(Keys::Verifying(ring), None)) };
        Ok(())
    })
}

/// Replaces a verify-only keyring's keys with those of a newer key set (same arguments as
/// `o2o_keyring_from_key_set`). An older set is refused (`O2O_STATUS_KEY_SET_ROLLBACK`) and
/// any refusal leaves the keyring as it was. Load the set again at least daily so validity
/// windows take effect.
///
/// Errors: as `o2o_keyring_from_key_set`; `O2O_STATUS_KEY_NOT_PERMITTED` for a signing keyring.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
/// - `key_set` is NULL or points to `key_set_len` readable bytes.
/// - `root_public_key` is NULL or points to `root_len` readable bytes.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_update_key_set(
    keyring: *mut o2o_keyring,
    key_set: *const u8,
    key_set_len: usize,
    root_public_key: *const u8,
    root_len: usize,
    at_unix_seconds: i64,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring and readable bytes, per the header.
        let (ring, set, root) = unsafe {
            (
                borrow_mut(keyring, "keyring")?,
                bytes(key_set, key_set_len, "key_set")?,
                bytes(root_public_key, root_len, "root_public_key")?,
            )
        };
        let Keys::Verifying(current) = &mut ring.0 else {
            return Err(Failure::new(
                o2o_status::KeyNotPermitted,
                "a signing keyring is not loaded from key sets",
            ));
        };
        let root = PublicKey::from_bytes(root)?;
        let next = current.with_key_set(set, &root, instant(at_unix_seconds)?)?;
        *current = next;
        Ok(())
    })
}

/// Writes the version of the key set a verify-only keyring was loaded from to `*out` (0 for a
/// signing keyring).
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `out` is NULL or points to a writable `uint64_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_key_set_version(
    keyring: *const o2o_keyring,
    out: *mut u64,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow(keyring, "keyring") }?;
        let version = match &ring.0 {
            Keys::Signing(_) => 0,
            Keys::Verifying(ring) => ring.key_set_version().unwrap_or(0),
        };
        // SAFETY: `out` was checked.
        unsafe { put(out, version) };
        Ok(())
    })
}

/// Whether `keyring` can sign anything (false for NULL and for a keyring from a key set).
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_can_sign(keyring: *const o2o_keyring) -> bool {
    // SAFETY: NULL or a live keyring, per the header.
    unsafe { keyring.as_ref() }
        .is_some_and(|ring| matches!(&ring.0, Keys::Signing(r) if r.active_key().is_some()))
}

/// Derives the 32-byte HMAC key of `role` (an `o2o_key_role`; `scope_id` as in
/// `o2o_keyring_add_role_key`) for `merchant_id` from the merchant secret
/// (`secret_len` bytes at `merchant_secret`, at least 32) with HKDF-SHA256, into `out` (32
/// writable bytes): how the head office gives each store's screen its own check-in key
/// without storing thousands of keys.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_TOO_SHORT`,
/// `O2O_STATUS_INVALID_ARGUMENT` (role).
///
/// # Safety
/// - `merchant_secret` is NULL or points to `secret_len` readable bytes.
/// - `out` is NULL or points to 32 writable bytes.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_derive_key(
    merchant_secret: *const u8,
    secret_len: usize,
    merchant_id: u32,
    role: u32,
    scope_id: u32,
    out: *mut u8,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or `secret_len` readable bytes, per the header.
        let secret = unsafe { bytes(merchant_secret, secret_len, "merchant_secret") }?;
        let key = MerchantSecret::from_bytes(secret)?
            .derive(MerchantId(merchant_id), role_of(role, scope_id)?);
        // SAFETY: `out` was checked and points to 32 writable bytes, per the header.
        unsafe { std::ptr::copy_nonoverlapping(key.expose_secret().as_ptr(), out, 32) };
        Ok(())
    })
}
