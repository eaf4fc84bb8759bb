//! Time limits at their exact edges, on the store's wall clock.

mod common;

use chrono::Weekday;
use common::*;
use o2okit::*;

const NOON: &str = "2026-06-15T04:00:00Z"; // Monday 12:00 in Shenzhen

#[test]
fn absolute_window_edges_are_store_local() {
    // Valid from 2026-06-01 00:00 until 2026-07-01 00:00, Shenzhen time (UTC+8).
    let v = amount_off(1, 500).valid_between(local("2026-06-01T00:00"), local("2026-07-01T00:00"));
    let till = Till::new(shenzhen());
    assert_eq!(
        till.outcome(&v, "2026-05-31T15:59:59Z"),
        Err(Rejection::NotYetValid)
    );
    assert_eq!(till.outcome(&v, "2026-05-31T16:00:00Z"), Ok(500));
    assert_eq!(till.outcome(&v, "2026-06-30T15:59:59Z"), Ok(500));
    assert_eq!(
        till.outcome(&v, "2026-06-30T16:00:00Z"),
        Err(Rejection::Expired)
    );
}

#[test]
fn the_same_voucher_expires_at_each_stores_own_midnight() {
    // A chain voucher "valid through June" dies at midnight where each store is: 12 hours
    // apart between Shenzhen and New York. Evaluating it in UTC would kill it 8 hours early in
    // Shenzhen and keep it 4 hours too long in New York.
    let v = amount_off(2, 500).valid_between(local("2026-06-01T00:00"), local("2026-07-01T00:00"));
    let sz = Till::new(shenzhen());
    let ny = Till::new(new_york()).basket(cny(10_000));
    assert_eq!(sz.outcome(&v, "2026-06-30T15:59:59Z"), Ok(500));
    assert_eq!(
        sz.outcome(&v, "2026-06-30T16:00:00Z"),
        Err(Rejection::Expired)
    );
    // New York is UTC-4 in summer: local midnight is 04:00Z.
    assert_eq!(ny.outcome(&v, "2026-07-01T03:59:59Z"), Ok(500));
    assert_eq!(
        ny.outcome(&v, "2026-07-01T04:00:00Z"),
        Err(Rejection::Expired)
    );
}

#[test]
fn expiry_on_a_spring_forward_day() {
    // New York, 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT (07:00Z).
    let v = amount_off(3, 500).valid_between(local("2026-03-01T00:00"), local("2026-03-08T03:00"));
    let ny = Till::new(new_york());
    assert_eq!(ny.outcome(&v, "2026-03-08T06:59:59Z"), Ok(500)); // 01:59:59 EST
    assert_eq!(
        ny.outcome(&v, "2026-03-08T07:00:00Z"), // 03:00:00 EDT
        Err(Rejection::Expired)
    );
    // A fixed UTC-5 offset would still accept at 07:30Z (02:30 "EST").
    assert_eq!(
        ny.outcome(&v, "2026-03-08T07:30:00Z"),
        Err(Rejection::Expired)
    );
}

#[test]
fn expiry_in_the_repeated_hour_of_a_fall_back_day_is_final() {
    // New York, 2026-11-01: 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST). A voucher
    // valid until 01:30 expires at the first and does not come back when the clock reads
    // 01:00 again at 06:00Z.
    let v = amount_off(10, 500).valid_between(local("2026-10-01T00:00"), local("2026-11-01T01:30"));
    let ny = Till::new(new_york());
    assert_eq!(ny.outcome(&v, "2026-11-01T05:29:59Z"), Ok(500));
    for after in [
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:29:59Z",
        "2026-11-01T07:00:00Z",
    ] {
        assert_eq!(ny.outcome(&v, after), Err(Rejection::Expired), "{after}");
    }
}

#[test]
fn daily_window_on_a_fall_back_day_covers_both_repeated_hours() {
    // New York, 2026-11-01: 01:00–02:00 happens twice (EDT, then EST at 06:00Z).
    let v = amount_off(4, 500).during(DailyWindow::hm(1, 0, 2, 0).unwrap());
    let ny = Till::new(new_york());
    assert_eq!(
        ny.outcome(&v, "2026-11-01T04:59:59Z"), // 00:59:59 EDT
        Err(Rejection::OutsideHours)
    );
    assert_eq!(ny.outcome(&v, "2026-11-01T05:30:00Z"), Ok(500)); // 01:30 EDT
    assert_eq!(ny.outcome(&v, "2026-11-01T06:30:00Z"), Ok(500)); // 01:30 EST
    assert_eq!(
        ny.outcome(&v, "2026-11-01T07:00:00Z"), // 02:00 EST
        Err(Rejection::OutsideHours)
    );
}

