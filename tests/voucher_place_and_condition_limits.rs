//! Region and condition limits at their edges, the discount arithmetic, and the check order.

mod common;

use common::*;
use o2okit::*;

const NOON: &str = "2026-06-15T04:00:00Z";

#[test]
fn store_list() {
    let v = amount_off(1, 500).at_stores([StoreId(1001), StoreId(1003)]);
    assert_eq!(Till::new(shenzhen()).outcome(&v, NOON), Ok(500));
    assert_eq!(
        Till::new(guangzhou()).outcome(&v, NOON),
        Err(Rejection::WrongStore)
    );
}

#[test]
fn region_prefix_edges() {
    let region = |code: &str| amount_off(2, 500).in_regions([RegionCode::new(code).unwrap()]);
    let nanshan = Till::new(shenzhen()); // region 440305
    assert_eq!(nanshan.outcome(&region("44"), NOON), Ok(500)); // Guangdong
    assert_eq!(nanshan.outcome(&region("4403"), NOON), Ok(500)); // Shenzhen
    assert_eq!(nanshan.outcome(&region("440305"), NOON), Ok(500)); // itself
    assert_eq!(
        nanshan.outcome(&region("4403051"), NOON), // a sub-region of it
        Err(Rejection::OutsideRegion)
    );
    assert_eq!(
        nanshan.outcome(&region("440304"), NOON), // Futian, the neighbour
        Err(Rejection::OutsideRegion)
    );
    assert_eq!(
        nanshan.outcome(&region("45"), NOON), // Guangxi
        Err(Rejection::OutsideRegion)
    );
    // Any one of several regions will do.
    let either = amount_off(3, 500).in_regions([
        RegionCode::new("4401").unwrap(),
        RegionCode::new("4403").unwrap(),
    ]);
    assert_eq!(Till::new(guangzhou()).outcome(&either, NOON), Ok(500));
    assert_eq!(nanshan.outcome(&either, NOON), Ok(500));
}

#[test]
fn geofence_uses_the_stores_coordinates() {
    // 5 km around Nanshan: Shenzhen inside, Guangzhou (~100 km) outside, New York has no
    // known location and cannot prove it is inside.
    let fence = Geofence {
        center: GeoPoint::from_degrees(22.54, 113.95).unwrap(),
        radius_m: 5_000,
    };
    let v = amount_off(4, 500).within(fence);
    assert_eq!(Till::new(shenzhen()).outcome(&v, NOON), Ok(500));
    assert_eq!(
        Till::new(guangzhou()).outcome(&v, NOON),
        Err(Rejection::OutsideGeofence)
    );
    assert_eq!(
        Till::new(new_york()).outcome(&v, NOON),
        Err(Rejection::OutsideGeofence)
    );
}

#[test]
fn minimum_spend_exactly_met_and_one_cent_short() {
    let v = amount_off(5, 2_000).min_spend(10_000);
    let till = |minor| Till::new(shenzhen()).basket(cny(minor));
    assert_eq!(till(10_000).outcome(&v, NOON), Ok(2_000));
    assert_eq!(
        till(9_999).outcome(&v, NOON),
        Err(Rejection::BelowMinimumSpend)
    );
}

