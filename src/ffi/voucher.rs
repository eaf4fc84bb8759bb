//! `o2o_store`, voucher issue and verify, `o2o_decision`.

use super::keyring::o2o_keyring;
use super::status::{Failure, guard, o2o_status, write_text};
use super::{borrow, borrow_mut, check_out, hand_out, instant, put, release, text, zone};
use crate::ids::{CategoryId, MemberId, MerchantId, StoreId};
use crate::membership::member::Tier;
use crate::merchant::Store;
use crate::money::Currency;
use crate::region::{GeoPoint, RegionCode};
use crate::rejection::Rejection;
use crate::voucher::{
    Acceptance, Basket, BasketLine, Benefit, Decision, MemberContext, RedemptionContext, Voucher,
    verify,
};
use std::ffi::c_char;

/// A store: where vouchers are verified. Its IANA time zone is the clock of every time limit.
///
/// Thread safety: immutable after `o2o_store_set_location`; const functions may share it.
pub struct o2o_store(pub(crate) Store);

/// The outcome of verifying one voucher: accepted with a discount, or refused with a reason.
///
/// Thread safety: immutable; may be read from any thread.
pub struct o2o_decision(pub(crate) Decision);

include!(concat!(env!("OUT_DIR"), "/o2o_rejection.rs"));

/// The stable snake_case name of a rejection (`"expired"`, `"already_used"`; `"none"` for
/// `O2O_REJECTION_NONE`, `"unknown"` for a number this build does not know). The string is
/// static: never NULL, never to be freed.
#[unsafe(no_mangle)]
pub extern "C" fn o2o_rejection_name(rejection: u32) -> *const c_char {
    let name: &'static std::ffi::CStr = match rejection {
        0 => c"none",
        1000 => c"no_decision",
        code => match Rejection::from_code(code) {
            Some(r) => rejection_c_name(r),
            None => c"unknown",
        },
    };
    name.as_ptr()
}

/// One English sentence for a person (a cashier screen, a log) about a rejection: "The spend
/// that counts is below the minimum." Not stable: decide on the number, never on this text.
/// `"Accepted."` for `O2O_REJECTION_NONE`, a sentence saying so for `O2O_REJECTION_NO_DECISION`
/// and for a number this build does not know. Static: never NULL, never to be freed.
#[unsafe(no_mangle)]
pub extern "C" fn o2o_rejection_text(rejection: u32) -> *const c_char {
    let text: &'static std::ffi::CStr = match rejection {
        0 => c"Accepted.",
        1000 => c"No decision: the voucher was not verified. Do not accept it.",
        code => match Rejection::from_code(code) {
            Some(r) => rejection_c_text(r),
            None => c"A reason this version of o2okit does not know.",
        },
    };
    text.as_ptr()
}

/// One basket line: a POS category and its amount in minor units.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_basket_line {
    /// Product category, as the POS numbers it.
    pub category: u32,
    /// Amount, minor units.
    pub amount_minor: u64,
}

/// The member presenting a voucher.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_member {
    /// Pseudonymous member id (from the membership card).
    pub id: u64,
    /// Current tier (0 = basic).
    pub tier: u8,
    /// True when the member has bought nothing yet (what "new members only" vouchers require).
    pub is_new: bool,
}

/// Makes a store: `store_id` of `merchant_id`, IANA `time_zone` (such as `"Asia/Shanghai"`)
/// and hierarchical `region` code (such as `"440305"`).
///
/// On success `*out` receives a new store, to be released with `o2o_store_free`. Errors:
/// `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_PLACE` (unknown
/// zone or bad region code).
///
/// # Safety
/// - `time_zone` is NULL or a NUL-terminated string.
/// - `region` is NULL or a NUL-terminated string.
/// - `out` is NULL or points to writable memory for an `o2o_store *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_store_new(
    store_id: u32,
    merchant_id: u32,
    time_zone: *const c_char,
    region: *const c_char,
    out: *mut *mut o2o_store,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or NUL-terminated strings, per the header.
        let (time_zone, region) =
            unsafe { (zone(time_zone, "time_zone")?, text(region, "region")?) };
        let store = Store {
            id: StoreId(store_id),
            merchant: MerchantId(merchant_id),
            name: String::new(),
            time_zone,
            region: RegionCode::new(region)?,
            location: None,
        };
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_store(store)) };
        Ok(())
    })
}

