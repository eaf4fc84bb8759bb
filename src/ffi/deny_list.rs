//! The deny list a till consults offline, held by its keyring: `o2o_keyring_load_deny_list`,
//! `o2o_keyring_apply_deny_list_delta`, `o2o_keyring_deny_list_version`.

use super::keyring::o2o_keyring;
use super::status::{guard, o2o_status};
use super::{borrow, borrow_mut, bytes, check_out, put};
use crate::deny_list::DenyList;
use crate::keys::PublicKey;

/// Loads the deny list the head office published (`list_len` bytes at `list`), checked against
/// the root public key the till pins (32 bytes at `root_public_key`), into `keyring`: from then
/// on `o2o_voucher_verify` with this keyring refuses every voucher it names, as `revoked` or
/// `already_used`, after checking its signature. A list older than the one held is refused
/// (`O2O_STATUS_DENY_LIST_ROLLBACK`) and any refusal leaves the keyring's list as it was.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_KEY_INVALID` (root key),
/// `O2O_STATUS_DENY_LIST_*`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
/// - `list` is NULL or points to `list_len` readable bytes.
/// - `root_public_key` is NULL or points to `root_len` readable bytes.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_load_deny_list(
    keyring: *mut o2o_keyring,
    list: *const u8,
    list_len: usize,
    root_public_key: *const u8,
    root_len: usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring and readable bytes, per the header.
        let (ring, list, root) = unsafe {
            (
                borrow_mut(keyring, "keyring")?,
                bytes(list, list_len, "list")?,
                bytes(root_public_key, root_len, "root_public_key")?,
            )
        };
        let root = PublicKey::from_bytes(root)?;
        let merchant = ring.0.verifier().merchant();
        match &mut ring.1 {
            Some(held) => held.replace_with(list, &root)?,
            None => ring.1 = Some(DenyList::open(list, &root, merchant)?),
        }
        Ok(())
    })
}

/// Applies a deny-list delta (`delta_len` bytes at `delta`) to the list `keyring` holds; a
/// keyring without a list holds the empty list of version 0. Deltas apply in order only: one
/// that does not start at the version held is `O2O_STATUS_DENY_LIST_VERSION_GAP` (apply the
/// ones between, or load a full list). Any refusal leaves the list as it was.
///
/// Errors: as `o2o_keyring_load_deny_list`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library, not used by another thread
///   during the call.
/// - `delta` is NULL or points to `delta_len` readable bytes.
/// - `root_public_key` is NULL or points to `root_len` readable bytes.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_apply_deny_list_delta(
    keyring: *mut o2o_keyring,
    delta: *const u8,
    delta_len: usize,
    root_public_key: *const u8,
    root_len: usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live keyring and readable bytes, per the header.
        let (ring, delta, root) = unsafe {
            (
                borrow_mut(keyring, "keyring")?,
                bytes(delta, delta_len, "delta")?,
                bytes(root_public_key, root_len, "root_public_key")?,
            )
        };
        let root = PublicKey::from_bytes(root)?;
        let merchant = ring.0.verifier().merchant();
        ring.1
            .get_or_insert_with(|| DenyList::new(merchant, 0))
            .apply_delta(delta, &root)?;
        Ok(())
    })
}

/// Writes the version of the deny list `keyring` holds to `*out` (0 for none). Keep it to ask
/// the head office for the deltas after it.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `out` is NULL or points to a writable `uint64_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_keyring_deny_list_version(
    keyring: *const o2o_keyring,
    out: *mut u64,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live keyring, per the header.
        let ring = unsafe { borrow(keyring, "keyring") }?;
        let version = ring.1.as_ref().map_or(0, DenyList::version);
        // SAFETY: `out` was checked.
        unsafe { put(out, version) };
        Ok(())
    })
}
