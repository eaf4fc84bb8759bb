//! The ledger contract: the same tests, unchanged, against every `Ledger` implementation.

#[macro_use]
mod common;

use common::*;
use o2okit::ledger::{MovementKind, MovementRequest, TierSchedule};
use o2okit::*;

both_ledgers!(
    single_use_is_spent_once,
    retry_with_the_same_key_returns_the_same_receipt,
    a_key_reused_for_another_voucher_is_a_conflict,
    void_restores_the_use_once,
    void_after_revoke_restores_the_count_but_not_the_voucher,
    stored_value_is_spent_in_parts,
    per_member_limit,
    multi_use_voucher,
    revoking_an_unseen_voucher_refuses_its_first_use,
    issue_is_recorded_once,
    history_is_in_order,
    every_redemption_is_a_visit,
    points_and_balance_never_go_negative,
    movements_are_idempotent,
    tier_rises_with_points_and_new_member_flag_falls_with_a_visit,
    unknown_receipts_and_wrong_merchant,
    a_voided_sale_cannot_be_replayed,
    a_key_reused_for_another_member_or_basket_is_a_conflict,
    receipts_keep_microseconds_and_replay_equal,
    the_latest_marketing_choice_wins,
    offers_are_personal_vouchers_as_first_issued,
);

fn single_use_is_spent_once(ledger: &dyn Ledger) {
    let a = accept(&amount_off(1, 500), None, 10_000);
    let (receipt, replayed) = redeem(ledger, &a, "till-1/1").unwrap();
    assert!(!replayed);
    assert_eq!(receipt.amount_minor, 500);
    assert_eq!(receipt.voucher, VoucherId(1));
    assert_eq!(redeem(ledger, &a, "till-2/1"), Err(Rejection::AlreadyUsed));
    let record = ledger.record(VoucherId(1)).unwrap().unwrap();
    assert_eq!(record.uses, 1);
    assert_eq!(
        record.status(at("2026-06-15T04:00:00Z"), chrono_tz::UTC),
        VoucherStatus::Exhausted
    );
}

fn retry_with_the_same_key_returns_the_same_receipt(ledger: &dyn Ledger) {
    let a = accept(&amount_off(2, 500), None, 10_000);
    let (first, _) = redeem(ledger, &a, "till-1/7").unwrap();
    let (again, replayed) = redeem(ledger, &a, "till-1/7").unwrap();
    assert!(replayed);
    assert_eq!(again, first);
    assert_eq!(ledger.record(VoucherId(2)).unwrap().unwrap().uses, 1);
    assert_eq!(ledger.visits().unwrap().len(), 1);
}

fn a_key_reused_for_another_voucher_is_a_conflict(ledger: &dyn Ledger) {
    let a = accept(&amount_off(3, 500), None, 10_000);
    let b = accept(&amount_off(4, 500), None, 10_000);
    redeem(ledger, &a, "k").unwrap();
    let err = ledger
        .redeem(&RedeemRequest::new(&b, &idem("k")))
        .unwrap_err();
    assert_eq!(err, LedgerError::IdempotencyConflict("k".into()));
    assert!(ledger.record(VoucherId(4)).unwrap().is_none());
}

fn void_restores_the_use_once(ledger: &dyn Ledger) {
    let a = accept(&amount_off(5, 500), None, 10_000);
    let (receipt, _) = redeem(ledger, &a, "r1").unwrap();
    let record = ledger.void(receipt.id, at("2026-06-15T05:00:00Z")).unwrap();
    assert_eq!(record.uses, 0);
    assert_eq!(
        ledger.void(receipt.id, at("2026-06-15T05:01:00Z")),
        Err(LedgerError::AlreadyVoided(receipt.id))
    );
    assert_eq!(ledger.record(VoucherId(5)).unwrap().unwrap().uses, 0);
    // The restored use can be spent once more, and only once.
    let (second, _) = redeem(ledger, &a, "r2").unwrap();
    assert_ne!(second.id, receipt.id);
    assert_eq!(redeem(ledger, &a, "r3"), Err(Rejection::AlreadyUsed));
}

