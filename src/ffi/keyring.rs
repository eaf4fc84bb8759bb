//! `o2o_keyring`: a merchant's signing keys.

use super::status::{guard, o2o_status};
use super::{borrow_mut, bytes, check_out, hand_out, release};
use crate::ids::{KeyId, MerchantId};
use crate::keys::{Keyring, SigningKey};

/// A merchant's HMAC-SHA256 keys (one active signing key, older keys verify until retired).
///
/// Thread safety: functions taking `const o2o_keyring *` may run on several threads at once;
/// `o2o_keyring_add_key`, `_activate`, `_retire` and `_free` must not run concurrently with any
/// other call on the same keyring.
pub struct o2o_keyring(pub(crate) Keyring);

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
        unsafe { hand_out(out, o2o_keyring(ring)) };
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
        ring.0.add(KeyId(key_id), key)?;
        Ok(())
    })
}

/// Makes `key_id` the signing key; the previous one becomes verify-only.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_UNKNOWN`, `O2O_STATUS_KEY_RETIRED`.
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
        ring.0.activate(KeyId(key_id))?;
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
        ring.0.retire(KeyId(key_id))?;
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
