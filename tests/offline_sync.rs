//! Offline tills and the head office: journal, sync, reconciliation, deny list, offline
//! allowance (issue 15). A day of a 3-store chain with 2 tills each, cut off at random; then
//! the faults a link and a franchise can cause.
#![cfg(feature = "sqlite")]

#[path = "common/mod.rs"]
mod common;

use chrono::{DateTime, Duration, Utc};
use common::Rng;
use o2okit::head_office::Conflict;
use o2okit::journal::{JournalBatch, JournalEntry};
use o2okit::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const MERCHANT: MerchantId = MerchantId(7);
const DAILY_CAP: u64 = 100_000;
const MAX_OFFLINE_DISCOUNT: u64 = 3_000;

fn secret() -> MerchantSecret {
    MerchantSecret::from_bytes(&[0x5a; 32]).unwrap()
}

fn root() -> Ed25519Key {
    Ed25519Key::from_seed(&[0x11; 32])
}

fn keyring() -> Keyring {
    Keyring::with_active_key(
        MERCHANT,
        KeyId(1),
        SigningKey::from_bytes(&[0x42; 32]).unwrap(),
    )
}

fn store(id: u32) -> Store {
    Store::new(
        StoreId(id),
        MERCHANT,
        chrono_tz::Asia::Shanghai,
        RegionCode::new("440305").unwrap(),
    )
}

fn head_office(dir: &Path) -> HeadOffice {
    HeadOffice::create(dir.join("hq.sync"), MERCHANT, secret(), root()).unwrap()
}

fn allowance() -> OfflineAllowance {
    OfflineAllowance::new(chrono_tz::Asia::Shanghai)
        .max_discount(MAX_OFFLINE_DISCOUNT)
        .max_since_sync(Duration::hours(4))
        .daily_discount_cap(DAILY_CAP)
}

fn till_ledger(dir: &Path, hq: &HeadOffice, till: TillId) -> SqliteLedger {
    let path = dir.join(format!("till-{}.ledger", till.0));
    let ledger = if path.exists() {
        SqliteLedger::open(&path, MERCHANT).unwrap()
    } else {
        SqliteLedger::create(&path, MERCHANT).unwrap()
    };
    let key = JournalKey::from_key(
        MERCHANT,
        till,
        SigningKey::from_bytes(hq.journal_key(till).expose_secret()).unwrap(),
    );
    ledger
        .with_journal(key)
        .unwrap()
        .with_offline_allowance(allowance())
        .unwrap()
}

/// One full sync: every unacknowledged record up, the answer down.
fn sync(ledger: &SqliteLedger, hq: &HeadOffice, at: DateTime<Utc>) -> head_office::Ingested {
    let batch = ledger.export_journal(10_000, at).unwrap();
    let ingested = hq.ingest(&batch).unwrap();
    ledger
        .apply_sync_ack(&ingested.ack, &root().public_key(), at)
        .unwrap();
    ingested
}

fn voucher_text(id: u64, benefit: Benefit, max_uses: u32) -> String {
    Voucher::new(VoucherId(id), MERCHANT, Currency::CNY, benefit)
        .max_uses(max_uses)
        .sign(&keyring())
        .unwrap()
        .to_scanner_text()
}

/// Runs each test on a head office in a SQLite file and, with the `postgres` feature and a
/// server (`scripts/with-postgres`), in a fresh PostgreSQL database.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let hq = head_office(dir.path());
                super::$name(dir.path(), &hq);
            })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            use super::*;
            $(#[test] fn $name() {
                let Some(admin) = common::pg_admin(stringify!($name)) else { return };
                let db = common::pg_database(&admin, stringify!($name));
                let dir = tempfile::tempdir().unwrap();
                let hq = HeadOffice::connect_pg(&db, MERCHANT, secret(), root(), PgOptions::default())
                    .unwrap();
                super::$name(dir.path(), &hq);
            })*
        }
    };
}

on_both_stores!(
    a_day_of_a_chain_with_tills_cut_off_at_random,
    a_batch_twice_or_out_of_order_converges,
    a_gap_is_reported_and_filled_by_the_next_export,
    truncated_edited_or_forked_batches_are_refused_whole,
    forged_or_altered_acknowledgements_change_nothing,
    the_deny_list_follows_revocations_spends_and_voids,
    online_only_vouchers_and_a_stale_sync_are_refused_offline,
    a_void_that_arrives_before_its_redemption_still_counts,
    marketing_choices_made_at_tills_reach_the_head_office,
);

struct Till {
    id: TillId,
    store: Store,
    ledger: SqliteLedger,
    online: bool,
    /// Every redemption this till accepted: voucher, receipt, amount.
    accepted: Vec<(VoucherId, ReceiptId, u64)>,
}