fn void_after_revoke_restores_the_count_but_not_the_voucher(ledger: &dyn Ledger) {
    let a = accept(&amount_off(6, 500), None, 10_000);
    let (receipt, _) = redeem(ledger, &a, "r1").unwrap();
    ledger
        .revoke(VoucherId(6), at("2026-06-15T05:00:00Z"))
        .unwrap();
    assert_eq!(
        ledger.revoke(VoucherId(6), at("2026-06-15T05:00:01Z")),
        Err(LedgerError::AlreadyRevoked(VoucherId(6)))
    );
    let record = ledger.void(receipt.id, at("2026-06-15T06:00:00Z")).unwrap();
    assert_eq!(record.uses, 0);
    assert!(ledger.void(receipt.id, at("2026-06-15T06:00:01Z")).is_err());
    assert_eq!(ledger.record(VoucherId(6)).unwrap().unwrap().uses, 0);
    assert_eq!(redeem(ledger, &a, "r2"), Err(Rejection::Revoked));
}

fn stored_value_is_spent_in_parts(ledger: &dyn Ledger) {
    let card = Voucher::new(
        VoucherId(7),
        MERCHANT,
        Currency::CNY,
        Benefit::StoredValue { minor: 10_000 },
    );
    let big = accept(&card, None, 20_000);
    let spend = |amount, key: &str| {
        let key = idem(key);
        let amount = std::num::NonZeroU64::new(amount).unwrap();
        ledger
            .redeem(&RedeemRequest::new(&big, &key).with_amount(amount))
            .unwrap()
    };
    let first = spend(3_000, "s1").receipt().unwrap().clone();
    assert_eq!(first.amount_minor, 3_000);
    let second = spend(9_000, "s2").receipt().unwrap().clone();
    assert_eq!(second.amount_minor, 7_000, "capped at what is left");
    assert_eq!(
        spend(1, "s3"),
        RedeemOutcome::Refused {
            reason: Rejection::NoValueLeft
        }
    );
    let record = ledger.void(first.id, at("2026-06-16T00:00:00Z")).unwrap();
    assert_eq!(record.value_left_minor(), Some(3_000));
    assert!(ledger.void(first.id, at("2026-06-16T00:00:01Z")).is_err());
    let record = ledger.void(second.id, at("2026-06-16T00:00:02Z")).unwrap();
    assert_eq!(
        record.value_left_minor(),
        Some(10_000),
        "never above face value"
    );
    assert_eq!(record.value_spent_minor, 0);
    // A basket smaller than the balance spends only the basket.
    let small = accept(&card, None, 2_500);
    assert_eq!(redeem(ledger, &small, "s4").unwrap().0.amount_minor, 2_500);
}

fn per_member_limit(ledger: &dyn Ledger) {
    let v = amount_off(8, 100).max_uses(10).max_uses_per_member(2);
    let alice = accept(&v, Some(1), 1_000);
    let bob = accept(&v, Some(2), 1_000);
    redeem(ledger, &alice, "a1").unwrap();
    let (second, _) = redeem(ledger, &alice, "a2").unwrap();
    assert_eq!(
        redeem(ledger, &alice, "a3"),
        Err(Rejection::MemberLimitReached)
    );
    redeem(ledger, &bob, "b1").unwrap();
    // A voided use of Alice's no longer counts against her.
    ledger.void(second.id, at("2026-06-16T00:00:00Z")).unwrap();
    redeem(ledger, &alice, "a4").unwrap();
    assert_eq!(ledger.record(VoucherId(8)).unwrap().unwrap().uses, 3);
}

fn multi_use_voucher(ledger: &dyn Ledger) {
    let a = accept(&amount_off(9, 100).max_uses(3), None, 1_000);
    for i in 0..3 {
        redeem(ledger, &a, &format!("m{i}")).unwrap();
    }
    assert_eq!(redeem(ledger, &a, "m3"), Err(Rejection::AlreadyUsed));
    assert_eq!(ledger.record(VoucherId(9)).unwrap().unwrap().uses_left(), 0);
}

fn revoking_an_unseen_voucher_refuses_its_first_use(ledger: &dyn Ledger) {
    ledger
        .revoke(VoucherId(10), at("2026-06-01T00:00:00Z"))
        .unwrap();
    let a = accept(&amount_off(10, 100), None, 1_000);
    assert_eq!(redeem(ledger, &a, "x"), Err(Rejection::Revoked));
    let record = ledger.record(VoucherId(10)).unwrap().unwrap();
    assert_eq!(record.uses, 0);
    assert_eq!(
        record.status(at("2026-06-15T00:00:00Z"), chrono_tz::UTC),
        VoucherStatus::Revoked
    );
}