#[test]
fn only_counting_categories_reach_the_minimum_and_the_discount() {
    let food = CategoryId(1);
    let drinks = CategoryId(2);
    let tobacco = CategoryId(9);
    let line = |category, amount_minor| BasketLine::new(category, amount_minor);
    let basket = Basket::new(
        Currency::CNY,
        vec![line(food, 6_000), line(drinks, 3_000), line(tobacco, 5_000)],
    )
    .unwrap();
    let till = Till::new(shenzhen()).basket(basket);

    // Tobacco never counts: 9,000 eligible, one fen short of a 9,001 minimum.
    let excl = |min| {
        Voucher::new(
            VoucherId(6),
            MERCHANT,
            Currency::CNY,
            Benefit::PercentOff {
                basis_points: 1_000,
                cap_minor: None,
            },
        )
        .except_categories([tobacco])
        .min_spend(min)
    };
    assert_eq!(till.outcome(&excl(9_000), NOON), Ok(900));
    assert_eq!(
        till.outcome(&excl(9_001), NOON),
        Err(Rejection::BelowMinimumSpend)
    );
    // Drinks only.
    let drinks_only = amount_off(7, 5_000).only_categories([drinks]);
    assert_eq!(till.outcome(&drinks_only, NOON), Ok(3_000));
    // A category the basket does not hold: nothing to discount.
    let desserts_only = amount_off(8, 500).only_categories([CategoryId(5)]);
    assert_eq!(
        till.outcome(&desserts_only, NOON),
        Err(Rejection::NoEligibleItems)
    );
    // A gift needs no eligible spend, but a gift limited to categories needs a line in them
    // (this basket has none in category 5): a voucher never gives nothing.
    let gift = Voucher::new(
        VoucherId(9),
        MERCHANT,
        Currency::CNY,
        Benefit::GiftItem {
            item: ItemId(42),
            quantity: 1,
        },
    )
    .only_categories([CategoryId(5)]);
    assert_eq!(till.outcome(&gift, NOON), Err(Rejection::NoEligibleItems));
    let any_line = Voucher {
        conditions: Conditions::default(),
        ..gift
    };
    assert_eq!(till.outcome(&any_line, NOON), Ok(0));
}

#[test]
fn percent_off_rounds_down_and_respects_its_cap() {
    let v = Voucher::new(
        VoucherId(10),
        MERCHANT,
        Currency::CNY,
        Benefit::PercentOff {
            basis_points: 1_500,
            cap_minor: Some(3_000),
        },
    );
    let till = |minor| Till::new(shenzhen()).basket(cny(minor));
    assert_eq!(till(1_999).outcome(&v, NOON), Ok(299)); // 299.85
    assert_eq!(till(20_000).outcome(&v, NOON), Ok(3_000)); // exactly the cap
    assert_eq!(till(50_000).outcome(&v, NOON), Ok(3_000)); // capped
}

#[test]
fn amount_off_never_exceeds_the_basket() {
    let v = amount_off(11, 5_000);
    assert_eq!(
        Till::new(shenzhen()).basket(cny(3_200)).outcome(&v, NOON),
        Ok(3_200)
    );
}

#[test]
fn member_conditions() {
    let bound = amount_off(12, 500).for_member(MemberId(77));
    let sz = || Till::new(shenzhen());
    assert_eq!(sz().outcome(&bound, NOON), Err(Rejection::MemberRequired));
    assert_eq!(
        sz().member(78, 0, false).outcome(&bound, NOON),
        Err(Rejection::WrongMember)
    );
    assert_eq!(sz().member(77, 0, false).outcome(&bound, NOON), Ok(500));

    let gold = amount_off(13, 500).min_tier(Tier(2));
    assert_eq!(
        sz().member(1, 1, false).outcome(&gold, NOON),
        Err(Rejection::TierTooLow)
    );
    assert_eq!(sz().member(1, 2, false).outcome(&gold, NOON), Ok(500));
    assert_eq!(sz().member(1, 3, false).outcome(&gold, NOON), Ok(500));
    assert_eq!(sz().outcome(&gold, NOON), Err(Rejection::MemberRequired));

    let welcome = amount_off(14, 500).new_members_only();
    assert_eq!(
        sz().member(1, 0, false).outcome(&welcome, NOON),
        Err(Rejection::NotNewMember)
    );
    assert_eq!(sz().member(1, 0, true).outcome(&welcome, NOON), Ok(500));

    // A per-member use limit can only be enforced for an identified member.
    let per_member = amount_off(15, 500).max_uses(100).max_uses_per_member(1);
    assert_eq!(
        sz().outcome(&per_member, NOON),
        Err(Rejection::MemberRequired)
    );
    assert_eq!(sz().member(1, 0, false).outcome(&per_member, NOON), Ok(500));
}