impl Till {
    /// Presents `text` at this till: verified against its deny list, redeemed in its ledger.
    fn present(
        &mut self,
        text: &str,
        spend: u64,
        at: DateTime<Utc>,
        sale: &str,
    ) -> Result<u64, Rejection> {
        let basket = Basket::single(Currency::CNY, spend).unwrap();
        let deny = self.ledger.deny_list().unwrap();
        let ctx = RedemptionContext::new(&self.store, at, &basket).with_deny_list(&deny);
        let accepted = match verify(text, &keyring(), &ctx) {
            Decision::Accepted(a) => a,
            Decision::Rejected { reason } => return Err(reason),
        };
        let key = IdempotencyKey::new(sale).unwrap();
        match self
            .ledger
            .redeem(&RedeemRequest::new(&accepted, &key))
            .unwrap()
        {
            RedeemOutcome::Redeemed { receipt, .. } => {
                self.accepted
                    .push((receipt.voucher, receipt.id, receipt.amount_minor));
                Ok(receipt.amount_minor)
            }
            RedeemOutcome::Refused { reason } => Err(reason),
        }
    }
}

fn a_day_of_a_chain_with_tills_cut_off_at_random(dir: &Path, hq: &HeadOffice) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap(); // 09:00 in Shanghai
    let mut tills: Vec<Till> = (0..6)
        .map(|i| Till {
            id: TillId(i + 1),
            store: store(i / 2 + 1),
            ledger: till_ledger(dir, hq, TillId(i + 1)),
            online: true,
            accepted: Vec::new(),
        })
        .collect();
    for till in &tills {
        sync(&till.ledger, hq, start);
    }
    // 300 single-use vouchers and 20 stored-value cards of 5,000.
    let single: Vec<String> = (1..=300)
        .map(|id| {
            voucher_text(
                id,
                Benefit::AmountOff {
                    minor: 500 + 100 * (id % 26),
                },
                1,
            )
        })
        .collect();
    let cards: Vec<String> = (1001..=1020)
        .map(|id| voucher_text(id, Benefit::StoredValue { minor: 5_000 }, u32::MAX))
        .collect();
    let identities = IdentityKey::from_bytes(&[3; 32]).unwrap();
    let (mut refused_online, mut check_ins, mut enrollments, mut sales) = (0, 0, 0, 0);

    // First, deliberate double spends: ten vouchers presented at two tills, both offline.
    for (n, id) in (0..10usize).map(|n| (n, 280 + n)) {
        let (a, b) = (n % 6, (n + 3) % 6);
        tills[a].online = false;
        tills[b].online = false;
        let at = start + Duration::minutes(n as i64);
        tills[a]
            .present(&single[id], 9_000, at, &format!("dbl-a-{n}"))
            .unwrap();
        tills[b]
            .present(&single[id], 9_000, at, &format!("dbl-b-{n}"))
            .unwrap();
    }

    for step in 0..1_200u32 {
        let at = start + Duration::seconds(35 * i64::from(step) + 600);
        let t = rng.below(6) as usize;
        if rng.chance(12) {
            tills[t].online = !tills[t].online;
        }
        if tills[t].online {
            let ingested = sync(&tills[t].ledger, hq, at);
            if rng.chance(10) {
                // The link delivers a batch twice: the second changes nothing.
                let again = hq
                    .ingest(&tills[t].ledger.export_journal(10_000, at).unwrap())
                    .unwrap();
                assert_eq!(again.new_records, 0);
                assert_eq!(again.through, ingested.through);
            }
        }
        let till = &mut tills[t];
        match rng.below(10) {
            0..=5 => {
                let (text, spend) = if rng.chance(15) {
                    (&cards[rng.below(20) as usize], 2_000 + rng.below(3_000))
                } else {
                    (&single[rng.below(280) as usize], 5_000 + rng.below(20_000))
                };
                match till.present(text, spend, at, &format!("t{}-{step}", till.id.0)) {
                    Ok(_) => {}
                    Err(Rejection::OnlineRequired) => refused_online += 1,
                    Err(Rejection::AlreadyUsed | Rejection::NoValueLeft) => {}
                    Err(other) => panic!("unexpected refusal {other}"),
                }
            }
            6..=8 => {
                let who = identities.pseudonym(
                    MERCHANT,
                    &AccountIdentity::phone(&format!("+86138{:08}", rng.below(150))).unwrap(),
                );
                let check_in = CheckIn {
                    store: till.store.id,
                    presence: Presence::Proven,
                    step: Some(u64::from(step)),
                };
                if let CheckInOutcome::Visited { enrolled, .. } = till
                    .ledger
                    .check_in(&CheckInRequest::new(&check_in, &who, at))
                    .unwrap()
                {
                    check_ins += 1;
                    enrollments += usize::from(enrolled);
                }
            }
            _ => {
                till.ledger
                    .record_visit(&VisitEvent {
                        member: None,
                        store: till.store.id,
                        at,
                        spend_minor: 1_000 + rng.below(9_000),
                        voucher: None,
                        campaign: None,
                        discount_minor: 0,
                    })
                    .unwrap();
                sales += 1;
            }
        }
    }
    // Evening: every till back online, synced twice (the second brings each the deny list
    // that includes what the others reported last).
    let evening = start + Duration::hours(13);
    for _ in 0..2 {
        for till in &tills {
            sync(&till.ledger, hq, evening);
        }
    }

    let redemptions: usize = tills.iter().map(|t| t.accepted.len()).sum();
    assert!(redemptions >= 200, "{redemptions} redemptions");
    assert!(
        check_ins >= 150 && enrollments >= 50,
        "{check_ins} check-ins, {enrollments} enrolled"
    );
    assert!(sales > 50 && refused_online > 0);

    // Every till entry is at the head office exactly once, in order.
    for till in &tills {
        let status = till.ledger.sync_status().unwrap();
        assert_eq!(status.acknowledged, status.written);
        let held = hq.entries(till.id).unwrap();
        assert_eq!(held.len() as u64, status.written);
        assert!(
            held.iter()
                .enumerate()
                .all(|(i, (seq, _))| *seq == i as u64 + 1)
        );
        let receipts: Vec<(VoucherId, ReceiptId, u64)> = held
            .iter()
            .filter_map(|(_, e)| match e {
                JournalEntry::Redeemed { receipt, .. } => {
                    Some((receipt.voucher, receipt.id, receipt.amount_minor))
                }
                _ => None,
            })
            .collect();
        assert_eq!(receipts, till.accepted);
        let hq_status = hq.till_status(till.id).unwrap();
        assert_eq!(
            (hq_status.through, hq_status.missing.len()),
            (status.written, 0)
        );
    }

    // Every double spend, and nothing else, is in the reconciliation report with every receipt.
    let mut by_voucher: BTreeMap<VoucherId, Vec<(TillId, ReceiptId, u64)>> = BTreeMap::new();
    for till in &tills {
        for &(v, r, amount) in &till.accepted {
            by_voucher.entry(v).or_default().push((till.id, r, amount));
        }
    }
    let expected: BTreeMap<VoucherId, BTreeSet<(TillId, ReceiptId)>> = by_voucher
        .iter()
        .filter(|(v, spent)| {
            if v.0 > 1000 {
                spent.iter().map(|s| s.2).sum::<u64>() > 5_000
            } else {
                spent.len() > 1
            }
        })
        .map(|(v, spent)| (*v, spent.iter().map(|s| (s.0, s.1)).collect()))
        .collect();
    let conflicts: Vec<Conflict> = hq.conflicts().unwrap();
    let reported: BTreeMap<VoucherId, BTreeSet<(TillId, ReceiptId)>> = conflicts
        .iter()
        .map(|c| {
            (
                c.voucher,
                c.receipts.iter().map(|r| (r.till, r.receipt)).collect(),
            )
        })
        .collect();
    assert_eq!(reported, expected);
    println!(
        "{redemptions} redemptions, {check_ins} check-ins ({enrollments} enrolled), {sales} sales, \
         {refused_online} refused online_required, {} conflicts",
        conflicts.len()
    );
    for n in 0..10 {
        let c = conflicts
            .iter()
            .find(|c| c.voucher == VoucherId(281 + n))
            .unwrap();
        assert_eq!(c.excess_uses, 1);
        let tills_seen: BTreeSet<TillId> = c.receipts.iter().map(|r| r.till).collect();
        assert_eq!(
            tills_seen.len(),
            2,
            "both tills of the deliberate double spend"
        );
    }
    // The head office's counts stay exact: the excess is counted, not hidden.
    for (v, spent) in &by_voucher {
        let (uses, value) = hq.voucher_uses(*v).unwrap();
        assert_eq!(uses, spent.len() as u64);
        assert_eq!(value, spent.iter().map(|s| s.2).sum::<u64>());
    }

    // Each till stayed within its offline allowance.
    for till in &tills {
        let given: u64 = till.accepted.iter().map(|a| a.2).sum();
        assert!(given <= DAILY_CAP, "till {} gave {given}", till.id);
        assert!(till.accepted.iter().all(|a| a.2 <= MAX_OFFLINE_DISCOUNT));
    }

    // Once synced, a voucher spent anywhere is refused at every till, even offline.
    let next_day = start + Duration::hours(24);
    for till in &mut tills {
        till.online = false;
        sync(&till.ledger, hq, next_day);
        for v in by_voucher.keys().filter(|v| v.0 <= 300) {
            let text = &single[v.0 as usize - 1];
            assert_eq!(
                till.present(text, 9_000, next_day, &format!("late-{}-{v}", till.id)),
                Err(Rejection::AlreadyUsed),
                "voucher {v} at till {}",
                till.id
            );
        }
    }
}

