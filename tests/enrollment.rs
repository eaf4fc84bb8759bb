//! Enrollment and check-in: the same tests against both ledgers.

#[macro_use]
mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use o2okit::analytics::{Granularity, referrals};
use o2okit::*;

both_ledgers!(
    a_first_scan_enrolls_and_later_scans_only_visit,
    a_replayed_code_is_refused_and_records_nothing,
    a_code_replayed_across_the_hour_is_still_a_replay,
    a_new_member_offer_survives_the_enrolling_check_in,
    a_reused_welcome_id_is_refused_and_records_nothing,
    a_desk_of_mixed_merchants_is_refused,
    a_lost_answer_is_recovered_from_the_ledger,
    members_are_listed_in_order_of_enrollment,
    bad_codes_are_refused_before_the_ledger,
    a_share_code_records_who_referred_whom,
    a_forged_share_code_enrolls_nobody,
    printed_codes_count_once_an_hour,
    the_welcome_voucher_is_recorded_and_redeemable_by_the_member,
    a_welcome_voucher_for_someone_else_is_refused,
    colliding_member_ids_are_refused,
    taken_card_numbers_move_to_the_next_free_one,
    self_referral_is_ignored,
);

const POLICY: CheckInPolicy = CheckInPolicy::every(std::num::NonZeroU32::new(30).unwrap(), 1);

fn identity_key() -> IdentityKey {
    IdentityKey::from_bytes(&[0x5A; 32]).unwrap()
}

fn phone(n: u32) -> AccountIdentity {
    AccountIdentity::phone(&format!("+86 138 {n:08}")).unwrap()
}

fn code_at(when: DateTime<Utc>) -> String {
    rotating_code(&keyring(), shenzhen().id, &POLICY, when)
        .unwrap()
        .to_scanner_text()
}

fn welcome_offer() -> WelcomeOffer {
    WelcomeOffer::new(amount_off(0, 1_000).min_spend(5_000), 14)
}

/// What the Shenzhen store's check-in desk is made of, owned so tests can borrow desks from it.
struct Door {
    ring: Keyring,
    key: IdentityKey,
    store: Store,
    offer: WelcomeOffer,
}

impl Door {
    fn shenzhen() -> Self {
        Door {
            ring: keyring(),
            key: identity_key(),
            store: shenzhen(),
            offer: welcome_offer(),
        }
    }

    /// The desk, with the welcome offer or without.
    fn desk(&self, welcome: bool) -> CheckInDesk<'_> {
        let desk = CheckInDesk::new(&self.ring, &self.key, POLICY, &self.store);
        if welcome {
            desk.with_welcome(&self.offer)
        } else {
            desk
        }
    }
}

/// A scan of `code` at `when` as `identity`: no share code, no position, the welcome voucher
/// numbered by the second of the scan.
fn member_scan<'a>(
    code: &'a str,
    identity: &'a AccountIdentity,
    when: DateTime<Utc>,
) -> MemberScan<'a> {
    let mut scan = MemberScan::new(code, identity, VoucherId(when.timestamp() as u64), when);
    scan.fence_radius_m = 150;
    scan
}

/// Scans `code` at `when` as `identity` in Shenzhen, with the welcome offer.
fn scan(
    ledger: &dyn Ledger,
    code: &str,
    identity: &AccountIdentity,
    share: Option<&str>,
    when: DateTime<Utc>,
) -> ScanOutcome {
    let mut scan = member_scan(code, identity, when);
    scan.share_code = share;
    check_in_member(ledger, &Door::shenzhen().desk(true), &scan).unwrap()
}

fn checked_in(outcome: ScanOutcome) -> MemberCheckIn {
    match outcome {
        ScanOutcome::CheckedIn(e) => *e,
        ScanOutcome::Refused { reason } => panic!("refused: {reason}"),
    }
}

fn refused(outcome: ScanOutcome) -> Rejection {
    match outcome {
        ScanOutcome::CheckedIn(e) => panic!("checked in {:?}", e.member),
        ScanOutcome::Refused { reason } => reason,
    }
}

