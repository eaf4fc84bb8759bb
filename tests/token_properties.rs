//! Property tests of the voucher token: every valid voucher round-trips through both text
//! forms, and no single-bit change anywhere in a token survives verification.

mod common;

use common::*;
use o2okit::*;
use proptest::prelude::*;

fn local_time() -> impl Strategy<Value = LocalDateTime> {
    // 2000-01-01 to about 2100.
    (0u32..52_000_000).prop_map(|m| {
        LocalDateTime::new(2000, 1, 1, 0, 0)
            .unwrap()
            .plus_days(m / 1440)
            .unwrap()
    })
}

fn benefit() -> impl Strategy<Value = Benefit> {
    prop_oneof![
        (1u64..).prop_map(|minor| Benefit::AmountOff { minor }),
        (1u16..=10_000, proptest::option::of(1u64..)).prop_map(|(basis_points, cap_minor)| {
            Benefit::PercentOff {
                basis_points,
                cap_minor,
            }
        }),
        (any::<u32>(), 1u16..).prop_map(|(item, quantity)| Benefit::GiftItem {
            item: ItemId(item),
            quantity
        }),
        (1u64..).prop_map(|minor| Benefit::StoredValue { minor }),
    ]
}

fn region_code() -> impl Strategy<Value = RegionCode> {
    "[0-9A-Z]{1,16}".prop_map(|s| RegionCode::new(&s).unwrap())
}

fn window() -> impl Strategy<Value = DailyWindow> {
    (0u16..1440)
        .prop_flat_map(|start| (Just(start), start + 1..=1440))
        .prop_map(|(s, e)| DailyWindow::new(s, e).unwrap())
}

fn voucher() -> impl Strategy<Value = Voucher> {
    let head = (
        any::<u64>(),
        proptest::option::of(any::<u32>()),
        "[A-Z]{3}",
        benefit(),
        proptest::option::of(any::<u64>()),
    );
    let time = (
        proptest::option::of(local_time()),
        proptest::option::of(1u32..5_000),
        proptest::option::of(1u8..=127),
        proptest::collection::vec(window(), 0..=8),
    );
    let place = (
        proptest::collection::vec(any::<u32>(), 0..=64),
        proptest::collection::vec(region_code(), 0..=4),
        proptest::option::of((
            -90_000_000i32..=90_000_000,
            -180_000_000i32..=180_000_000,
            1u32..,
        )),
    );
    let conditions = (
        any::<u64>(),
        0u8..3,
        proptest::collection::vec(any::<u32>(), 1..=8),
        proptest::option::of(any::<u8>()),
        any::<bool>(),
        any::<bool>(),
        1u32..,
        proptest::option::of(1u32..),
    );
    (head, time, place, conditions).prop_map(
        |(
            (id, campaign, currency, benefit, member),
            (from, days, weekdays, hours),
            (stores, regions, fence),
            (min_spend, rule, categories, tier, new_only, solo, uses, per_member),
        )| {
            let mut v = Voucher::new(
                VoucherId(id),
                MERCHANT,
                Currency::new(&currency).unwrap(),
                benefit,
            );
            v.campaign = campaign.map(CampaignId);
            v.member = member.map(MemberId);
            v.time.valid_from = from;
            v.time.valid_until = from.zip(days).map(|(f, d)| f.plus_days(d).unwrap());
            v.time.weekdays = weekdays.map(|bits| {
                let days: Vec<chrono::Weekday> = (0..7)
                    .filter(|i| bits & (1 << i) != 0)
                    .map(|i| chrono::Weekday::try_from(i as u8).unwrap())
                    .collect();
                WeekdaySet::of(&days)
            });
            v.time.hours = hours;
            v.region.stores = stores.into_iter().map(StoreId).collect();
            v.region.regions = regions;
            v.region.geofence = fence.map(|(lat, lon, radius_m)| Geofence {
                center: GeoPoint::new(lat, lon).unwrap(),
                radius_m,
            });
            v.conditions.min_spend_minor = min_spend;
            let categories: Vec<CategoryId> = categories.into_iter().map(CategoryId).collect();
            v.conditions.categories = match rule {
                0 => CategoryRule::All,
                1 => CategoryRule::Only(categories),
                _ => CategoryRule::Except(categories),
            };
            v.conditions.min_tier = tier.map(Tier);
            v.conditions.new_members_only = new_only;
            v.conditions.not_combinable = solo;
            v.state.max_uses = uses;
            v.state.max_uses_per_member = per_member;
            v
        },
    )
}