/// A till of `hq` with `n` decisions (visits).
fn till_with_records(dir: &Path, hq: &HeadOffice, n: u32) -> SqliteLedger {
    let ledger = till_ledger(dir, hq, TillId(1));
    let at: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    for i in 0..n {
        ledger
            .record_visit(&VisitEvent {
                member: None,
                store: StoreId(1),
                at: at + Duration::minutes(i64::from(i)),
                spend_minor: 1_000 + u64::from(i),
                voucher: None,
                campaign: None,
                discount_minor: 0,
            })
            .unwrap();
    }
    ledger
}

fn at() -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

/// The batch's records `range` as a batch of their own, chained from the record before.
fn slice(batch: &JournalBatch, range: std::ops::Range<usize>) -> Vec<u8> {
    let previous = if range.start == 0 {
        batch.previous
    } else {
        batch.records[range.start - 1].mac
    };
    JournalBatch {
        previous,
        records: batch.records[range].to_vec(),
        ..batch.clone()
    }
    .encode()
}

fn a_batch_twice_or_out_of_order_converges(dir: &Path, hq: &HeadOffice) {
    let till = till_with_records(dir, hq, 10);
    let bytes = till.export_journal(100, at()).unwrap();
    let batch = JournalBatch::decode(&bytes).unwrap();
    // The second half first: held, but not acknowledged past the gap.
    let late = hq.ingest(&slice(&batch, 5..10)).unwrap();
    assert_eq!(
        (late.new_records, late.through, late.missing.clone()),
        (5, 0, vec![(1, 5)])
    );
    let ack = SyncAck::open(&late.ack, &hq.journal_key(TillId(1))).unwrap();
    assert_eq!((ack.through, ack.missing), (0, vec![(1, 5)]));
    let first = hq.ingest(&slice(&batch, 0..5)).unwrap();
    assert_eq!((first.new_records, first.through), (5, 10));
    let whole = hq.ingest(&bytes).unwrap();
    assert_eq!(
        (whole.new_records, whole.duplicates, whole.through),
        (0, 10, 10)
    );
    let overlap = hq.ingest(&slice(&batch, 3..8)).unwrap();
    assert_eq!((overlap.new_records, overlap.duplicates), (0, 5));
    assert_eq!(hq.entries(TillId(1)).unwrap().len(), 10);
    // Acknowledgements applied out of order never move back.
    let root = root().public_key();
    assert_eq!(
        till.apply_sync_ack(&whole.ack, &root, at())
            .unwrap()
            .acknowledged,
        10
    );
    assert_eq!(
        till.apply_sync_ack(&late.ack, &root, at())
            .unwrap()
            .acknowledged,
        10
    );
    assert!(
        JournalBatch::decode(&till.export_journal(100, at()).unwrap())
            .unwrap()
            .records
            .is_empty()
    );
}

