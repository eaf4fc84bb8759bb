//! Every type that crosses a wire (a web backend's JSON, a queue, a file) serializes to JSON and
//! reads back to an equal value. `Decision` and `Acceptance` are the exception by design: an
//! `Acceptance` is proof that `verify` checked a signature, so only `verify` makes one.

mod common;

use common::*;
use o2okit::analytics::{Granularity, Segment, VisitLogBuilder, analyze};
use o2okit::ledger::{
    Account, LedgerEvent, Movement, MovementKind, MovementRequest, PointsRule, Terms, TierSchedule,
    VoucherRecord,
};
use o2okit::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&back, value, "{json}");
}

#[test]
fn vouchers_baskets_stores_and_members() {
    round_trip(&reference_voucher());
    round_trip(&Voucher::new(
        VoucherId(2),
        MERCHANT,
        Currency::CNY,
        Benefit::PercentOff {
            basis_points: 1_500,
            cap_minor: Some(3_000),
        },
    ));
    let basket = Basket::new(
        Currency::CNY,
        vec![
            BasketLine::new(CategoryId(1), 1_200),
            BasketLine::new(CategoryId(5), 800),
        ],
    )
    .unwrap();
    round_trip(&basket);
    round_trip(&shenzhen());
    round_trip(&Store::new(
        StoreId(3),
        MERCHANT,
        chrono_tz::Europe::Paris,
        RegionCode::new("FR75").unwrap(),
    ));
    round_trip(&MemberContext::new(MemberId(9), Tier(2), true));
    round_trip(&Money::new(-1_250, Currency::CNY));
    round_trip(&local("2026-12-24T18:30"));
    round_trip(&CardNumber::from_serial(123_456_789).unwrap());
    round_trip(&idem("till-3/2026-06-15/000123"));
    for reason in Rejection::ALL {
        round_trip(&reason);
    }
}

#[test]
fn a_basket_whose_total_disagrees_with_its_lines_is_refused() {
    let json = r#"{"currency":"CNY","lines":[{"category":1,"amount_minor":100}],"total_minor":5}"#;
    assert!(serde_json::from_str::<Basket>(json).is_err());
    let json = r#"{"currency":"CNY","lines":[{"category":1,"amount_minor":100}]}"#;
    assert_eq!(
        serde_json::from_str::<Basket>(json).unwrap().total_minor(),
        100
    );
}

#[test]
fn tokens_as_text() {
    let token = reference_voucher().sign(&keyring()).unwrap();
    let text = token.to_string();
    assert_eq!(text, token.to_scanner_text());
    let back: Token = text.parse().unwrap();
    assert_eq!(back, token);
    round_trip(&token);
}

#[test]
fn ledger_outcomes_receipts_and_records() {
    let ledger = MemoryLedger::new(MERCHANT);
    let a = accept(&amount_off(1, 500), Some(42), 10_000);
    let key = idem("sale-1");
    let outcome = ledger.redeem(&RedeemRequest::new(&a, &key)).unwrap();
    round_trip(&outcome);
    round_trip(outcome.receipt().unwrap());
    let refused = ledger
        .redeem(&RedeemRequest::new(&a, &idem("sale-2")))
        .unwrap();
    round_trip(&refused);
    for event in ledger.history(VoucherId(1)).unwrap() {
        round_trip::<LedgerEvent>(&event);
    }
    round_trip(&ledger.record(VoucherId(1)).unwrap().unwrap());
    round_trip(&VoucherRecord::new(
        VoucherId(3),
        Some(Terms::of(&reference_voucher())),
    ));
    round_trip(&ledger.visits().unwrap()[0]);
    round_trip(&VoucherStatus::PartiallyRedeemed);
    let request = MovementRequest {
        member: MemberId(42),
        kind: MovementKind::EarnPoints(120),
        at: at("2026-06-15T04:00:00Z"),
        idempotency_key: idem("points-1"),
    };
    round_trip(&request);
    let movement: Movement = ledger.apply(&request).unwrap();
    round_trip(&movement);
    round_trip::<Account>(&ledger.account(MemberId(42)).unwrap());
    round_trip(&TierSchedule {
        window_days: 365,
        levels: vec![(Tier(1), 1_000), (Tier(2), 5_000)],
    });
    round_trip(&PointsRule {
        unit_minor: 100,
        points_per_unit: 1,
    });
}

#[test]
fn check_in_outcomes_and_reports() {
    let ledger = MemoryLedger::new(MERCHANT);
    let pseudonym = IdentityKey::from_bytes(&[3; 32])
        .unwrap()
        .pseudonym(MERCHANT, &AccountIdentity::phone("+8613800138000").unwrap());
    let check_in = CheckIn {
        store: StoreId(1001),
        presence: Presence::Proven,
        step: Some(1),
    };
    let request = CheckInRequest::new(&check_in, &pseudonym, at("2026-06-15T04:00:00Z"));
    round_trip(&ledger.check_in(&request).unwrap());
    round_trip(&ledger.check_in(&request).unwrap()); // refused: replayed
    round_trip(&ledger.members().unwrap()[0]);

    let mut b = VisitLogBuilder::new(chrono_tz::Asia::Shanghai);
    b.push(Some("m1"), StoreId(1), at("2026-01-15T04:00:00Z"), 1_000);
    b.push(Some("m1"), StoreId(1), at("2026-03-15T04:00:00Z"), 2_000);
    b.push(None, StoreId(1), at("2026-03-16T04:00:00Z"), 500);
    let report = analyze(&b.build(), Granularity::Month).unwrap();
    round_trip(&report);
    round_trip(&Segment::Champions);
    round_trip(&Granularity::Week);
}