#[test]
fn relative_validity_is_resolved_on_the_merchants_wall_clock() {
    // Issued 2026-03-05 10:00 New York time, valid 7 days: until 2026-03-12 10:00 local,
    // across the spring-forward change (so 167 real hours, not 168).
    let issued = at("2026-03-05T15:00:00Z");
    let v = amount_off(5, 500)
        .valid_for_days(issued, chrono_tz::America::New_York, 7)
        .unwrap();
    assert_eq!(v.time.valid_from, Some(local("2026-03-05T10:00")));
    assert_eq!(v.time.valid_until, Some(local("2026-03-12T10:00")));
    let ny = Till::new(new_york());
    assert_eq!(ny.outcome(&v, "2026-03-12T13:59:59Z"), Ok(500)); // 09:59:59 EDT
    assert_eq!(
        ny.outcome(&v, "2026-03-12T14:00:00Z"),
        Err(Rejection::Expired)
    );
    assert_eq!(
        ny.outcome(&v, "2026-03-05T14:59:59Z"),
        Err(Rejection::NotYetValid)
    );
}

#[test]
fn weekday_boundary_is_local_midnight() {
    // Monday only. In Shenzhen, Monday 2026-06-15 starts at Sunday 16:00Z.
    let v = amount_off(6, 500).on_weekdays(WeekdaySet::of(&[Weekday::Mon]));
    let sz = Till::new(shenzhen());
    assert_eq!(
        sz.outcome(&v, "2026-06-14T15:59:59Z"), // Sunday 23:59:59 local
        Err(Rejection::WrongWeekday)
    );
    assert_eq!(sz.outcome(&v, "2026-06-14T16:00:00Z"), Ok(500)); // Monday 00:00 local
    assert_eq!(sz.outcome(&v, "2026-06-15T15:59:59Z"), Ok(500)); // Monday 23:59:59 local
    assert_eq!(
        sz.outcome(&v, "2026-06-15T16:00:00Z"), // Tuesday 00:00 local
        Err(Rejection::WrongWeekday)
    );
    // The same instant is still Sunday in New York.
    let ny = Till::new(new_york());
    assert_eq!(
        ny.outcome(&v, "2026-06-14T16:00:00Z"),
        Err(Rejection::WrongWeekday)
    );
    assert_eq!(sz.outcome(&v, NOON), Ok(500));
}

#[test]
fn lunch_window_edges() {
    let v = amount_off(7, 500)
        .on_weekdays(WeekdaySet::WORKDAYS)
        .during(DailyWindow::hm(11, 0, 14, 0).unwrap())
        .during(DailyWindow::hm(17, 30, 21, 0).unwrap());
    let sz = Till::new(shenzhen());
    // Monday 2026-06-15, Shenzhen = UTC+8.
    assert_eq!(
        sz.outcome(&v, "2026-06-15T02:59:59Z"),
        Err(Rejection::OutsideHours)
    );
    assert_eq!(sz.outcome(&v, "2026-06-15T03:00:00Z"), Ok(500)); // 11:00
    assert_eq!(sz.outcome(&v, "2026-06-15T05:59:59Z"), Ok(500)); // 13:59:59
    assert_eq!(
        sz.outcome(&v, "2026-06-15T06:00:00Z"), // 14:00
        Err(Rejection::OutsideHours)
    );
    assert_eq!(sz.outcome(&v, "2026-06-15T09:30:00Z"), Ok(500)); // 17:30
    assert_eq!(
        sz.outcome(&v, "2026-06-15T13:00:00Z"), // 21:00
        Err(Rejection::OutsideHours)
    );
    // Saturday lunch: the weekday check comes first.
    assert_eq!(
        sz.outcome(&v, "2026-06-20T04:00:00Z"),
        Err(Rejection::WrongWeekday)
    );
}

#[test]
fn time_checks_come_in_documented_order() {
    // Expired and wrong weekday and outside hours all at once: expired wins.
    let v = amount_off(8, 500)
        .valid_between(local("2026-01-01T00:00"), local("2026-02-01T00:00"))
        .on_weekdays(WeekdaySet::WEEKEND)
        .during(DailyWindow::hm(8, 0, 9, 0).unwrap());
    assert_eq!(
        Till::new(shenzhen()).outcome(&v, NOON),
        Err(Rejection::Expired)
    );
}

#[test]
fn verification_reads_no_clock_only_the_instant_given() {
    // The same expired voucher, checked with an instant before and after its end: the outcome
    // follows the instant passed in, so a till must keep its clock right (SECURITY.md).
    let v = amount_off(9, 500).valid_between(local("2026-01-01T00:00"), local("2026-02-01T00:00"));
    let till = Till::new(shenzhen());
    assert_eq!(till.outcome(&v, "2026-01-31T15:59:59Z"), Ok(500));
    assert_eq!(
        till.outcome(&v, "2026-01-31T16:00:00Z"),
        Err(Rejection::Expired)
    );
}