fn a_gap_is_reported_and_filled_by_the_next_export(dir: &Path, hq: &HeadOffice) {
    let till = till_with_records(dir, hq, 10);
    let batch = JournalBatch::decode(&till.export_journal(100, at()).unwrap()).unwrap();
    hq.ingest(&slice(&batch, 0..3)).unwrap();
    let gapped = hq.ingest(&slice(&batch, 6..10)).unwrap();
    assert_eq!((gapped.through, gapped.missing.clone()), (3, vec![(4, 6)]));
    till.apply_sync_ack(&gapped.ack, &root().public_key(), at())
        .unwrap();
    let resent = JournalBatch::decode(&till.export_journal(100, at()).unwrap()).unwrap();
    assert_eq!(resent.range(), Some((4, 10)));
    let filled = hq.ingest(&resent.encode()).unwrap();
    assert_eq!(
        (filled.new_records, filled.duplicates, filled.through),
        (3, 4, 10)
    );
    assert!(filled.missing.is_empty());
}

fn truncated_edited_or_forked_batches_are_refused_whole(dir: &Path, hq: &HeadOffice) {
    let till = till_with_records(dir, hq, 6);
    let bytes = till.export_journal(100, at()).unwrap();
    for cut in [1, 10, 40, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            hq.ingest(&bytes[..cut]),
            Err(LedgerError::Sync(SyncError::Malformed(_)))
        ));
    }
    // One entry edited: its spend raised by one digit. The MAC chain catches it.
    let mut batch = JournalBatch::decode(&bytes).unwrap();
    let text = String::from_utf8(batch.records[3].payload.clone()).unwrap();
    batch.records[3].payload = text
        .replace("\"spend_minor\":1003", "\"spend_minor\":9003")
        .into_bytes();
    assert_ne!(batch.records[3].payload, text.as_bytes());
    assert_eq!(
        hq.ingest(&batch.encode()).unwrap_err(),
        LedgerError::Sync(SyncError::BrokenChain {
            till: TillId(1),
            seq: 4
        })
    );
    // A record deleted: the next one no longer chains.
    let mut batch = JournalBatch::decode(&bytes).unwrap();
    batch.records.remove(2);
    for r in &mut batch.records[2..] {
        r.seq -= 1;
    }
    assert!(matches!(
        hq.ingest(&batch.encode()),
        Err(LedgerError::Sync(SyncError::BrokenChain { seq: 3, .. }))
    ));
    // Another till's key cannot write this till's journal.
    let mut batch = JournalBatch::decode(&bytes).unwrap();
    batch.till = TillId(2);
    assert!(matches!(
        hq.ingest(&batch.encode()),
        Err(LedgerError::Sync(SyncError::BrokenChain { .. }))
    ));
    assert_eq!(
        hq.till_status(TillId(1)).unwrap().records,
        0,
        "nothing stored"
    );
    // A second ledger file claiming the same till: its record 1 differs from the one held.
    hq.ingest(&bytes).unwrap();
    let other = SqliteLedger::create(dir.join("impostor.ledger"), MERCHANT)
        .unwrap()
        .with_journal(hq.journal_key(TillId(1)))
        .unwrap();
    other.revoke(VoucherId(9), at()).unwrap();
    assert_eq!(
        hq.ingest(&other.export_journal(10, at()).unwrap())
            .unwrap_err(),
        LedgerError::Sync(SyncError::Forked {
            till: TillId(1),
            seq: 1
        })
    );
    assert_eq!(hq.till_status(TillId(1)).unwrap().records, 6);
}