fn issue_is_recorded_once(ledger: &dyn Ledger) {
    let v = amount_off(11, 100).campaign(CampaignId(3));
    let issued = at("2026-06-01T00:00:00Z");
    ledger.record_issue(&v, issued).unwrap();
    ledger.record_issue(&v, at("2026-06-02T00:00:00Z")).unwrap();
    let record = ledger.record(VoucherId(11)).unwrap().unwrap();
    assert_eq!(record.issued_at, Some(issued));
    assert_eq!(record.terms.unwrap().campaign, Some(CampaignId(3)));
    assert_eq!(
        ledger.record_issue(&v.clone().max_uses(5), issued),
        Err(LedgerError::VoucherConflict(VoucherId(11)))
    );
}

fn history_is_in_order(ledger: &dyn Ledger) {
    let v = amount_off(12, 100).max_uses(2);
    ledger.record_issue(&v, at("2026-06-01T00:00:00Z")).unwrap();
    let a = accept(&v, None, 1_000);
    let (receipt, _) = redeem(ledger, &a, "h1").unwrap();
    ledger.void(receipt.id, at("2026-06-15T05:00:00Z")).unwrap();
    ledger
        .revoke(VoucherId(12), at("2026-06-20T00:00:00Z"))
        .unwrap();
    let kinds: Vec<String> = ledger
        .history(VoucherId(12))
        .unwrap()
        .into_iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["issued", "redeemed", "voided", "revoked"]);
    assert!(ledger.history(VoucherId(999)).unwrap().is_empty());
}

fn every_redemption_is_a_visit(ledger: &dyn Ledger) {
    let v = amount_off(13, 700).campaign(CampaignId(4));
    let a = accept(&v, Some(42), 12_800);
    redeem(ledger, &a, "v1").unwrap();
    let visits = ledger.visits().unwrap();
    assert_eq!(
        visits,
        [VisitEvent {
            member: Some(MemberId(42)),
            store: StoreId(1001),
            at: at("2026-06-15T04:00:00Z"),
            spend_minor: 12_800,
            voucher: Some(VoucherId(13)),
            campaign: Some(CampaignId(4)),
            discount_minor: 700,
        }]
    );
    let walk_in = VisitEvent {
        member: None,
        store: StoreId(1002),
        at: at("2026-06-14T04:00:00Z"),
        spend_minor: 3_000,
        voucher: None,
        campaign: None,
        discount_minor: 0,
    };
    ledger.record_visit(&walk_in).unwrap();
    let visits = ledger.visits().unwrap();
    assert_eq!(visits.len(), 2);
    assert_eq!(visits[0], walk_in, "oldest first");
    assert!(ledger.has_visited(MemberId(42)).unwrap());
    assert!(!ledger.has_visited(MemberId(43)).unwrap());
}

fn move_points(
    ledger: &dyn Ledger,
    member: u64,
    kind: MovementKind,
    key: &str,
) -> Result<Movement, LedgerError> {
    ledger.apply(&MovementRequest {
        member: MemberId(member),
        kind,
        at: at("2026-06-15T04:00:00Z"),
        idempotency_key: idem(key),
    })
}

use o2okit::ledger::Movement;

fn points_and_balance_never_go_negative(ledger: &dyn Ledger) {
    move_points(ledger, 1, MovementKind::EarnPoints(300), "p1").unwrap();
    move_points(ledger, 1, MovementKind::TopUp(50_000), "p2").unwrap();
    let m = move_points(ledger, 1, MovementKind::SpendPoints(120), "p3").unwrap();
    assert_eq!((m.points_after, m.balance_after_minor), (180, 50_000));
    assert!(matches!(
        move_points(ledger, 1, MovementKind::SpendPoints(181), "p4"),
        Err(LedgerError::InsufficientFunds { .. })
    ));
    assert!(matches!(
        move_points(ledger, 1, MovementKind::SpendBalance(50_001), "p5"),
        Err(LedgerError::InsufficientFunds { .. })
    ));
    move_points(ledger, 1, MovementKind::SpendBalance(50_000), "p6").unwrap();
    assert_eq!(
        move_points(ledger, 1, MovementKind::TopUp(0), "p7"),
        Err(LedgerError::ZeroMovement)
    );
    let account = ledger.account(MemberId(1)).unwrap();
    assert_eq!((account.points, account.balance_minor), (180, 0));
    assert_eq!(ledger.movements(MemberId(1)).unwrap().len(), 4);
    assert_eq!(ledger.account(MemberId(2)).unwrap(), Default::default());
}