/// Sets the store's location in millionths of a degree (needed by geofenced vouchers).
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_PLACE`.
///
/// # Safety
/// - `store` is NULL or a live `o2o_store` made by this library, not used by another thread during
///   the call.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_store_set_location(
    store: *mut o2o_store,
    lat_e6: i32,
    lon_e6: i32,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live store, per the header.
        let store = unsafe { borrow_mut(store, "store") }?;
        store.0.location = Some(GeoPoint::new(lat_e6, lon_e6)?);
        Ok(())
    })
}

/// Releases a store. NULL is fine; never free the same store twice.
///
/// # Safety
/// - `store` is NULL or an `o2o_store` made by this library and not released before; it is not used
///   again.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_store_free(store: *mut o2o_store) {
    let _ = guard(|| {
        // SAFETY: NULL or a store from o2o_store_new, per the header.
        unsafe { release(store) };
        Ok(())
    });
}

/// Signs the voucher described by `voucher_json` (the Rust `Voucher` in JSON) with the
/// keyring's active key and writes its scanner text (the QR code's content) into `buffer`.
///
/// See the buffer convention in the header's introduction. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_VOUCHER_JSON`, `O2O_STATUS_VOUCHER_INVALID`,
/// `O2O_STATUS_KEY_NO_ACTIVE`, `O2O_STATUS_KEY_WRONG_MERCHANT`,
/// `O2O_STATUS_INSUFFICIENT_BUFFER`.
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `voucher_json` is NULL or a NUL-terminated string.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_voucher_issue_json(
    keyring: *const o2o_keyring,
    voucher_json: *const c_char,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or live handles and NUL-terminated strings, per the header.
        let (ring, json) = unsafe {
            (
                borrow(keyring, "keyring")?,
                text(voucher_json, "voucher_json")?,
            )
        };
        let voucher: Voucher = serde_json::from_str(json)
            .map_err(|e| Failure::new(o2o_status::VoucherJson, format!("voucher_json: {e}")))?;
        let token = voucher.sign(ring.0.signing()?)?;
        write_text(&token.to_scanner_text(), buffer, capacity, needed)
    })
}

/// Verifies scanned voucher `voucher_text` (scanner form or base64url, as a keyboard-wedge scanner
/// typed it; a trailing newline is fine) at `store` at `at_unix_seconds`, for a basket of
/// `line_count` lines priced in `currency` (such as `"CNY"`), presented by `member` (NULL for
/// no member card) with `other_vouchers` other vouchers in the basket.
///
/// On success `*out` receives a decision (accepted or refused: a refusal is not an error), to
/// be released with `o2o_decision_free`. `lines` may be NULL when `line_count` is 0. Errors:
/// `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`, `O2O_STATUS_INVALID_MONEY` (bad
/// currency, basket total above INT64_MAX), `O2O_STATUS_INVALID_ARGUMENT` (bad time).
///
/// # Safety
/// - `keyring` is NULL or a live `o2o_keyring` made by this library.
/// - `store` is NULL or a live `o2o_store` made by this library.
/// - `voucher_text` is NULL or a NUL-terminated string.
/// - `currency` is NULL or a NUL-terminated string.
/// - `lines` is NULL or points to `line_count` readable `o2o_basket_line`s.
/// - `member` is NULL or points to a readable `o2o_member` whose pointers follow the same rules.
/// - `out` is NULL or points to writable memory for an `o2o_decision *`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_voucher_verify(
    keyring: *const o2o_keyring,
    store: *const o2o_store,
    voucher_text: *const c_char,
    at_unix_seconds: i64,
    currency: *const c_char,
    lines: *const o2o_basket_line,
    line_count: usize,
    member: *const o2o_member,
    other_vouchers: u32,
    out: *mut *mut o2o_decision,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or live handles and NUL-terminated strings, per the header.
        let (ring, store, scanned, currency) = unsafe {
            (
                borrow(keyring, "keyring")?,
                borrow(store, "store")?,
                text(voucher_text, "voucher_text")?,
                text(currency, "currency")?,
            )
        };
        let lines: &[o2o_basket_line] = if line_count == 0 {
            &[]
        } else if lines.is_null() {
            return Err(Failure::new(o2o_status::NullArgument, "lines is NULL"));
        } else {
            // SAFETY: the caller passes `line_count` lines at `lines`.
            unsafe { std::slice::from_raw_parts(lines, line_count) }
        };
        let basket = Basket::new(
            Currency::new(currency)?,
            lines
                .iter()
                .map(|l| BasketLine {
                    category: CategoryId(l.category),
                    amount_minor: l.amount_minor,
                })
                .collect(),
        )?;
        // SAFETY: NULL or a valid o2o_member, per the header.
        let member = unsafe { member.as_ref() }.map(|m| MemberContext {
            id: MemberId(m.id),
            tier: Tier(m.tier),
            is_new: m.is_new,
        });
        let at = instant(at_unix_seconds)?;
        let ctx = RedemptionContext {
            store: &store.0,
            at,
            basket: &basket,
            member,
            other_vouchers,
            deny_list: ring.1.as_ref(),
        };
        let decision = verify(scanned, ring.0.verifier(), &ctx);
        // SAFETY: `out` was checked.
        unsafe { hand_out(out, o2o_decision(decision)) };
        Ok(())
    })
}