fn a_first_scan_enrolls_and_later_scans_only_visit(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let first = checked_in(scan(ledger, &code_at(t0), &phone(1), None, t0));
    assert!(first.enrolled);
    let id = identity_key().pseudonym(MERCHANT, &phone(1)).member_id();
    assert_eq!(first.member.id, id);
    assert_eq!(first.member.enrolled_store, shenzhen().id);
    assert_eq!(first.presence, Presence::Proven);
    assert!(first.welcome.is_some());
    // The card token carries the member and the card number the ledger assigned.
    let card_text = first.card.to_scanner_text();
    assert_eq!(
        verify_membership_card(&card_text, &keyring()),
        Ok((id, first.member.card.clone()))
    );
    assert_eq!(ledger.member(id).unwrap(), Some(first.member.clone()));
    assert_eq!(
        ledger.member_by_card(&first.member.card).unwrap(),
        Some(first.member.clone())
    );
    assert!(ledger.has_visited(id).unwrap());

    // An hour later: the same member, a second visit, no second voucher.
    let t1 = t0 + Duration::hours(1);
    let again = checked_in(scan(ledger, &code_at(t1), &phone(1), None, t1));
    assert!(!again.enrolled);
    assert_eq!(again.member, first.member);
    assert_eq!(again.welcome, None);
    assert_eq!(ledger.members().unwrap(), vec![first.member]);
    let visits = ledger.visits().unwrap();
    assert_eq!(visits.len(), 2);
    assert!(
        visits
            .iter()
            .all(|v| v.member == Some(id) && v.spend_minor == 0)
    );
}

fn a_replayed_code_is_refused_and_records_nothing(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let code = code_at(t0);
    checked_in(scan(ledger, &code, &phone(1), None, t0));
    // The same member scanning the same code again, still within the tolerance.
    let later = t0 + Duration::seconds(20);
    assert_eq!(
        refused(scan(ledger, &code, &phone(1), None, later)),
        Rejection::ReplayedCode
    );
    assert_eq!(ledger.visits().unwrap().len(), 1);
    // The next codes within the hour do not pile up visits either.
    let t1 = t0 + Duration::minutes(5);
    assert_eq!(
        refused(scan(ledger, &code_at(t1), &phone(1), None, t1)),
        Rejection::AlreadyCheckedIn
    );
    // Another customer in front of the same screen is a visit of their own.
    assert!(checked_in(scan(ledger, &code, &phone(2), None, later)).enrolled);
    assert_eq!(ledger.visits().unwrap().len(), 2);
}

fn a_code_replayed_across_the_hour_is_still_a_replay(ledger: &dyn Ledger) {
    let shown = at("2026-06-15T04:59:50Z");
    let code = code_at(shown);
    checked_in(scan(ledger, &code, &phone(1), None, shown));
    let next_hour = at("2026-06-15T05:00:15Z"); // within the code's tolerance
    assert_eq!(
        refused(scan(ledger, &code, &phone(1), None, next_hour)),
        Rejection::ReplayedCode
    );
    // A fresh code in the new hour counts.
    let later = at("2026-06-15T05:10:00Z");
    assert!(!checked_in(scan(ledger, &code_at(later), &phone(1), None, later)).enrolled);
    assert_eq!(ledger.visits().unwrap().len(), 2);
}

fn bad_codes_are_refused_before_the_ledger(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let code = code_at(t0);
    // Outside the tolerance either way.
    let stale = t0 + Duration::seconds(90);
    assert_eq!(
        refused(scan(ledger, &code, &phone(1), None, stale)),
        Rejection::StaleCode
    );
    let early = t0 - Duration::seconds(90);
    assert_eq!(
        refused(scan(ledger, &code, &phone(1), None, early)),
        Rejection::FutureCode
    );
    // Another store's screen.
    let elsewhere = rotating_code(&keyring(), guangzhou().id, &POLICY, t0)
        .unwrap()
        .to_scanner_text();
    assert_eq!(
        refused(scan(ledger, &elsewhere, &phone(1), None, t0)),
        Rejection::WrongStore
    );
    // A voucher is not a check-in code; garbage is malformed.
    let voucher = amount_off(5, 100)
        .sign(&keyring())
        .unwrap()
        .to_scanner_text();
    assert_eq!(
        refused(scan(ledger, &voucher, &phone(1), None, t0)),
        Rejection::WrongKind
    );
    assert_eq!(
        refused(scan(ledger, "NOT A CODE", &phone(1), None, t0)),
        Rejection::Malformed
    );
    assert_eq!(ledger.members().unwrap(), vec![]);
    assert_eq!(ledger.visits().unwrap(), vec![]);
}