fn forged_or_altered_acknowledgements_change_nothing(dir: &Path, hq: &HeadOffice) {
    let till = till_with_records(dir, hq, 4);
    let ingested = hq.ingest(&till.export_journal(100, at()).unwrap()).unwrap();
    let root = root().public_key();
    let forged = SyncAck {
        merchant: MERCHANT,
        till: TillId(1),
        batch: [0; 8],
        through: 4,
        missing: vec![],
        deny_list_delta: vec![],
    }
    .encode(&hq.journal_key(TillId(2)));
    assert_eq!(
        till.apply_sync_ack(&forged, &root, at()).unwrap_err(),
        LedgerError::Sync(SyncError::BadAck)
    );
    let mut altered = ingested.ack.clone();
    let n = altered.len();
    altered[n - 40] ^= 1;
    assert!(till.apply_sync_ack(&altered, &root, at()).is_err());
    assert!(
        till.apply_sync_ack(&ingested.ack[..n - 1], &root, at())
            .is_err()
    );
    assert_eq!(till.sync_status().unwrap().acknowledged, 0);
    assert_eq!(
        till.apply_sync_ack(&ingested.ack, &root, at())
            .unwrap()
            .acknowledged,
        4
    );
    assert_eq!(till.sync_status().unwrap().last_sync_at, Some(at()));
    // Kept and replayed a day later, after the till exported again, the same genuine answer
    // does not make the till look freshly synced.
    let later = at() + Duration::days(1);
    let newer = till.export_journal(100, later).unwrap();
    let status = till.apply_sync_ack(&ingested.ack, &root, later).unwrap();
    assert_eq!(status.last_sync_at, Some(at()));
    // The answer to the latest export does.
    let answer = hq.ingest(&newer).unwrap();
    let status = till.apply_sync_ack(&answer.ack, &root, later).unwrap();
    assert_eq!(status.last_sync_at, Some(later));
}

fn the_deny_list_follows_revocations_spends_and_voids(dir: &Path, hq: &HeadOffice) {
    let a = till_ledger(dir, hq, TillId(1));
    let b = till_ledger(dir, hq, TillId(2));
    let t0: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    sync(&a, hq, t0);
    sync(&b, hq, t0);
    let mut till_a = Till {
        id: TillId(1),
        store: store(1),
        ledger: a,
        online: true,
        accepted: vec![],
    };
    let text = voucher_text(5, Benefit::AmountOff { minor: 800 }, 1);
    till_a.present(&text, 5_000, t0, "a-1").unwrap();
    hq.revoke(VoucherId(6), t0).unwrap();
    sync(&till_a.ledger, hq, t0);
    sync(&b, hq, t0);
    let list = b.deny_list().unwrap();
    assert_eq!(list.check(VoucherId(5)), Some(Rejection::AlreadyUsed));
    assert_eq!(list.check(VoucherId(6)), Some(Rejection::Revoked));
    assert_eq!(list.check(VoucherId(7)), None);
    // A refund restores the use: the next delta takes the voucher off the list.
    let receipt = till_a.accepted[0].1;
    till_a
        .ledger
        .void(receipt, t0 + Duration::minutes(5))
        .unwrap();
    sync(&till_a.ledger, hq, t0);
    sync(&b, hq, t0);
    assert_eq!(b.deny_list().unwrap().check(VoucherId(5)), None);
    assert_eq!(
        b.deny_list().unwrap().version(),
        hq.deny_list().unwrap().version()
    );
    // The list survives a restart of the till.
    drop(b);
    let b = till_ledger(dir, hq, TillId(2));
    assert_eq!(
        b.deny_list().unwrap().check(VoucherId(6)),
        Some(Rejection::Revoked)
    );
    // And a full signed list agrees with the deltas.
    let full = DenyList::open(
        &hq.signed_deny_list().unwrap(),
        &root().public_key(),
        MERCHANT,
    )
    .unwrap();
    assert_eq!(full, b.deny_list().unwrap());
}