/// The reason a decision refused its voucher, or `O2O_REJECTION_NONE` when accepted. A NULL
/// decision gives `O2O_REJECTION_NO_DECISION`, so testing for `O2O_REJECTION_NONE` never
/// accepts a decision that does not exist.
///
/// # Safety
/// - `decision` is NULL or a live `o2o_decision` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_decision_rejection(decision: *const o2o_decision) -> o2o_rejection {
    // SAFETY: NULL or a live decision, per the header.
    match unsafe { decision.as_ref() }.map(|d| d.0.rejection()) {
        Some(Some(reason)) => reason.into(),
        Some(None) => o2o_rejection::None,
        None => o2o_rejection::NoDecision,
    }
}

/// True when the decision accepted its voucher (false for NULL).
///
/// # Safety
/// - `decision` is NULL or a live `o2o_decision` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_decision_accepted(decision: *const o2o_decision) -> bool {
    // SAFETY: NULL or a live decision, per the header.
    unsafe { decision.as_ref() }.is_some_and(|d| d.0.is_accepted())
}

/// The discount to apply, minor units (0 when refused, for a gift item, or for NULL).
///
/// # Safety
/// - `decision` is NULL or a live `o2o_decision` made by this library.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_decision_discount_minor(decision: *const o2o_decision) -> u64 {
    // SAFETY: NULL or a live decision, per the header.
    match unsafe { decision.as_ref() }.map(|d| &d.0) {
        Some(Decision::Accepted(a)) => a.discount_minor(),
        _ => 0,
    }
}

/// The acceptance of a decision argument, or the error a refused one gives.
///
/// # Safety
/// `decision` is NULL or a live decision.
unsafe fn accepted<'a>(decision: *const o2o_decision) -> Result<&'a Acceptance, Failure> {
    // SAFETY: per the caller.
    match unsafe { borrow(decision, "decision") }?.0 {
        Decision::Accepted(ref a) => Ok(a),
        Decision::Rejected { .. } => Err(Failure::new(
            o2o_status::InvalidArgument,
            "the voucher was refused; its content is not authenticated",
        )),
    }
}

/// Writes the accepted voucher's id into `*voucher_id`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` for a refused voucher
/// (whose id was never authenticated).
///
/// # Safety
/// - `decision` is NULL or a live `o2o_decision` made by this library.
/// - `voucher_id` is NULL or points to a writable `uint64_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_decision_voucher_id(
    decision: *const o2o_decision,
    voucher_id: *mut u64,
) -> o2o_status {
    guard(|| {
        check_out(voucher_id, "voucher_id")?;
        // SAFETY: NULL or a live decision, per the header; `voucher_id` was checked.
        unsafe { put(voucher_id, accepted(decision)?.voucher().id.0) };
        Ok(())
    })
}

/// What kind of benefit a voucher gives.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum o2o_benefit_kind {
    /// A fixed amount off.
    AmountOff = 1,
    /// A percentage off, perhaps capped.
    PercentOff = 2,
    /// A free item.
    GiftItem = 3,
    /// Prepaid value spent over several visits.
    StoredValue = 4,
}

/// The benefit of an accepted voucher, as a receipt prints it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct o2o_benefit {
    /// Which benefit; the fields that do not apply to it are 0.
    pub kind: o2o_benefit_kind,
    /// `O2O_BENEFIT_KIND_AMOUNT_OFF`: the amount off; `O2O_BENEFIT_KIND_STORED_VALUE`: the face
    /// value. Minor units.
    pub amount_minor: u64,
    /// `O2O_BENEFIT_KIND_PERCENT_OFF`: hundredths of a percent (1,500 is 15%).
    pub basis_points: u32,
    /// `O2O_BENEFIT_KIND_PERCENT_OFF`: the most it takes off, minor units; 0 when uncapped.
    pub cap_minor: u64,
    /// `O2O_BENEFIT_KIND_GIFT_ITEM`: the item handed out.
    pub item_id: u32,
    /// `O2O_BENEFIT_KIND_GIFT_ITEM`: how many.
    pub quantity: u32,
}