fn a_share_code_records_who_referred_whom(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let seed = checked_in(scan(ledger, &code_at(t0), &phone(1), None, t0)).member;
    let share = share_code(&keyring(), seed.id).unwrap().to_scanner_text();
    let t1 = t0 + Duration::days(1);
    let friend = checked_in(scan(ledger, &code_at(t1), &phone(2), Some(&share), t1));
    assert!(friend.enrolled);
    assert_eq!(friend.member.referred_by, Some(seed.id));
    let t2 = t1 + Duration::seconds(30);
    let other = checked_in(scan(ledger, &code_at(t2), &phone(3), Some(&share), t2));
    assert_eq!(other.member.referred_by, Some(seed.id));
    // A known member scanning a share code later is not re-attributed.
    let t3 = t2 + Duration::days(1);
    let friend_again = checked_in(scan(ledger, &code_at(t3), &phone(2), Some(&share), t3));
    assert_eq!(friend_again.member, friend.member);
    let stored = ledger.member(friend.member.id).unwrap().unwrap();
    assert_eq!(stored.referred_by, Some(seed.id));

    let report = referrals(
        &ledger.members().unwrap(),
        chrono_tz::Asia::Shanghai,
        Granularity::Month,
    );
    assert_eq!(report.by_referrer, [(seed.id, 2)]);
    assert_eq!((report.referred, report.seeds), (2, 1));
}

fn a_forged_share_code_enrolls_nobody(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let forged = Keyring::with_active_key(MERCHANT, KeyId(1), key(99));
    let share = share_code(&forged, MemberId(42)).unwrap().to_scanner_text();
    assert_eq!(
        refused(scan(ledger, &code_at(t0), &phone(1), Some(&share), t0)),
        Rejection::BadSignature
    );
    assert_eq!(ledger.members().unwrap(), vec![]);
    assert_eq!(ledger.visits().unwrap(), vec![]);
}

fn printed_codes_count_once_an_hour(ledger: &dyn Ledger) {
    let door = Door::shenzhen();
    let printed = printed_code(&door.ring, door.store.id)
        .unwrap()
        .to_scanner_text();
    let inside = GeoPoint::from_degrees(22.5335, 113.9305).unwrap(); // ~67 m from the store
    let identity = phone(1);
    let scan_at = |when: &str, position: Option<GeoPoint>| {
        let mut scan = member_scan(&printed, &identity, at(when));
        scan.position = position;
        check_in_member(ledger, &door.desk(false), &scan).unwrap()
    };
    let first = checked_in(scan_at("2026-06-15T04:10:00Z", None));
    assert_eq!(first.presence, Presence::Unproven);
    assert_eq!(first.welcome, None);
    assert_eq!(
        refused(scan_at("2026-06-15T04:50:00Z", Some(inside))),
        Rejection::AlreadyCheckedIn
    );
    let next_hour = checked_in(scan_at("2026-06-15T05:00:00Z", Some(inside)));
    assert_eq!(next_hour.presence, Presence::Geofenced);
    assert_eq!(ledger.visits().unwrap().len(), 2);
}

fn the_welcome_voucher_is_recorded_and_redeemable_by_the_member(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let enrolled = checked_in(scan(ledger, &code_at(t0), &phone(1), None, t0));
    let token = enrolled
        .welcome
        .expect("a new member gets the welcome voucher");
    let text = token.to_scanner_text();
    let welcome_id = VoucherId(t0.timestamp() as u64);
    let record = ledger
        .record(welcome_id)
        .unwrap()
        .expect("recorded as issued");
    assert_eq!(record.issued_at, Some(t0));

    // At the till: the member's own voucher is accepted, anyone else's card is not.
    let store = shenzhen();
    let basket = cny(6_000);
    let till = |member: MemberId, when: DateTime<Utc>| {
        let context = ledger
            .member_context(
                member,
                when,
                &ledger::TierSchedule {
                    window_days: 365,
                    levels: vec![],
                },
            )
            .unwrap();
        verify(
            &text,
            &keyring(),
            &RedemptionContext::new(&store, when, &basket).with_member(context),
        )
    };
    let next_day = t0 + Duration::days(1);
    let Decision::Accepted(ok) = till(enrolled.member.id, next_day) else {
        panic!("the member's welcome voucher was refused")
    };
    assert_eq!(ok.discount_minor(), 1_000);
    assert_eq!(
        till(MemberId(7), next_day),
        Decision::Rejected {
            reason: Rejection::WrongMember
        }
    );
    assert_eq!(
        till(enrolled.member.id, t0 + Duration::days(15)),
        Decision::Rejected {
            reason: Rejection::Expired
        }
    );
    assert!(redeem(ledger, &ok, "till/welcome").is_ok());
    assert_eq!(
        redeem(ledger, &ok, "till/welcome-again"),
        Err(Rejection::AlreadyUsed)
    );
}

fn request<'a>(
    check_in: &'a CheckIn,
    pseudonym: &'a Pseudonym,
    welcome: Option<&'a Voucher>,
) -> CheckInRequest<'a> {
    let mut request = CheckInRequest::new(check_in, pseudonym, at("2026-06-15T04:00:05Z"));
    request.welcome = welcome;
    request
}

