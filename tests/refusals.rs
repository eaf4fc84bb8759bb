//! Inputs that used to mean something else than they say (found by independent tests, issue
//! 11): each is now refused with a stable reason or a typed error, and loses nothing.

#[macro_use]
mod common;

use common::*;
use o2okit::*;
use serde_json::{Value, json};
use std::num::NonZeroU64;

/// The voucher as JSON, with `edit` applied to the JSON object.
fn voucher_json(voucher: &Voucher, edit: impl FnOnce(&mut Value)) -> String {
    let mut value = serde_json::to_value(voucher).unwrap();
    edit(&mut value);
    value.to_string()
}

fn rename(object: &mut Value, from: &str, to: &str) {
    let map = object.as_object_mut().unwrap();
    let value = map.remove(from).unwrap();
    map.insert(to.to_owned(), value);
}

fn expiring() -> Voucher {
    amount_off(1, 500)
        .valid_between(local("2026-06-01T00:00"), local("2026-07-01T00:00"))
        .for_member(MemberId(42))
}

#[test]
fn a_misspelt_voucher_field_is_refused_with_its_name() {
    let till = voucher_json(&expiring(), |v| {
        rename(&mut v["time"], "valid_until", "valid_till")
    });
    let err = serde_json::from_str::<Voucher>(&till)
        .unwrap_err()
        .to_string();
    assert!(err.contains("valid_till"), "{err}");
    let member = voucher_json(&expiring(), |v| rename(v, "member", "member_id"));
    let err = serde_json::from_str::<Voucher>(&member)
        .unwrap_err()
        .to_string();
    assert!(err.contains("member_id"), "{err}");
    // Nested objects refuse too: a benefit, a condition, a state limit.
    for (path, field) in [
        ("benefit", "amount"),
        ("conditions", "min_spend"),
        ("state", "uses"),
        ("region", "store"),
    ] {
        let text = voucher_json(&expiring(), |v| {
            v[path][field] = json!(1);
        });
        let err = serde_json::from_str::<Voucher>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{path}.{field}: {err}");
    }
    // The unedited JSON still reads back to the same voucher.
    let same = voucher_json(&expiring(), |_| {});
    assert_eq!(serde_json::from_str::<Voucher>(&same).unwrap(), expiring());
}

#[test]
fn an_empty_category_list_gets_a_message_that_says_what_is_expected() {
    let text = voucher_json(&expiring(), |v| v["conditions"]["categories"] = json!([]));
    let err = serde_json::from_str::<Voucher>(&text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"all\""), "{err}");
    let text = voucher_json(&expiring(), |v| {
        v["conditions"]["categories"] = json!({ "only": [] })
    });
    let voucher: Voucher = serde_json::from_str(&text).unwrap();
    assert_eq!(
        voucher.sign(&keyring()).err(),
        Some(Error::Voucher(VoucherError::NoCategories))
    );
}

fn an_amount_is_ignored_for_a_fixed_discount(ledger: &dyn Ledger) {
    let a = accept(&amount_off(1, 2_000), None, 50_000);
    let key = idem("sale-1");
    let outcome = ledger
        .redeem(&RedeemRequest::new(&a, &key).with_amount(NonZeroU64::new(500).unwrap()))
        .unwrap();
    assert_eq!(outcome.receipt().unwrap().amount_minor, 2_000);
    assert_eq!(ledger.visits().unwrap()[0].discount_minor, 2_000);
}

fn a_stored_value_amount_is_spent_as_asked(ledger: &dyn Ledger) {
    let card = Voucher::new(
        VoucherId(9),
        MERCHANT,
        Currency::CNY,
        Benefit::StoredValue { minor: 10_000 },
    );
    let a = accept(&card, None, 50_000);
    let key = idem("sale-1");
    let outcome = ledger
        .redeem(&RedeemRequest::new(&a, &key).with_amount(NonZeroU64::new(500).unwrap()))
        .unwrap();
    assert_eq!(outcome.receipt().unwrap().amount_minor, 500);
    let record = ledger.record(VoucherId(9)).unwrap().unwrap();
    assert_eq!(record.value_left_minor(), Some(9_500));
}

#[test]
fn a_percentage_that_rounds_to_nothing_is_refused() {
    let one_percent = Voucher::new(
        VoucherId(3),
        MERCHANT,
        Currency::CNY,
        Benefit::PercentOff {
            basis_points: 100,
            cap_minor: None,
        },
    );
    let till = Till::new(shenzhen()).basket(cny(50));
    assert_eq!(
        till.outcome(&one_percent, "2026-06-15T04:00:00Z"),
        Err(Rejection::NoDiscount)
    );
    let till = Till::new(shenzhen()).basket(cny(100));
    assert_eq!(till.outcome(&one_percent, "2026-06-15T04:00:00Z"), Ok(1));
    assert_eq!(Rejection::NoDiscount.code(), 44);
}