fn online_only_vouchers_and_a_stale_sync_are_refused_offline(dir: &Path, hq: &HeadOffice) {
    let mut till = Till {
        id: TillId(1),
        store: store(1),
        ledger: till_ledger(dir, hq, TillId(1)),
        online: false,
        accepted: vec![],
    };
    let t0: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    let plain = voucher_text(1, Benefit::AmountOff { minor: 500 }, 1);
    assert_eq!(
        till.present(&plain, 5_000, t0, "s1"),
        Err(Rejection::OnlineRequired),
        "never synced"
    );
    sync(&till.ledger, hq, t0);
    let online_only = Voucher::new(
        VoucherId(2),
        MERCHANT,
        Currency::CNY,
        Benefit::AmountOff { minor: 500 },
    )
    .online_only()
    .sign(&keyring())
    .unwrap()
    .to_scanner_text();
    assert_eq!(
        till.present(&online_only, 5_000, t0, "s2"),
        Err(Rejection::OnlineRequired)
    );
    let big = voucher_text(3, Benefit::AmountOff { minor: 3_001 }, 1);
    assert_eq!(
        till.present(&big, 9_000, t0, "s3"),
        Err(Rejection::OnlineRequired)
    );
    assert_eq!(
        till.present(&plain, 5_000, t0 + Duration::hours(4), "s4"),
        Ok(500)
    );
    let later = voucher_text(4, Benefit::AmountOff { minor: 500 }, 1);
    assert_eq!(
        till.present(
            &later,
            5_000,
            t0 + Duration::hours(4) + Duration::seconds(1),
            "s5"
        ),
        Err(Rejection::OnlineRequired)
    );
    // A retry of an accepted sale still gets its receipt, whatever the allowance says now.
    assert_eq!(
        till.present(&plain, 5_000, t0 + Duration::hours(9), "s4"),
        Ok(500)
    );
}

/// The child of [`killed_mid_sync_loses_and_doubles_nothing`]: a till that records a sale and
/// syncs, over and over, until it is killed.
#[test]
#[ignore = "run as a child process by killed_mid_sync_loses_and_doubles_nothing"]
fn sync_child_loop() {
    let Some(dir) = std::env::var_os("O2OKIT_SYNC_CHILD") else {
        return;
    };
    let dir = Path::new(&dir);
    let hq = HeadOffice::open(dir.join("hq.sync"), MERCHANT, secret(), root()).unwrap();
    let till = till_ledger(dir, &hq, TillId(1));
    let base: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    for i in 0.. {
        let n = till.visits().unwrap().len() as i64;
        till.record_visit(&VisitEvent {
            member: None,
            store: StoreId(1),
            at: base + Duration::seconds(n),
            spend_minor: 100 + n as u64,
            voucher: None,
            campaign: None,
            discount_minor: 0,
        })
        .unwrap();
        if i % 3 != 2 {
            sync(&till, &hq, base);
        }
    }
}

