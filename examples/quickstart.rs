//! The README's main command: `cargo run --example quickstart`.
//!
//! A tea-house chain with stores in Shenzhen and New York: customers scan the store's
//! rotating check-in code and leave with a membership card (one through a friend's share
//! code); the chain issues a handful of vouchers, prints the text each one's QR code would
//! carry, checks them at several tills and moments — printing every decision with its
//! reason — and redeems one exactly once on a ledger file two tills share.

use chrono::{DateTime, Utc};
use o2okit::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let merchant = Merchant::new(
        MerchantId(88),
        "Leaf & Kettle",
        chrono_tz::Asia::Shanghai,
        Currency::CNY,
    );
    let nanshan = Store::new(
        StoreId(1001),
        merchant.id,
        chrono_tz::Asia::Shanghai,
        RegionCode::new("440305")?,
    )
    .named("Nanshan, Shenzhen")
    .located_at(GeoPoint::from_degrees(22.5329, 113.9305)?);
    let soho = Store::new(
        StoreId(2001),
        merchant.id,
        chrono_tz::America::New_York,
        RegionCode::new("US36061")?,
    )
    .named("SoHo, New York")
    .located_at(GeoPoint::from_degrees(40.7233, -74.0030)?);

    // In production the secret comes from a key store; 32 random bytes.
    let keyring = Keyring::with_active_key(
        merchant.id,
        KeyId(1),
        SigningKey::from_bytes(b"leaf-and-kettle-demo-key-32bytes")?,
    );

    enroll_at_the_door(&keyring, &nanshan)?;

    let issued_at = instant("2026-06-12T02:00:00Z");
    let member = MemberId(0x5eed_0000_0000_0001);
    let vouchers = [
        (
            "lunch: CNY 20 off a CNY 100 spend, workdays 11:00-14:00, Shenzhen stores, one member",
            Voucher::new(
                VoucherId(1),
                merchant.id,
                Currency::CNY,
                Benefit::AmountOff { minor: 2_000 },
            )
            .campaign(CampaignId(7))
            .for_member(member)
            .valid_between("2026-06-01T00:00".parse()?, "2026-07-01T00:00".parse()?)
            .on_weekdays(WeekdaySet::WORKDAYS)
            .during(DailyWindow::hm(11, 0, 14, 0)?)
            .in_regions([RegionCode::new("4403")?])
            .min_spend(10_000),
        ),
        (
            "come back within 7 days: 15% off (cap CNY 30), any store, not combinable",
            Voucher::new(
                VoucherId(2),
                merchant.id,
                Currency::CNY,
                Benefit::PercentOff {
                    basis_points: 1_500,
                    cap_minor: Some(3_000),
                },
            )
            .campaign(CampaignId(8))
            .valid_for_days(issued_at, merchant.time_zone, 7)?
            .not_combinable(),
        ),
        (
            "welcome gift: one free pot of tea for new gold-or-better members",
            Voucher::new(
                VoucherId(3),
                merchant.id,
                Currency::CNY,
                Benefit::GiftItem {
                    item: ItemId(501),
                    quantity: 1,
                },
            )
            .new_members_only()
            .min_tier(Tier(2)),
        ),
    ];

    println!("{} issues {} vouchers:", merchant.name, vouchers.len());
    let mut texts = Vec::new();
    for (what, voucher) in &vouchers {
        let text = voucher.sign(&keyring)?.to_scanner_text();
        println!(
            "  #{} {what}\n     QR text ({} chars): {text}",
            voucher.id,
            text.len()
        );
        texts.push(text);
    }
    #[cfg(feature = "qr-render")]
    {
        let code = o2okit::qr::encode(&texts[0], o2okit::qr::EcLevel::M)?;
        println!(
            "\nThe lunch voucher as the customer's phone shows it (QR version {}, level M):\n{}",
            code.version(),
            code.to_terminal()
        );
    }

    let lunch = Basket::single(Currency::CNY, 12_800)?;
    let small = Basket::single(Currency::CNY, 9_999)?;
    let dollars = Basket::single(Currency::USD, 2_400)?;
    let member_ctx = |is_new, tier| MemberContext::new(member, Tier(tier), is_new);
    let till = |store, at: &str, basket, member, others| Scenario {
        store,
        at: instant(at),
        basket,
        member,
        other_vouchers: others,
    };
    let forged = {
        let mut t = texts[0].clone();
        let swap = if &t[20..21] == "0" { "1" } else { "0" };
        t.replace_range(20..21, swap);
        t
    };
    let checks: Vec<(&str, &String, Scenario)> = vec![
        (
            "lunch voucher, Shenzhen, Monday 12:30 local",
            &texts[0],
            till(
                &nanshan,
                "2026-06-15T04:30:00Z",
                &lunch,
                Some(member_ctx(false, 0)),
                0,
            ),
        ),
        (
            "same, at 14:00 sharp local",
            &texts[0],
            till(
                &nanshan,
                "2026-06-15T06:00:00Z",
                &lunch,
                Some(member_ctx(false, 0)),
                0,
            ),
        ),
        (
            "same, on Saturday",
            &texts[0],
            till(
                &nanshan,
                "2026-06-20T04:30:00Z",
                &lunch,
                Some(member_ctx(false, 0)),
                0,
            ),
        ),
        (
            "same, one fen short of the minimum",
            &texts[0],
            till(
                &nanshan,
                "2026-06-15T04:30:00Z",
                &small,
                Some(member_ctx(false, 0)),
                0,
            ),
        ),
        (
            "same, presented without the member's card",
            &texts[0],
            till(&nanshan, "2026-06-15T04:30:00Z", &lunch, None, 0),
        ),
        (
            "same, in New York at 12:30 local",
            &texts[0],
            till(
                &soho,
                "2026-06-15T16:30:00Z",
                &lunch,
                Some(member_ctx(false, 0)),
                0,
            ),
        ),
        (
            "same, one character altered",
            &forged,
            till(
                &nanshan,
                "2026-06-15T04:30:00Z",
                &lunch,
                Some(member_ctx(false, 0)),
                0,
            ),
        ),
        (
            "come-back voucher, Shenzhen, 6 days later",
            &texts[1],
            till(&nanshan, "2026-06-18T06:00:00Z", &lunch, None, 0),
        ),
        (
            "same, with another voucher in the basket",
            &texts[1],
            till(&nanshan, "2026-06-18T06:00:00Z", &lunch, None, 1),
        ),
        (
            "same, in New York, paid in US dollars",
            &texts[1],
            till(&soho, "2026-06-18T14:00:00Z", &dollars, None, 0),
        ),
        (
            "same, 7 days later at the issue minute (Shenzhen wall clock)",
            &texts[1],
            till(&nanshan, "2026-06-19T02:00:00Z", &lunch, None, 0),
        ),
        (
            "welcome gift, new gold member",
            &texts[2],
            till(
                &nanshan,
                "2026-06-15T04:30:00Z",
                &lunch,
                Some(member_ctx(true, 2)),
                0,
            ),
        ),
        (
            "welcome gift, returning gold member",
            &texts[2],
            till(
                &nanshan,
                "2026-06-15T04:30:00Z",
                &lunch,
                Some(member_ctx(false, 2)),
                0,
            ),
        ),
        (
            "welcome gift, new basic member",
            &texts[2],
            till(
                &nanshan,
                "2026-06-15T04:30:00Z",
                &lunch,
                Some(member_ctx(true, 0)),
                0,
            ),
        ),
    ];

    println!("\nAt the till:");
    for (what, text, scenario) in &checks {
        let mut ctx = RedemptionContext::new(scenario.store, scenario.at, scenario.basket)
            .with_other_vouchers(scenario.other_vouchers);
        if let Some(member) = scenario.member {
            ctx = ctx.with_member(member);
        }
        let local = scenario.at.with_timezone(&scenario.store.time_zone);
        let verdict = match verify(text, &keyring, &ctx) {
            Decision::Accepted(ok) => match ok.voucher().benefit {
                Benefit::GiftItem { item, quantity } => {
                    format!("ACCEPTED  gift: {quantity} × item {item}")
                }
                _ => format!("ACCEPTED  discount {}", ok.discount()),
            },
            Decision::Rejected { reason } => {
                format!("REJECTED  {reason} (code {})", reason.code())
            }
        };
        println!(
            "  {what:<62} [{} {}]\n      -> {verdict}",
            scenario.store.name,
            local.format("%a %Y-%m-%d %H:%M %Z"),
        );
    }

    redeem_exactly_once(&keyring, &nanshan, &texts[0], member)?;
    offline_tills_and_the_head_office(&keyring, &nanshan)?;
    Ok(())
}