#[test]
fn a_gift_limited_to_categories_needs_a_line_in_them() {
    let gift = Voucher::new(
        VoucherId(4),
        MERCHANT,
        Currency::CNY,
        Benefit::GiftItem {
            item: ItemId(77),
            quantity: 1,
        },
    )
    .only_categories([CategoryId(5)]);
    let line = |category, amount_minor| BasketLine::new(CategoryId(category), amount_minor);
    let other = Basket::new(Currency::CNY, vec![line(1, 3_000)]).unwrap();
    assert_eq!(
        Till::new(shenzhen())
            .basket(other)
            .outcome(&gift, "2026-06-15T04:00:00Z"),
        Err(Rejection::NoEligibleItems)
    );
    let tea = Basket::new(Currency::CNY, vec![line(1, 3_000), line(5, 1_800)]).unwrap();
    assert_eq!(
        Till::new(shenzhen())
            .basket(tea)
            .outcome(&gift, "2026-06-15T04:00:00Z"),
        Ok(0)
    );
}

fn door() -> (Pseudonym, StoreId) {
    let pseudonym = IdentityKey::from_bytes(&[3; 32])
        .unwrap()
        .pseudonym(MERCHANT, &AccountIdentity::phone("+8613800138000").unwrap());
    (pseudonym, shenzhen().id)
}

fn scan(ledger: &dyn Ledger, step: u64, when: &str) -> CheckInOutcome {
    let (pseudonym, store) = door();
    let check_in = CheckIn {
        store,
        presence: Presence::Proven,
        step: Some(step),
    };
    ledger
        .check_in(&CheckInRequest::new(&check_in, &pseudonym, at(when)))
        .unwrap()
}

fn refused(reason: Rejection) -> CheckInOutcome {
    CheckInOutcome::Refused { reason }
}

/// A policy of one code an hour with two steps of skew keeps a code valid for five hours:
/// the replay guard must cover all of it.
fn a_code_valid_for_hours_is_refused_as_a_replay_hours_later(ledger: &dyn Ledger) {
    let policy = CheckInPolicy::new(3_600, 2).unwrap();
    let first = at("2026-06-15T02:05:00Z"); // 10:05 in Shenzhen
    let step = policy.step_at(first);
    assert!(matches!(
        scan(ledger, step, "2026-06-15T02:05:00Z"),
        CheckInOutcome::Visited { .. }
    ));
    // 12:30: still within the code's validity, two clock hours later.
    assert_eq!(
        scan(ledger, step, "2026-06-15T04:30:00Z"),
        refused(Rejection::ReplayedCode)
    );
    // A day later, the same code (a photo kept) is still a replay, never a new visit.
    assert_eq!(
        scan(ledger, step, "2026-06-16T04:30:00Z"),
        refused(Rejection::ReplayedCode)
    );
    assert_eq!(ledger.visits().unwrap().len(), 1);
}

fn a_till_clock_stepped_back_an_hour_yields_no_second_check_in(ledger: &dyn Ledger) {
    assert!(matches!(
        scan(ledger, 1_000, "2026-06-15T02:05:00Z"),
        CheckInOutcome::Visited { .. }
    ));
    // The till's clock goes back an hour; its screen shows an older code.
    assert_eq!(
        scan(ledger, 999, "2026-06-15T01:10:00Z"),
        refused(Rejection::AlreadyCheckedIn)
    );
    // The next real hour is a new visit.
    assert!(matches!(
        scan(ledger, 1_001, "2026-06-15T03:05:00Z"),
        CheckInOutcome::Visited { .. }
    ));
    assert_eq!(ledger.visits().unwrap().len(), 2);
}

fn a_void_dated_before_its_redemption_is_refused(ledger: &dyn Ledger) {
    let a = accept(&amount_off(1, 500), None, 10_000); // redeemed at 04:00 UTC
    let (receipt, _) = redeem(ledger, &a, "sale-1").unwrap();
    let before = ledger.history(VoucherId(1)).unwrap();
    assert!(matches!(
        ledger.void(receipt.id, at("2026-06-15T03:59:59Z")),
        Err(LedgerError::VoidBeforeRedemption { .. })
    ));
    assert_eq!(
        ledger.history(VoucherId(1)).unwrap(),
        before,
        "nothing written"
    );
    assert_eq!(ledger.record(VoucherId(1)).unwrap().unwrap().uses, 1);
    ledger.void(receipt.id, at("2026-06-15T04:00:00Z")).unwrap();
    let history = ledger.history(VoucherId(1)).unwrap();
    assert!(matches!(
        history[0],
        o2okit::ledger::LedgerEvent::Redeemed { .. }
    ));
    assert!(matches!(
        history[1],
        o2okit::ledger::LedgerEvent::Voided { .. }
    ));
}