fn movements_are_idempotent(ledger: &dyn Ledger) {
    let first = move_points(ledger, 1, MovementKind::TopUp(10_000), "t1").unwrap();
    let again = move_points(ledger, 1, MovementKind::TopUp(10_000), "t1").unwrap();
    assert_eq!(first, again);
    assert_eq!(ledger.account(MemberId(1)).unwrap().balance_minor, 10_000);
    assert_eq!(
        move_points(ledger, 1, MovementKind::TopUp(20_000), "t1"),
        Err(LedgerError::IdempotencyConflict("t1".into()))
    );
}

fn tier_rises_with_points_and_new_member_flag_falls_with_a_visit(ledger: &dyn Ledger) {
    let gold = TierSchedule {
        window_days: 365,
        levels: vec![(Tier(1), 1_000), (Tier(2), 5_000)],
    };
    let now = at("2026-06-15T04:00:00Z");
    let ctx = ledger.member_context(MemberId(5), now, &gold).unwrap();
    assert_eq!((ctx.tier, ctx.is_new), (Tier::BASIC, true));
    move_points(ledger, 5, MovementKind::EarnPoints(4_999), "e1").unwrap();
    assert_eq!(
        ledger.member_context(MemberId(5), now, &gold).unwrap().tier,
        Tier(1)
    );
    move_points(ledger, 5, MovementKind::EarnPoints(1), "e2").unwrap();
    assert_eq!(
        ledger.member_context(MemberId(5), now, &gold).unwrap().tier,
        Tier(2)
    );
    // A gold-only voucher now passes for this member.
    let a = accept(&amount_off(14, 100).min_tier(Tier(2)), Some(5), 1_000);
    redeem(ledger, &a, "g1").unwrap();
    assert!(
        !ledger
            .member_context(MemberId(5), now, &gold)
            .unwrap()
            .is_new
    );
}

fn unknown_receipts_and_wrong_merchant(ledger: &dyn Ledger) {
    assert_eq!(
        ledger.void(ReceiptId(77), at("2026-06-15T00:00:00Z")),
        Err(LedgerError::UnknownReceipt(ReceiptId(77)))
    );
    assert_eq!(ledger.receipt(ReceiptId(77)).unwrap(), None);
    let a = accept(&amount_off(15, 100), None, 1_000);
    let (receipt, _) = redeem(ledger, &a, "u1").unwrap();
    assert_eq!(ledger.receipt(receipt.id).unwrap(), Some(receipt));
    let foreign = Voucher::new(
        VoucherId(1),
        MerchantId(5),
        Currency::CNY,
        Benefit::AmountOff { minor: 1 },
    );
    assert!(matches!(
        ledger.record_issue(&foreign, at("2026-06-15T00:00:00Z")),
        Err(LedgerError::WrongMerchant { .. })
    ));
}

fn a_voided_sale_cannot_be_replayed(ledger: &dyn Ledger) {
    let a = accept(&amount_off(16, 500), None, 10_000);
    let (receipt, _) = redeem(ledger, &a, "sale-9").unwrap();
    ledger.void(receipt.id, at("2026-06-15T05:00:00Z")).unwrap();
    let err = ledger
        .redeem(&RedeemRequest::new(&a, &idem("sale-9")))
        .unwrap_err();
    assert_eq!(err, LedgerError::AlreadyVoided(receipt.id));
    assert_eq!(ledger.record(VoucherId(16)).unwrap().unwrap().uses, 0);
    // A new sale may use the restored use.
    assert!(redeem(ledger, &a, "sale-10").is_ok());
}