#[test]
fn killed_mid_sync_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    drop(head_office(dir.path()));
    let mut rng = Rng(42);
    let mut sales = 0;
    for round in 0..20 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "sync_child_loop",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("O2OKIT_SYNC_CHILD", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(60 + rng.below(250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let hq = HeadOffice::open(dir.path().join("hq.sync"), MERCHANT, secret(), root()).unwrap();
        let till = till_ledger(dir.path(), &hq, TillId(1));
        let status = till.sync_status().unwrap();
        let held = hq.till_status(TillId(1)).unwrap();
        // The head office never holds more than the till wrote, nor acknowledged more than
        // it holds; the till never believes more is delivered than was.
        assert!(
            held.through <= status.written && status.acknowledged <= held.through,
            "round {round}"
        );
        sync(&till, &hq, at());
        let entries = hq.entries(TillId(1)).unwrap();
        let visits: Vec<VisitEvent> = entries
            .into_iter()
            .map(|(_, e)| match e {
                JournalEntry::Visited { visit } => visit,
                other => panic!("unexpected entry {other:?}"),
            })
            .collect();
        assert_eq!(
            visits,
            till.visits().unwrap(),
            "round {round}: every sale once, in order"
        );
        assert_eq!(
            till.sync_status().unwrap().acknowledged,
            visits.len() as u64
        );
        sales = visits.len();
    }
    println!("{sales} sales over 20 kills");
    assert!(
        sales >= 40,
        "the child made only {sales} sales: the kills proved little"
    );
}

/// Four head-office processes (here: four `HeadOffice` values, each with its own connections)
/// ingest eight tills' batches at once. Each voucher allows two uses and was used once at two
/// different tills: no single batch exhausts it, only the two together; a head office that
/// decided the deny list on a stale view would leave it off.
#[cfg(feature = "postgres")]
#[test]
fn concurrent_head_offices_on_postgres_lose_no_deny_list_change() {
    let Some(admin) = common::pg_admin("concurrent_head_offices") else {
        return;
    };
    let db = common::pg_database(&admin, "concurrent_head_offices");
    let dir = tempfile::tempdir().unwrap();
    let offices: Vec<HeadOffice> = (0..4)
        .map(|_| {
            HeadOffice::connect_pg(&db, MERCHANT, secret(), root(), PgOptions::default()).unwrap()
        })
        .collect();
    let t0: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    let mut tills: Vec<Till> = (1..=8u32)
        .map(|n| Till {
            id: TillId(n),
            store: store(n),
            ledger: till_ledger(dir.path(), &offices[0], TillId(n)),
            online: false,
            accepted: vec![],
        })
        .collect();
    for till in &tills {
        sync(&till.ledger, &offices[0], t0);
    }
    // Voucher v is used at tills v % 8 and (v + 1) % 8.
    for v in 0..80u64 {
        let text = voucher_text(v + 1, Benefit::AmountOff { minor: 100 }, 2);
        for t in [v % 8, (v + 1) % 8] {
            tills[t as usize]
                .present(&text, 5_000, t0, &format!("v{v}-t{t}"))
                .unwrap();
        }
    }
    std::thread::scope(|s| {
        for (office, pair) in offices.iter().zip(tills.chunks(2)) {
            s.spawn(move || {
                for till in pair {
                    sync(&till.ledger, office, t0);
                }
            });
        }
    });
    let list = offices[1].deny_list().unwrap();
    for v in 1..=80 {
        assert_eq!(
            list.check(VoucherId(v)),
            Some(Rejection::AlreadyUsed),
            "voucher {v}"
        );
        assert_eq!(offices[2].voucher_uses(VoucherId(v)).unwrap(), (2, 200));
    }
    assert!(
        offices[3].conflicts().unwrap().is_empty(),
        "two uses of two: no conflict"
    );
    for till in &mut tills {
        sync(&till.ledger, &offices[3], t0);
        let text = voucher_text(5, Benefit::AmountOff { minor: 100 }, 2);
        assert_eq!(
            till.present(&text, 5_000, t0, "late"),
            Err(Rejection::AlreadyUsed)
        );
    }
}

fn a_void_that_arrives_before_its_redemption_still_counts(dir: &Path, hq: &HeadOffice) {
    let t0: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    let mut till = Till {
        id: TillId(1),
        store: store(1),
        ledger: till_ledger(dir, hq, TillId(1)),
        online: false,
        accepted: vec![],
    };
    sync(&till.ledger, hq, t0);
    let text = voucher_text(9, Benefit::AmountOff { minor: 700 }, 1);
    till.present(&text, 5_000, t0, "sale-1").unwrap();
    let receipt = till.accepted[0].1;
    till.ledger
        .void(receipt, t0 + Duration::minutes(3))
        .unwrap();
    let batch = JournalBatch::decode(&till.ledger.export_journal(100, at()).unwrap()).unwrap();
    // The redemption and its void travel in different batches; the void's arrives first.
    let n = batch.records.len();
    assert_eq!(n, 2, "a redemption and its void");
    let late = hq.ingest(&slice(&batch, 1..2)).unwrap();
    assert_eq!((late.new_records, late.through), (1, 0));
    let first = hq.ingest(&slice(&batch, 0..1)).unwrap();
    assert_eq!(first.through, 2);
    assert_eq!(hq.voucher_uses(VoucherId(9)).unwrap(), (0, 0));
    assert!(hq.conflicts().unwrap().is_empty());
    assert_eq!(hq.deny_list().unwrap().check(VoucherId(9)), None);
}

#[test]
fn a_tills_ledger_opened_without_its_key_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hq = head_office(dir.path());
    let t0: DateTime<Utc> = "2026-12-01T02:00:00Z".parse().unwrap();
    let till = till_ledger(dir.path(), &hq, TillId(1));
    sync(&till, &hq, t0);
    drop(till);
    // A till program started without --journal-key: it can read, not decide.
    let plain = SqliteLedger::open(dir.path().join("till-1.ledger"), MERCHANT).unwrap();
    assert!(plain.visits().unwrap().is_empty());
    assert_eq!(
        plain.revoke(VoucherId(3), t0),
        Err(LedgerError::Sync(SyncError::NoJournal))
    );
    let mut till = Till {
        id: TillId(1),
        store: store(1),
        ledger: plain,
        online: false,
        accepted: vec![],
    };
    let text = voucher_text(3, Benefit::AmountOff { minor: 100 }, 1);
    let basket = Basket::single(Currency::CNY, 5_000).unwrap();
    let ctx = RedemptionContext::new(&till.store, t0, &basket);
    let Decision::Accepted(accepted) = verify(&text, &keyring(), &ctx) else {
        panic!("the voucher verifies");
    };
    let key = IdempotencyKey::new("plain-1").unwrap();
    assert_eq!(
        till.ledger.redeem(&RedeemRequest::new(&accepted, &key)),
        Err(LedgerError::Sync(SyncError::NoJournal))
    );
    till.accepted.clear();
    // With the key again, it works and journals.
    let till = till_ledger(dir.path(), &hq, TillId(1));
    till.revoke(VoucherId(3), t0).unwrap();
    assert_eq!(till.sync_status().unwrap().written, 1);
}