/// Both ledgers build receipts and movements in one place: the first answer equals the
/// replay read back from storage, to the microsecond (an instant with nanoseconds included).
fn a_replayed_movement_equals_its_first_answer(ledger: &dyn Ledger) {
    let request = o2okit::ledger::MovementRequest {
        member: MemberId(42),
        kind: o2okit::ledger::MovementKind::EarnPoints(10),
        at: at("2026-06-15T04:00:00.123456789Z"),
        idempotency_key: idem("points-1"),
    };
    let first = ledger.apply(&request).unwrap();
    let again = ledger.apply(&request).unwrap();
    assert_eq!(first, again);
    assert_eq!(ledger.movements(MemberId(42)).unwrap(), vec![first]);
}

both_ledgers!(
    a_replayed_movement_equals_its_first_answer,
    an_amount_is_ignored_for_a_fixed_discount,
    a_stored_value_amount_is_spent_as_asked,
    a_code_valid_for_hours_is_refused_as_a_replay_hours_later,
    a_till_clock_stepped_back_an_hour_yields_no_second_check_in,
    a_void_dated_before_its_redemption_is_refused,
);

#[test]
fn card_check_digit_catches_what_the_docs_promise_and_misses_only_09_90() {
    let serials = [
        0u64,
        1,
        123_456_789_012_345,
        909_090_909_090_909,
        999_999_999_999_999,
    ];
    for serial in serials {
        let card = CardNumber::from_serial(serial).unwrap().to_string();
        let digits: Vec<u8> = card.bytes().filter(u8::is_ascii_digit).collect();
        let text = |d: &[u8]| String::from_utf8(d.to_vec()).unwrap();
        for i in 0..16 {
            for replacement in b'0'..=b'9' {
                if replacement == digits[i] {
                    continue;
                }
                let mut typo = digits.clone();
                typo[i] = replacement;
                assert!(CardNumber::parse(&text(&typo)).is_err(), "{}", text(&typo));
            }
        }
        for i in 0..15 {
            if digits[i] == digits[i + 1] {
                continue;
            }
            let mut swapped = digits.clone();
            swapped.swap(i, i + 1);
            let pair = [digits[i], digits[i + 1]];
            let caught = CardNumber::parse(&text(&swapped)).is_err();
            let blind_spot = pair == *b"09" || pair == *b"90";
            assert_eq!(caught, !blind_spot, "swap at {i} in {card}");
        }
    }
}

#[test]
fn an_idempotency_key_says_what_is_wrong_with_it() {
    use o2okit::{IdempotencyKey, IdempotencyKeyError};
    assert_eq!(IdempotencyKey::new(""), Err(IdempotencyKeyError::Empty));
    assert_eq!(
        IdempotencyKey::new("k".repeat(129)),
        Err(IdempotencyKeyError::TooLong(129))
    );
    assert!(IdempotencyKey::new("k".repeat(128)).is_ok());
    match IdempotencyKey::new("till-7/\u{7f}/1") {
        Err(IdempotencyKeyError::NotPrintable { position, key }) => {
            assert_eq!(position, 7);
            assert_eq!(key, "till-7/\u{7f}/1");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        IdempotencyKey::new("caf\u{e9}"),
        Err(IdempotencyKeyError::NotPrintable { position: 3, .. })
    ));
    // Through serde the same error reaches the caller's message.
    let error = serde_json::from_str::<IdempotencyKey>("\"\"").unwrap_err();
    assert!(error.to_string().contains("cannot be empty"), "{error}");
}

#[test]
fn an_identity_error_names_the_problem_without_repeating_the_number() {
    use o2okit::{AccountIdentity, IdentityError};
    let error = AccountIdentity::phone("+86 138 0013 80x0").unwrap_err();
    assert_eq!(error, IdentityError::PhoneNumber);
    assert!(!error.to_string().contains("138"));
    assert_eq!(
        AccountIdentity::phone("12345"),
        Err(IdentityError::PhoneNumber)
    );
    assert!(AccountIdentity::phone("0086 (138) 0013-8000").is_ok());
    assert_eq!(
        AccountIdentity::app_account(""),
        Err(IdentityError::AppAccountLength(0))
    );
    assert_eq!(
        AccountIdentity::app_account(&"a".repeat(257)),
        Err(IdentityError::AppAccountLength(257))
    );
    assert_eq!(
        AccountIdentity::app_account("wx\nid"),
        Err(IdentityError::AppAccountControl)
    );
    // The crate error keeps the kind.
    let error: o2okit::Error = IdentityError::PhoneNumber.into();
    assert!(matches!(
        error,
        o2okit::Error::Identity(IdentityError::PhoneNumber)
    ));
}