/// Writes the accepted voucher's benefit into `*out`.
///
/// Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_ARGUMENT` for a refused voucher.
///
/// # Safety
/// - `decision` is NULL or a live `o2o_decision` made by this library.
/// - `out` is NULL or points to a writable `o2o_benefit`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_decision_benefit(
    decision: *const o2o_decision,
    out: *mut o2o_benefit,
) -> o2o_status {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or a live decision, per the header.
        let acceptance = unsafe { accepted(decision) }?;
        let none = o2o_benefit {
            kind: o2o_benefit_kind::AmountOff,
            amount_minor: 0,
            basis_points: 0,
            cap_minor: 0,
            item_id: 0,
            quantity: 0,
        };
        let benefit = match acceptance.voucher().benefit {
            Benefit::AmountOff { minor } => o2o_benefit {
                amount_minor: minor,
                ..none
            },
            Benefit::PercentOff {
                basis_points,
                cap_minor,
            } => o2o_benefit {
                kind: o2o_benefit_kind::PercentOff,
                basis_points: u32::from(basis_points),
                cap_minor: cap_minor.unwrap_or(0),
                ..none
            },
            Benefit::GiftItem { item, quantity } => o2o_benefit {
                kind: o2o_benefit_kind::GiftItem,
                item_id: item.0,
                quantity: u32::from(quantity),
                ..none
            },
            Benefit::StoredValue { minor } => o2o_benefit {
                kind: o2o_benefit_kind::StoredValue,
                amount_minor: minor,
                ..none
            },
        };
        // SAFETY: `out` was checked.
        unsafe { put(out, benefit) };
        Ok(())
    })
}

/// Writes the end of the accepted voucher's validity on the store's wall clock, as the receipt
/// prints it (`"2026-07-01T00:00"`: valid strictly before that minute), into `buffer`; an
/// empty string when it never expires.
///
/// See the buffer convention in the header's introduction. Errors: `O2O_STATUS_NULL_ARGUMENT`,
/// `O2O_STATUS_INVALID_ARGUMENT` for a refused voucher, `O2O_STATUS_INSUFFICIENT_BUFFER`.
///
/// # Safety
/// - `decision` is NULL or a live `o2o_decision` made by this library.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_decision_valid_until(
    decision: *const o2o_decision,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live decision, per the header.
        let acceptance = unsafe { accepted(decision) }?;
        let until = acceptance.voucher().time.valid_until;
        write_text(
            &until.map(|u| u.to_string()).unwrap_or_default(),
            buffer,
            capacity,
            needed,
        )
    })
}

/// Releases a decision. NULL is fine; never free the same decision twice.
///
/// # Safety
/// - `decision` is NULL or an `o2o_decision` made by this library and not released before; it is
///   not used again.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_decision_free(decision: *mut o2o_decision) {
    let _ = guard(|| {
        // SAFETY: NULL or a decision from o2o_voucher_verify, per the header.
        unsafe { release(decision) };
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_rejections_mirror_rust_codes_and_names() {
        for r in Rejection::ALL {
            assert_eq!(o2o_rejection::from(r) as u32, r.code());
            // SAFETY: o2o_rejection_name returns a static C string.
            let name = unsafe { std::ffi::CStr::from_ptr(o2o_rejection_name(r.code())) };
            assert_eq!(name.to_str().unwrap(), r.as_str());
            // SAFETY: o2o_rejection_text returns a static C string.
            let text = unsafe { std::ffi::CStr::from_ptr(o2o_rejection_text(r.code())) };
            assert_eq!(text.to_str().unwrap(), r.text());
            assert_eq!(o2o_rejection::from(r) as u32, r.code());
        }
        // SAFETY: as above.
        let none = unsafe { std::ffi::CStr::from_ptr(o2o_rejection_name(0)) };
        assert_eq!(none.to_str().unwrap(), "none");
        // SAFETY: as above.
        let unknown = unsafe { std::ffi::CStr::from_ptr(o2o_rejection_name(999)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown");
    }
}