fn rotating_check_in(step: u64) -> CheckIn {
    CheckIn {
        store: shenzhen().id,
        presence: Presence::Proven,
        step: Some(step),
    }
}

fn a_welcome_voucher_for_someone_else_is_refused(ledger: &dyn Ledger) {
    let pseudonym = identity_key().pseudonym(MERCHANT, &phone(1));
    let check_in = rotating_check_in(1);
    let stray = amount_off(9, 100).for_member(MemberId(12345));
    let err = ledger
        .check_in(&request(&check_in, &pseudonym, Some(&stray)))
        .unwrap_err();
    assert!(matches!(err, LedgerError::InvalidRequest(_)), "{err:?}");
    let foreign = Voucher {
        merchant: MerchantId(1),
        ..amount_off(9, 100).for_member(pseudonym.member_id())
    };
    let err = ledger
        .check_in(&request(&check_in, &pseudonym, Some(&foreign)))
        .unwrap_err();
    assert!(matches!(err, LedgerError::WrongMerchant { .. }), "{err:?}");
    assert_eq!(ledger.members().unwrap(), vec![]);
    assert_eq!(ledger.record(VoucherId(9)).unwrap(), None);
}

fn colliding_member_ids_are_refused(ledger: &dyn Ledger) {
    let first = Pseudonym::from_bytes([1; 32]);
    let mut bytes = [1; 32];
    bytes[31] = 2; // same first 8 bytes: same member id, another identity
    let second = Pseudonym::from_bytes(bytes);
    assert_eq!(first.member_id(), second.member_id());
    let check_in = rotating_check_in(1);
    assert!(matches!(
        ledger.check_in(&request(&check_in, &first, None)).unwrap(),
        CheckInOutcome::Visited { enrolled: true, .. }
    ));
    let later = rotating_check_in(2);
    assert_eq!(
        ledger.check_in(&request(&later, &second, None)),
        Err(LedgerError::IdentityCollision(first.member_id()))
    );
    assert_eq!(ledger.members().unwrap().len(), 1);
    assert_eq!(ledger.visits().unwrap().len(), 1);
}

fn taken_card_numbers_move_to_the_next_free_one(ledger: &dyn Ledger) {
    let mut a = [7; 32];
    let mut b = [7; 32];
    a[0] = 1;
    b[0] = 2; // other member ids, the same preferred card serial
    let (a, b) = (Pseudonym::from_bytes(a), Pseudonym::from_bytes(b));
    assert_eq!(a.preferred_card_serial(), b.preferred_card_serial());
    let check_in = rotating_check_in(1);
    let card_of = |p: &Pseudonym| match ledger.check_in(&request(&check_in, p, None)).unwrap() {
        CheckInOutcome::Visited { member, .. } => member.card,
        CheckInOutcome::Refused { reason } => panic!("{reason}"),
    };
    let card_a = card_of(&a);
    let card_b = card_of(&b);
    assert_eq!(card_a.serial(), a.preferred_card_serial());
    assert_eq!(
        card_b.serial(),
        (a.preferred_card_serial() + 1) % (CardNumber::MAX_SERIAL + 1)
    );
    assert_eq!(
        ledger.member_by_card(&card_b).unwrap().map(|m| m.id),
        Some(b.member_id())
    );
}

fn self_referral_is_ignored(ledger: &dyn Ledger) {
    let pseudonym = identity_key().pseudonym(MERCHANT, &phone(1));
    let check_in = rotating_check_in(1);
    let outcome = ledger
        .check_in(&request(&check_in, &pseudonym, None).referred_by(pseudonym.member_id()))
        .unwrap();
    let CheckInOutcome::Visited { member, .. } = outcome else {
        panic!("refused")
    };
    assert_eq!(member.referred_by, None);
}

fn a_new_member_offer_survives_the_enrolling_check_in(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let member = checked_in(scan(ledger, &code_at(t0), &phone(1), None, t0)).member;
    let gift = amount_off(70, 300)
        .new_members_only()
        .sign(&keyring())
        .unwrap();
    let store = shenzhen();
    let basket = cny(2_000);
    let schedule = ledger::TierSchedule {
        window_days: 365,
        levels: vec![],
    };
    let at_till = |when: DateTime<Utc>| {
        let context = ledger.member_context(member.id, when, &schedule).unwrap();
        verify_token(
            &gift,
            &keyring(),
            &RedemptionContext::new(&store, when, &basket).with_member(context),
        )
    };
    // The check-in that enrolled them is a visit, not a purchase: still new at the till.
    let t1 = t0 + Duration::minutes(10);
    let Decision::Accepted(first) = at_till(t1) else {
        panic!("a new member's offer was refused after enrolling")
    };
    redeem(ledger, &first, "till/new-member").unwrap();
    // Once they have bought, they are no longer new.
    assert_eq!(
        at_till(t1 + Duration::minutes(5)),
        Decision::Rejected {
            reason: Rejection::NotNewMember
        }
    );
}