/// The reasons that belong to the token and signature stage.
fn is_signature_stage(reason: Rejection) -> bool {
    matches!(
        reason,
        Rejection::Malformed
            | Rejection::UnsupportedVersion
            | Rejection::WrongKind
            | Rejection::WrongMerchant
            | Rejection::UnknownKey
            | Rejection::RetiredKey
            | Rejection::BadSignature
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn vouchers_round_trip_through_both_text_forms(v in voucher()) {
        let ring = keyring();
        let token = v.sign(&ring).unwrap();
        let scanner = token.to_scanner_text();
        let b64 = token.to_base64url();
        prop_assert!(scanner.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        for text in [&scanner, &scanner.to_lowercase(), &b64] {
            let parsed = Token::parse(text).unwrap();
            prop_assert_eq!(&parsed, &token);
            prop_assert_eq!(&Voucher::open(&parsed, &ring).unwrap(), &v);
        }
        // JSON round trip of the model, for backends that store vouchers.
        let json = serde_json::to_string(&v).unwrap();
        prop_assert_eq!(serde_json::from_str::<Voucher>(&json).unwrap(), v);
    }

    #[test]
    fn verifying_text_agrees_with_verifying_the_parsed_token(
        v in voucher(),
        lower_case in any::<bool>(),
        hour in 0u32..24,
    ) {
        // `verify` decodes short scanner text on the stack and longer text through `Token`:
        // both roads give the same decision, whatever the token's length.
        let ring = keyring();
        let token = v.sign(&ring).unwrap();
        let scanner = token.to_scanner_text();
        let scanner = if lower_case { scanner.to_lowercase() } else { scanner };
        let store = reference_store();
        let basket = cny(12_800);
        let ctx = RedemptionContext::new(&store, at(&format!("2026-06-15T{hour:02}:30:00Z")), &basket);
        let expected = verify_token(&token, &ring, &ctx);
        prop_assert_eq!(verify(&scanner, &ring, &ctx), expected.clone());
        prop_assert_eq!(verify(&token.to_base64url(), &ring, &ctx), expected);
    }

    #[test]
    fn any_single_bit_flip_is_rejected_at_the_signature_stage(
        v in voucher(),
        bit in any::<prop::sample::Index>(),
    ) {
        let ring = keyring();
        let mut bytes = v.sign(&ring).unwrap().as_bytes().to_vec();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let reason = match Token::from_bytes(bytes) {
            Err(_) => Rejection::Malformed,
            Ok(token) => match Voucher::open(&token, &ring) {
                Ok(opened) => panic!("bit {bit} flipped and still opened: {opened:?}"),
                Err(reason) => reason,
            },
        };
        prop_assert!(is_signature_stage(reason), "{reason:?}");
    }

    #[test]
    fn truncated_tokens_are_rejected(v in voucher(), cut in any::<prop::sample::Index>()) {
        let ring = keyring();
        let bytes = v.sign(&ring).unwrap().as_bytes().to_vec();
        let cut = cut.index(bytes.len());
        let reason = match Token::from_bytes(bytes[..cut].to_vec()) {
            Err(_) => Rejection::Malformed,
            Ok(token) => Voucher::open(&token, &ring).unwrap_err(),
        };
        prop_assert!(is_signature_stage(reason));
    }

    #[test]
    fn arbitrary_text_never_panics_and_never_verifies(text in ".{0,200}") {
        let ring = keyring();
        let till = Till::new(shenzhen());
        let decision = till.decide_text(&text, &ring, at("2026-06-15T04:00:00Z"));
        prop_assert!(is_signature_stage(decision.rejection().unwrap()));
    }

    #[test]
    fn arbitrary_scanner_alphabet_text_never_verifies(text in "[0-9A-HJKMNP-TV-Z]{0,160}") {
        let ring = keyring();
        let till = Till::new(shenzhen());
        let decision = till.decide_text(&text, &ring, at("2026-06-15T04:00:00Z"));
        prop_assert!(is_signature_stage(decision.rejection().unwrap()));
    }
}

#[test]
fn a_voucher_longer_than_the_stack_buffer_verifies_like_a_short_one() {
    let ring = keyring();
    // 63 stores with five-byte ids, then Nanshan: far more bytes than the stack buffer holds.
    let stores = (0..63).map(|i| StoreId(4_000_000_000 + i));
    let long = amount_off(7, 500).at_stores(stores.chain([StoreId(1001)]));
    let text = long.sign(&ring).unwrap().to_scanner_text();
    assert!(text.len() * 5 / 8 > 256, "{} characters", text.len());
    let till = Till::new(shenzhen());
    let at_store_1001 = till.decide_text(&text, &ring, at("2026-06-15T04:00:00Z"));
    assert!(at_store_1001.is_accepted(), "{at_store_1001:?}");
    let mut tampered = text.into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        till.decide_text(&tampered, &ring, at("2026-06-15T04:00:00Z"))
            .rejection(),
        Some(Rejection::BadSignature)
    );
}

#[test]
fn a_changed_scanner_character_is_rejected() {
    // Every substitution of one character by another symbol (not a case or O/I/L alias of the
    // same symbol) is refused.
    let ring = keyring();
    let v = amount_off(1, 500).at_stores([StoreId(1001)]);
    let text = v.sign(&ring).unwrap().to_scanner_text();
    let alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let till = Till::new(shenzhen());
    let when = at("2026-06-15T04:00:00Z");
    assert!(till.decide_text(&text, &ring, when).is_accepted());
    for (i, original) in text.char_indices() {
        for replacement in alphabet.chars().filter(|c| *c != original) {
            let mut changed = text.clone();
            changed.replace_range(i..i + 1, &replacement.to_string());
            let reason = till.decide_text(&changed, &ring, when).rejection();
            assert!(
                reason.is_some_and(is_signature_stage),
                "{changed} gave {reason:?}"
            );
        }
    }
}