#[test]
fn not_combinable_and_currency() {
    let solo = amount_off(16, 500).not_combinable();
    let mut till = Till::new(shenzhen());
    assert_eq!(till.outcome(&solo, NOON), Ok(500));
    till.other_vouchers = 1;
    assert_eq!(till.outcome(&solo, NOON), Err(Rejection::NotCombinable));
    // A combinable voucher does not mind company.
    assert_eq!(till.outcome(&amount_off(17, 500), NOON), Ok(500));

    let usd = Till::new(new_york()).basket(Basket::single(Currency::USD, 10_000).unwrap());
    assert_eq!(
        usd.outcome(&amount_off(18, 500), NOON),
        Err(Rejection::CurrencyMismatch)
    );
}

#[test]
fn stage_order_region_before_member_before_basket() {
    let v = amount_off(19, 500)
        .at_stores([StoreId(1002)])
        .for_member(MemberId(5))
        .min_spend(1_000_000);
    let till = Till::new(shenzhen());
    assert_eq!(till.outcome(&v, NOON), Err(Rejection::WrongStore));
    let till = Till::new(guangzhou());
    assert_eq!(till.outcome(&v, NOON), Err(Rejection::MemberRequired));
    let till = Till::new(guangzhou()).member(5, 0, false);
    assert_eq!(till.outcome(&v, NOON), Err(Rejection::BelowMinimumSpend));
}

#[test]
fn invalid_vouchers_are_refused_at_signing() {
    let ring = keyring();
    let err = |v: Voucher| match v.sign(&ring) {
        Err(Error::Voucher(e)) => e,
        other => panic!("expected a voucher error, got {other:?}"),
    };
    assert!(matches!(
        err(amount_off(1, 0)),
        VoucherError::EmptyBenefit(_)
    ));
    assert!(matches!(
        err(amount_off(1, 5).valid_between(local("2026-02-01T00:00"), local("2026-02-01T00:00"))),
        VoucherError::EmptyValidity { .. }
    ));
    assert_eq!(
        err(amount_off(1, 5).on_weekdays(WeekdaySet::of(&[]))),
        VoucherError::NoWeekdays
    );
    assert_eq!(err(amount_off(1, 5).max_uses(0)), VoucherError::ZeroUses);
    assert_eq!(
        err(amount_off(1, 5).only_categories([])),
        VoucherError::NoCategories
    );
    assert_eq!(
        err(amount_off(1, 5).except_categories([])),
        VoucherError::NoCategories
    );
    // 64 regions of 16 characters would make a token longer than any reader accepts.
    let regions = (0..64).map(|i| RegionCode::new(&format!("{i:016}")).unwrap());
    assert!(matches!(
        amount_off(1, 5).in_regions(regions).sign(&ring),
        Err(Error::Token(TokenError::TooLong(_)))
    ));
    assert!(matches!(
        err(amount_off(1, 5).at_stores((0..65).map(StoreId))),
        VoucherError::TooMany {
            field: "stores",
            ..
        }
    ));
    let pct = Voucher::new(
        VoucherId(1),
        MERCHANT,
        Currency::CNY,
        Benefit::PercentOff {
            basis_points: 10_001,
            cap_minor: None,
        },
    );
    assert_eq!(err(pct), VoucherError::PercentAboveHundred(10_001));
    let foreign = Voucher::new(
        VoucherId(1),
        MerchantId(99),
        Currency::CNY,
        Benefit::AmountOff { minor: 5 },
    );
    assert!(matches!(
        foreign.sign(&ring),
        Err(Error::Key(KeyError::WrongMerchant { .. }))
    ));
}

#[test]
fn basket_totals_are_bounded() {
    let line = |amount_minor| BasketLine::new(CategoryId(0), amount_minor);
    assert_eq!(
        Basket::new(Currency::CNY, vec![line(u64::MAX), line(1)]),
        Err(MoneyError::Overflow)
    );
    assert_eq!(
        Basket::new(Currency::CNY, vec![line(i64::MAX as u64 + 1)]),
        Err(MoneyError::Overflow)
    );
    assert_eq!(
        Basket::new(Currency::CNY, vec![line(i64::MAX as u64)])
            .unwrap()
            .total_minor(),
        i64::MAX as u64
    );
}