/// The store's screen shows a check-in code that changes every 30 seconds. A customer scans
/// it with their phone number and is enrolled; a friend comes through the first one's share
/// code; a member checks in at most once an hour, so scanning again counts no extra visit.
fn enroll_at_the_door(keyring: &Keyring, store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let ledger = MemoryLedger::new(keyring.merchant());
    // In production: 32 random bytes kept with the signing keys, never rotated.
    let identity_key = IdentityKey::from_bytes(b"leaf-and-kettle-identity-key-32b")?;
    let welcome = WelcomeOffer::new(
        Voucher::new(
            VoucherId(0),
            keyring.merchant(),
            Currency::CNY,
            Benefit::AmountOff { minor: 1_000 },
        )
        .min_spend(5_000),
        14,
    );
    let desk = CheckInDesk::new(keyring, &identity_key, CheckInPolicy::default(), store)
        .with_welcome(&welcome);
    println!(
        "At the door of {} (the screen's code rotates every 30 s):",
        store.name
    );
    let mut share = String::new();
    let scans = [
        (
            "2026-06-10T03:00:05Z",
            "+86 138 0013 8000",
            false,
            "Ming scans the screen",
        ),
        (
            "2026-06-10T03:00:20Z",
            "+86 138 0013 8000",
            false,
            "Ming scans the same code again",
        ),
        (
            "2026-06-10T03:05:00Z",
            "+86 139 0013 9000",
            true,
            "Hua scans with Ming's share code",
        ),
        (
            "2026-06-10T03:10:00Z",
            "+86 138 0013 8000",
            false,
            "Ming, a new code ten minutes later",
        ),
        (
            "2026-06-11T03:00:05Z",
            "+86 138 0013 8000",
            false,
            "Ming, the next day",
        ),
    ];
    for (n, (at, phone, referred, who)) in scans.into_iter().enumerate() {
        let at = instant(at);
        let code = rotating_code(keyring, store.id, &desk.policy, at)?.to_scanner_text();
        let identity = AccountIdentity::phone(phone)?;
        let mut scan = MemberScan::new(&code, &identity, VoucherId(900 + n as u64), at);
        if referred {
            scan = scan.with_share_code(&share);
        }
        match check_in_member(&ledger, &desk, &scan)? {
            ScanOutcome::CheckedIn(e) => {
                let what = if e.enrolled { "ENROLLED" } else { "VISIT   " };
                println!(
                    "  {who:<38} -> {what} card {}{}{}",
                    e.member.card,
                    e.member
                        .referred_by
                        .map(|_| ", referred by Ming")
                        .unwrap_or_default(),
                    e.welcome
                        .as_ref()
                        .map(|_| ", welcome voucher CNY 10 off")
                        .unwrap_or_default(),
                );
                if share.is_empty() {
                    share = share_code(keyring, e.member.id)?.to_scanner_text();
                }
            }
            ScanOutcome::Refused { reason } => {
                println!("  {who:<38} -> REFUSED  {reason} (code {})", reason.code())
            }
        }
    }
    println!(
        "  members {}, visits {}; no phone number is stored, only a keyed hash\n",
        ledger.members()?.len(),
        ledger.visits()?.len()
    );
    Ok(())
}