fn marketing_choices_made_at_tills_reach_the_head_office(dir: &Path, hq: &HeadOffice) {
    let (t1, t2) = (
        till_ledger(dir, hq, TillId(1)),
        till_ledger(dir, hq, TillId(2)),
    );
    let hour = |h| at() + Duration::hours(h);
    let choose = |till: &SqliteLedger, member, opted_out, h| {
        till.set_marketing_opt_out(MemberId(member), opted_out, hour(h))
            .unwrap()
    };
    choose(&t1, 5, true, 1);
    choose(&t1, 6, true, 1);
    // At till 2, an hour later, member 6 opts back in.
    choose(&t2, 6, false, 2);
    // Member 7 chose both ways at the same instant at two tills: opting out wins, whichever
    // batch arrives first.
    choose(&t2, 7, true, 1);
    choose(&t1, 7, false, 1);
    assert_eq!(t1.marketing_opt_outs().unwrap(), [MemberId(5), MemberId(6)]);
    assert_eq!(hq.marketing_opt_outs().unwrap(), []);
    // Till 2 syncs first; till 1's older opt-out of member 6 arrives after and loses.
    sync(&t2, hq, hour(3));
    assert_eq!(hq.marketing_opt_outs().unwrap(), [MemberId(7)]);
    let batch = t1.export_journal(100, hour(3)).unwrap();
    assert_eq!(hq.ingest(&batch).unwrap().new_records, 3);
    assert_eq!(hq.marketing_opt_outs().unwrap(), [MemberId(5), MemberId(7)]);
    // The same batch again changes nothing.
    assert_eq!(hq.ingest(&batch).unwrap().duplicates, 3);
    assert_eq!(hq.marketing_opt_outs().unwrap(), [MemberId(5), MemberId(7)]);
    // The choices carry their instants, and apply to a ledger with the same outcome.
    let choices = hq.marketing_choices().unwrap();
    assert_eq!(choices.len(), 3);
    assert_eq!(
        (choices[1].member, choices[1].opted_out, choices[1].at),
        (MemberId(6), false, hour(2))
    );
    let ledger = MemoryLedger::new(MERCHANT);
    ledger
        .set_marketing_opt_out(MemberId(6), true, hour(1))
        .unwrap();
    assert_eq!(hq.apply_marketing_choices(&ledger).unwrap(), 3);
    assert_eq!(
        ledger.marketing_opt_outs().unwrap(),
        [MemberId(5), MemberId(7)]
    );
}

#[test]
fn a_version_1_sync_file_is_migrated_and_another_merchants_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hq.sync");
    drop(HeadOffice::create(&path, MERCHANT, secret(), root()).unwrap());
    let version = || -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(), 2);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE marketing_opt_outs; PRAGMA user_version = 1;")
        .unwrap();
    // Another merchant's head office is refused before anything is written.
    assert!(matches!(
        HeadOffice::open(&path, MerchantId(8), secret(), root()),
        Err(LedgerError::WrongMerchant { .. })
    ));
    assert_eq!(version(), 1);
    let hq = HeadOffice::open(&path, MERCHANT, secret(), root()).unwrap();
    assert_eq!(version(), 2);
    assert_eq!(hq.marketing_choices().unwrap(), []);
    drop(hq);
    // Opening again finds it migrated.
    let hq = HeadOffice::open(&path, MERCHANT, secret(), root()).unwrap();
    assert_eq!(hq.marketing_opt_outs().unwrap(), []);
}