fn a_key_reused_for_another_member_or_basket_is_a_conflict(ledger: &dyn Ledger) {
    let v = amount_off(17, 100).max_uses(10);
    redeem(ledger, &accept(&v, Some(1), 1_000), "k").unwrap();
    for other in [
        accept(&v, Some(2), 1_000),
        accept(&v, Some(1), 2_000),
        accept(&v, None, 1_000),
    ] {
        let err = ledger
            .redeem(&RedeemRequest::new(&other, &idem("k")))
            .unwrap_err();
        assert_eq!(err, LedgerError::IdempotencyConflict("k".into()));
    }
    assert_eq!(ledger.record(VoucherId(17)).unwrap().unwrap().uses, 1);
}

fn receipts_keep_microseconds_and_replay_equal(ledger: &dyn Ledger) {
    let ring = keyring();
    let store = shenzhen();
    let basket = cny(1_000);
    let ctx = RedemptionContext::new(&store, at("2026-06-15T04:00:00.123456789Z"), &basket);
    let token = amount_off(18, 100).sign(&ring).unwrap();
    let Decision::Accepted(a) = verify_token(&token, &ring, &ctx) else {
        panic!("refused")
    };
    let (first, _) = redeem(ledger, &a, "micro").unwrap();
    assert_eq!(first.at, at("2026-06-15T04:00:00.123456Z"));
    assert_eq!(redeem(ledger, &a, "micro").unwrap(), (first.clone(), true));
    assert_eq!(ledger.receipt(first.id).unwrap(), Some(first));
}

fn the_latest_marketing_choice_wins(ledger: &dyn Ledger) {
    assert_eq!(ledger.marketing_opt_outs().unwrap(), []);
    let (m1, m2, m3) = (MemberId(11), MemberId(12), MemberId(13));
    ledger
        .set_marketing_opt_out(m2, true, at("2026-06-10T00:00:00Z"))
        .unwrap();
    ledger
        .set_marketing_opt_out(m1, true, at("2026-06-10T00:00:00Z"))
        .unwrap();
    assert_eq!(ledger.marketing_opt_outs().unwrap(), [m1, m2]);
    // m1 opts back in; a stale opt-out recorded later (a till's journal arriving late) does
    // not undo that.
    ledger
        .set_marketing_opt_out(m1, false, at("2026-06-12T00:00:00Z"))
        .unwrap();
    ledger
        .set_marketing_opt_out(m1, true, at("2026-06-11T00:00:00Z"))
        .unwrap();
    // At the same instant, opting out wins, whatever the order.
    ledger
        .set_marketing_opt_out(m3, true, at("2026-06-12T00:00:00Z"))
        .unwrap();
    ledger
        .set_marketing_opt_out(m3, false, at("2026-06-12T00:00:00Z"))
        .unwrap();
    ledger
        .set_marketing_opt_out(m2, true, at("2026-06-13T00:00:00Z"))
        .unwrap();
    assert_eq!(ledger.marketing_opt_outs().unwrap(), [m2, m3]);
    ledger
        .set_marketing_opt_out(m3, false, at("2026-06-12T00:00:01Z"))
        .unwrap();
    assert_eq!(ledger.marketing_opt_outs().unwrap(), [m2]);
}

fn offers_are_personal_vouchers_as_first_issued(ledger: &dyn Ledger) {
    let personal = |id: u64, member: u64| {
        amount_off(id, 500)
            .for_member(MemberId(member))
            .campaign(CampaignId(7))
    };
    let day = |d: u32| at(&format!("2026-06-{d:02}T08:00:00Z"));
    ledger.record_issue(&personal(1, 100), day(1)).unwrap();
    ledger
        .record_issues(
            &[personal(2, 100), personal(3, 200), amount_off(4, 500)],
            day(5),
        )
        .unwrap();
    // Recording again keeps the first issue instant.
    ledger.record_issue(&personal(1, 100), day(9)).unwrap();
    let offers = ledger.offers_since(day(1)).unwrap();
    let seen: Vec<(u64, u64, i64)> = offers
        .iter()
        .map(|o| (o.voucher.0, o.member.0, o.issued_at.timestamp()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, 100, day(1).timestamp()),
            (2, 100, day(5).timestamp()),
            (3, 200, day(5).timestamp())
        ]
    );
    assert!(offers.iter().all(|o| o.campaign == Some(CampaignId(7))));
    assert_eq!(ledger.offers_since(day(2)).unwrap().len(), 2);
    assert_eq!(ledger.offers_since(day(6)).unwrap(), []);
}