/// Two tills share one durable ledger file: the lunch voucher is spent once, a retry after a
/// timeout gets the same receipt, a second till is refused, a refund restores the use.
fn redeem_exactly_once(
    keyring: &Keyring,
    store: &Store,
    text: &str,
    member: MemberId,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("o2okit-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("store-1001.ledger");
    let till_1 = SqliteLedger::create(&path, keyring.merchant())?; // made once, at install
    let till_2 = SqliteLedger::open(&path, keyring.merchant())?; // another till, same file
    println!(
        "\nRedemption, two tills on one ledger file ({}):",
        path.display()
    );

    let basket = Basket::single(Currency::CNY, 12_800)?;
    let at = instant("2026-06-15T04:30:00Z");
    let tiers = ledger::TierSchedule {
        window_days: 365,
        levels: vec![(Tier(2), 5_000)],
    };
    let ctx = RedemptionContext::new(store, at, &basket)
        .with_member(till_1.member_context(member, at, &tiers)?);
    let Decision::Accepted(accepted) = verify(text, keyring, &ctx) else {
        return Err("the lunch voucher should verify".into());
    };
    let show = |till: &str, outcome: &RedeemOutcome| match outcome {
        RedeemOutcome::Redeemed { receipt, replayed } => println!(
            "  {till:<24} REDEEMED  receipt #{} for {}{}",
            receipt.id,
            Money::new(receipt.amount_minor as i64, Currency::CNY),
            if *replayed {
                " (replayed: same receipt, nothing spent twice)"
            } else {
                ""
            }
        ),
        RedeemOutcome::Refused { reason } => {
            println!("  {till:<24} REFUSED   {reason} (code {})", reason.code())
        }
    };
    let key_1 = IdempotencyKey::new("till-1/2026-06-15/0042")?;
    let key_2 = IdempotencyKey::new("till-2/2026-06-15/0007")?;
    let request = |key| RedeemRequest::new(&accepted, key);
    let first = till_1.redeem(&request(&key_1))?;
    show("till 1, scan:", &first);
    show(
        "till 1, retry (timeout):",
        &till_1.redeem(&request(&key_1))?,
    );
    show("till 2, same voucher:", &till_2.redeem(&request(&key_2))?);
    if let Some(receipt) = first.receipt() {
        let record = till_1.void(receipt.id, instant("2026-06-15T05:00:00Z"))?;
        println!(
            "  till 1, refund of receipt #{}: voucher has {} use left",
            receipt.id,
            record.uses_left()
        );
        show("till 2, scan again:", &till_2.redeem(&request(&key_2))?);
    }
    let points = ledger::PointsRule {
        unit_minor: 100,
        points_per_unit: 1,
    }
    .points_for(basket.total_minor());
    let movement = till_2.apply(&ledger::MovementRequest {
        member,
        kind: ledger::MovementKind::EarnPoints(points),
        at,
        idempotency_key: IdempotencyKey::new("till-2/2026-06-15/0007/points")?,
    })?;
    println!(
        "  member earns {points} points for the visit: {} points on the card",
        movement.points_after
    );
    println!(
        "  visits recorded for analytics: {}",
        till_1.visits()?.len()
    );
    drop((till_1, till_2));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Two tills of different stores lose the network and both accept the same single-use
/// voucher (each alone cannot know). Back online, each sends its journal to the head office,
/// which reports the double spend with both receipts and sends both tills a deny list: from
/// then on the voucher is refused even offline.
fn offline_tills_and_the_head_office(
    keyring: &Keyring,
    nanshan: &Store,
) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("o2okit-quickstart-hq-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let merchant = keyring.merchant();
    // In production: the merchant secret and the root key live at the head office only.
    let root = Ed25519Key::from_seed(&[0x21; 32]);
    let hq = HeadOffice::create(
        dir.join("hq.sync"),
        merchant,
        MerchantSecret::from_bytes(&[0x13; 32])?,
        root.clone(),
    )?;
    let futian = Store::new(
        StoreId(1002),
        merchant,
        chrono_tz::Asia::Shanghai,
        RegionCode::new("440304")?,
    )
    .named("Futian, Shenzhen");
    let allowance = OfflineAllowance::new(chrono_tz::Asia::Shanghai)
        .max_discount(5_000)
        .daily_discount_cap(50_000);
    let open_till = |n: u32| -> Result<SqliteLedger, Box<dyn std::error::Error>> {
        Ok(
            SqliteLedger::create(dir.join(format!("till-{n}.ledger")), merchant)?
                .with_journal(hq.journal_key(TillId(n)))? // provisioned once per till
                .with_offline_allowance(allowance)?,
        )
    };
    let tills = [(open_till(1)?, nanshan), (open_till(2)?, &futian)];
    let morning = instant("2026-06-20T01:00:00Z");
    let sync =
        |till: &SqliteLedger, at| -> Result<head_office::Ingested, Box<dyn std::error::Error>> {
            let batch = till.export_journal(1_000, at)?; // bytes: send them any way you like
            let answer = hq.ingest(&batch)?;
            till.apply_sync_ack(&answer.ack, &root.public_key(), at)?;
            Ok(answer)
        };
    for (till, _) in &tills {
        sync(till, morning)?;
    }
    let text = Voucher::new(
        VoucherId(9_001),
        merchant,
        Currency::CNY,
        Benefit::AmountOff { minor: 3_000 },
    )
    .sign(keyring)?
    .to_scanner_text();
    let basket = Basket::single(Currency::CNY, 15_000)?;
    println!("\nOffline tills, then the head office:");
    let present = |till: &SqliteLedger,
                   store: &Store,
                   at,
                   sale: &str|
     -> Result<String, Box<dyn std::error::Error>> {
        let deny_list = till.deny_list()?;
        let ctx = RedemptionContext::new(store, at, &basket).with_deny_list(&deny_list);
        Ok(match verify(&text, keyring, &ctx) {
            Decision::Accepted(ok) => {
                match till.redeem(&RedeemRequest::new(&ok, &IdempotencyKey::new(sale)?))? {
                    RedeemOutcome::Redeemed { receipt, .. } => {
                        format!("REDEEMED  receipt #{} offline", receipt.id)
                    }
                    RedeemOutcome::Refused { reason } => format!("REFUSED   {reason}"),
                }
            }
            Decision::Rejected { reason } => {
                format!("REFUSED   {reason} (deny list v{})", deny_list.version())
            }
        })
    };
    let noon = instant("2026-06-20T04:00:00Z");
    for (n, (till, store)) in tills.iter().enumerate() {
        println!(
            "  network down, till {} in {:<18} {}",
            n + 1,
            store.name,
            present(till, store, noon, &format!("t{n}/0001"))?
        );
    }
    let evening = instant("2026-06-20T10:00:00Z");
    for (n, (till, _)) in tills.iter().enumerate() {
        let answer = sync(till, evening)?;
        println!(
            "  network back, till {} syncs: {} journal records delivered",
            n + 1,
            answer.new_records
        );
    }
    for conflict in hq.conflicts()? {
        let at: Vec<String> = conflict
            .receipts
            .iter()
            .map(|r| format!("till {} receipt #{}", r.till, r.receipt))
            .collect();
        println!(
            "  head office: voucher {} spent {} time(s) too many ({})",
            conflict.voucher,
            conflict.excess_uses,
            at.join(", ")
        );
    }
    sync(&tills[0].0, evening)?; // the next sync brings the deny list
    let later = instant("2026-06-21T04:00:00Z");
    println!(
        "  next day, offline again, till 1: {}",
        present(&tills[0].0, nanshan, later, "t0/0002")?
    );
    drop((tills, hq));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

struct Scenario<'a> {
    store: &'a Store,
    at: DateTime<Utc>,
    basket: &'a Basket,
    member: Option<MemberContext>,
    other_vouchers: u32,
}

fn instant(rfc3339: &str) -> DateTime<Utc> {
    rfc3339.parse().expect("valid RFC 3339 instant")
}