fn a_reused_welcome_id_is_refused_and_records_nothing(ledger: &dyn Ledger) {
    let door = Door::shenzhen();
    let t0 = at("2026-06-15T04:00:05Z");
    let code = code_at(t0);
    let scan_as = |n: u32| {
        let identity = phone(n);
        let mut scan = member_scan(&code, &identity, t0);
        scan.welcome_id = VoucherId(77);
        check_in_member(ledger, &door.desk(true), &scan)
    };
    checked_in(scan_as(1).unwrap());
    assert_eq!(
        scan_as(2).unwrap_err(),
        Error::Ledger(LedgerError::VoucherConflict(VoucherId(77)))
    );
    assert_eq!(ledger.members().unwrap().len(), 1);
    assert_eq!(ledger.visits().unwrap().len(), 1);
}

fn a_desk_of_mixed_merchants_is_refused(ledger: &dyn Ledger) {
    let other_ring = Keyring::with_active_key(MerchantId(5), KeyId(1), key(1));
    let key = identity_key();
    let store = shenzhen();
    let mut other_store = shenzhen();
    other_store.merchant = MerchantId(5);
    let t0 = at("2026-06-15T04:00:05Z");
    let code = code_at(t0);
    let identity = phone(1);
    let scan = member_scan(&code, &identity, t0);
    let ring = keyring();
    for (keyring, store) in [(&other_ring, &store), (&ring, &other_store)] {
        let desk = CheckInDesk::new(keyring, &key, POLICY, store);
        let err = check_in_member(ledger, &desk, &scan).unwrap_err();
        assert!(
            matches!(err, Error::Ledger(LedgerError::WrongMerchant { .. })),
            "{err:?}"
        );
    }
    assert_eq!(ledger.members().unwrap(), vec![]);
}

fn a_lost_answer_is_recovered_from_the_ledger(ledger: &dyn Ledger) {
    let t0 = at("2026-06-15T04:00:05Z");
    let code = code_at(t0);
    let first = checked_in(scan(ledger, &code, &phone(1), None, t0));
    // The app never saw that answer and scans again: refused, but the ledger has the member,
    // and the desk signs the same card and welcome voucher again.
    let retry = t0 + Duration::seconds(10);
    assert_eq!(
        refused(scan(ledger, &code, &phone(1), None, retry)),
        Rejection::ReplayedCode
    );
    let id = identity_key().pseudonym(MERCHANT, &phone(1)).member_id();
    let member = ledger.member(id).unwrap().unwrap();
    assert_eq!(
        member.welcome_voucher,
        Some(VoucherId(t0.timestamp() as u64))
    );
    let (card, welcome) = Door::shenzhen().desk(true).tokens_for(&member).unwrap();
    assert_eq!(card, first.card);
    assert_eq!(welcome, first.welcome);
}

fn members_are_listed_in_order_of_enrollment(ledger: &dyn Ledger) {
    // A till whose clock runs behind records a later arrival with an earlier instant.
    let late = at("2026-06-15T05:00:00Z");
    let early = at("2026-06-15T04:50:00Z");
    let b = checked_in(scan(ledger, &code_at(late), &phone(2), None, late)).member;
    let a = checked_in(scan(ledger, &code_at(early), &phone(1), None, early)).member;
    assert_eq!(ledger.members().unwrap(), vec![a, b]);
}

#[cfg(feature = "sqlite")]
#[test]
fn the_ledger_file_never_holds_the_phone_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let ledger = SqliteLedger::create(&path, MERCHANT).unwrap();
    let t0 = at("2026-06-15T04:00:05Z");
    let identity = AccountIdentity::phone("+86 138 0013 8000").unwrap();
    checked_in(scan(&ledger, &code_at(t0), &identity, None, t0));
    drop(ledger);
    let mut bytes = std::fs::read(&path).unwrap();
    for side in ["-wal", "-shm"] {
        if let Ok(more) = std::fs::read(dir.path().join(format!("ledger.db{side}"))) {
            bytes.extend(more);
        }
    }
    for needle in ["8613800138000", "13800138000"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} found in the ledger file"
        );
    }
}
