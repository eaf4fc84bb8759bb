//! The visit store: batches appended day by day load as the whole log, across reopenings;
//! late batches sort in; a damaged or foreign store is refused, a torn append leaves the
//! store as it was.

use o2okit::analytics::*;
use std::path::Path;

fn generated() -> VisitLog {
    synthetic::generate(&synthetic::SyntheticParams {
        members: 2_000,
        stores: 6,
        start: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        months: 6,
        zone: chrono_tz::Europe::Paris,
        seed: 8,
    })
}

/// The visits of `log` in [from, to) as their own log (with the texts of their ids).
fn slice(log: &VisitLog, from: i64, to: i64) -> VisitLog {
    let mut b = VisitLogBuilder::new(log.zone());
    for i in 0..log.len() {
        let t = log.at()[i];
        if t < from || t >= to {
            continue;
        }
        let m = log.member()[i];
        let member = (m != ANONYMOUS).then(|| log.member_id(m));
        let at = chrono::DateTime::from_timestamp(t, 0).unwrap();
        b.push_at(member, log.store_id(log.store()[i]), at, log.spend()[i]);
    }
    b.build()
}

/// Every visit as (member id, store id, instant, spend), in log order.
fn visits(log: &VisitLog) -> Vec<(Option<String>, String, i64, i64)> {
    (0..log.len())
        .map(|i| {
            let m = log.member()[i];
            (
                (m != ANONYMOUS).then(|| log.member_id(m).to_owned()),
                log.store_id(log.store()[i]).to_owned(),
                log.at()[i],
                log.spend()[i],
            )
        })
        .collect()
}

fn append_by_weeks(dir: &Path, log: &VisitLog) -> usize {
    let (first, last) = (log.at()[0], log.at()[log.len() - 1]);
    let week = 7 * 86_400;
    let mut batches = 0;
    let mut from = first;
    while from <= last {
        // Reopened for every batch, as a nightly job would.
        let mut store = VisitStore::open(dir).unwrap();
        let batch = slice(log, from, from + week);
        let appended = store.append(&batch).unwrap();
        assert_eq!(appended.visits, batch.len());
        batches += usize::from(!batch.is_empty());
        from += week;
    }
    batches
}

#[test]
fn weekly_appends_load_as_the_whole_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    VisitStore::create(dir.path(), log.zone()).unwrap();
    let batches = append_by_weeks(dir.path(), &log);
    let store = VisitStore::open(dir.path()).unwrap();
    assert_eq!(store.segments(), batches);
    assert_eq!(store.len() as usize, log.len());
    assert_eq!(store.zone(), chrono_tz::Europe::Paris);
    let loaded = store.load().unwrap();
    assert_eq!(visits(&loaded), visits(&log));
    for granularity in [Granularity::Month, Granularity::Week, Granularity::Day] {
        assert_eq!(
            analyze(&loaded, granularity).unwrap(),
            analyze(&log, granularity).unwrap()
        );
    }
    assert_eq!(store_report(&loaded), store_report(&log));
    // Creating over an existing store is refused; opening an empty folder too.
    assert!(matches!(
        VisitStore::create(dir.path(), chrono_tz::UTC),
        Err(VisitStoreError::Exists(_))
    ));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        VisitStore::open(empty.path()),
        Err(VisitStoreError::Exists(_))
    ));
}

#[test]
fn a_late_batch_sorts_in() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    let middle = log.at()[log.len() / 2];
    let mut store = VisitStore::create(dir.path(), log.zone()).unwrap();
    store.append(&slice(&log, middle, i64::MAX)).unwrap();
    store.append(&slice(&log, i64::MIN, middle)).unwrap();
    let loaded = VisitStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(
        analyze(&loaded, Granularity::Month).unwrap(),
        analyze(&log, Granularity::Month).unwrap()
    );
    assert_eq!(loaded.at(), log.at());
    // An empty batch adds nothing, not even a segment.
    let before = store.segments();
    let none = store
        .append(&VisitLogBuilder::new(log.zone()).build())
        .unwrap();
    assert_eq!((none.visits, store.segments()), (0, before));
}

#[test]
fn a_damaged_store_is_refused_and_a_torn_append_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    let mut store = VisitStore::create(dir.path(), log.zone()).unwrap();
    let half = log.at()[log.len() / 2];
    store.append(&slice(&log, i64::MIN, half)).unwrap();
    let first_half = store.load().unwrap();

    // A torn append: ids written past the manifest's lengths, and a segment the manifest
    // does not list. The store reads as before, and the next append cuts them off.
    let mut members = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("members.bin"))
        .unwrap();
    std::io::Write::write_all(&mut members, b"\x05\x00\x00\x00torn!\x09").unwrap();
    std::fs::write(dir.path().join("segment-000002.bin"), b"half a segment").unwrap();
    let mut store = VisitStore::open(dir.path()).unwrap();
    assert_eq!(visits(&store.load().unwrap()), visits(&first_half));
    store.append(&slice(&log, half, i64::MAX)).unwrap();
    let whole = VisitStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(visits(&whole), visits(&log));

    let damage = |file: &str, f: &dyn Fn(&mut Vec<u8>)| {
        let path = dir.path().join(file);
        let original = std::fs::read(&path).unwrap();
        let mut bytes = original.clone();
        f(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let result = VisitStore::open(dir.path()).and_then(|s| s.load());
        std::fs::write(&path, &original).unwrap();
        result
    };
    for (file, what) in [
        ("segment-000001.bin", "one bit flipped"),
        ("segment-000002.bin", "cut short"),
        ("segment-000002.bin", "grown"),
        ("members.bin", "cut short"),
        ("stores.bin", "one bit flipped"),
    ] {
        let result = damage(file, &|b: &mut Vec<u8>| {
            if what == "cut short" {
                b.truncate(b.len() - 3);
            } else if what == "grown" {
                b.extend_from_slice(&[0; 24]);
            } else {
                let i = b.len() / 2;
                b[i] ^= 1;
            }
        });
        assert!(
            matches!(result, Err(VisitStoreError::Corrupt(_))),
            "{file} {what}: {result:?}"
        );
    }
    // A newer format, and a manifest that is not one.
    let manifest = dir.path().join("o2okit-visits.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"format\": 1", "\"format\": 2")).unwrap();
    assert!(matches!(
        VisitStore::open(dir.path()),
        Err(VisitStoreError::Format { found: 2 })
    ));
    std::fs::write(&manifest, "{\"format\": 1, \"zone\": ").unwrap();
    assert!(matches!(
        VisitStore::open(dir.path()),
        Err(VisitStoreError::Corrupt(_))
    ));
    std::fs::write(&manifest, &text).unwrap();
    assert_eq!(
        visits(&VisitStore::open(dir.path()).unwrap().load().unwrap()),
        visits(&log)
    );
}

#[test]
fn a_failed_append_changes_nothing_and_the_next_one_writes_every_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    let third = log.at()[log.len() / 3];
    let mut store = VisitStore::create(dir.path(), log.zone()).unwrap();
    store.append(&slice(&log, i64::MIN, third)).unwrap();
    // The next segment cannot be written: its temporary file's name is taken by a folder.
    let blocker = dir.path().join("segment-000002.tmp");
    std::fs::create_dir(&blocker).unwrap();
    let rest = slice(&log, third, i64::MAX);
    assert!(matches!(
        store.append(&rest),
        Err(VisitStoreError::Io { .. })
    ));
    assert_eq!(store.segments(), 1);
    std::fs::remove_dir(&blocker).unwrap();
    // The same handle appends again: the members first numbered by the failed append are
    // written now, so a fresh open reads every visit under its own member.
    let appended = store.append(&rest).unwrap();
    assert!(appended.new_members > 0);
    let loaded = VisitStore::open(dir.path()).unwrap().load().unwrap();
    assert_eq!(visits(&loaded), visits(&log));
}

#[test]
fn appends_take_turns_and_a_batch_appended_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    let half = log.at()[log.len() / 2];
    let (early, late) = (slice(&log, i64::MIN, half), slice(&log, half, i64::MAX));
    let mut a = VisitStore::create(dir.path(), log.zone()).unwrap();
    let mut b = VisitStore::open(dir.path()).unwrap();

    // While another holds the store's lock, an append waits its turn with a typed error.
    let other = std::fs::File::open(dir.path().join("o2okit-visits.lock"))
        .or_else(|_| std::fs::File::create(dir.path().join("o2okit-visits.lock")))
        .unwrap();
    other.try_lock().unwrap();
    assert!(matches!(a.append(&early), Err(VisitStoreError::Busy(_))));
    other.unlock().unwrap();

    // Two handles opened before either appended: the second reads what the first wrote
    // instead of numbering ids and naming its segment alike.
    a.append(&early).unwrap();
    b.append(&late).unwrap();
    let store = VisitStore::open(dir.path()).unwrap();
    assert_eq!(store.segments(), 2);
    assert_eq!(visits(&store.load().unwrap()), visits(&log));

    // The same day's file appended again would count it twice.
    assert!(matches!(
        a.append(&late),
        Err(VisitStoreError::AlreadyAppended(segment)) if segment == "segment-000002.bin"
    ));
    let store = VisitStore::open(dir.path()).unwrap();
    assert_eq!(store.len(), log.len() as u64);

    // The refused batch numbered no ids for good: a later batch with new members, on the
    // same handle, writes every id it uses.
    let mut b = VisitLogBuilder::new(log.zone());
    let last = chrono::DateTime::from_timestamp(log.at()[log.len() - 1] + 60, 0).unwrap();
    b.push_at(Some("newcomer"), "S-new", last, 900);
    b.push_at(Some(log.member_id(0)), "S-new", last, 100);
    let later = b.build();
    assert_eq!(a.append(&later).unwrap().new_members, 1);
    let reopened = VisitStore::open(dir.path()).unwrap().load().unwrap();
    let mut expected = visits(&log);
    expected.extend(visits(&later));
    expected.sort();
    let mut found = visits(&reopened);
    found.sort();
    assert_eq!(found, expected);
}

#[test]
fn a_manifest_claiming_more_visits_than_its_files_hold_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let log = generated();
    let mut store = VisitStore::create(dir.path(), log.zone()).unwrap();
    store.append(&log).unwrap();
    let manifest = dir.path().join("o2okit-visits.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let claimed = format!("\"visits\": {}", log.len());
    assert!(text.contains(&claimed));
    for huge in [u64::MAX, 1 << 60, 1_000_000_000_000] {
        std::fs::write(
            &manifest,
            text.replace(&claimed, &format!("\"visits\": {huge}")),
        )
        .unwrap();
        let result = VisitStore::open(dir.path()).unwrap().load();
        assert!(
            matches!(result, Err(VisitStoreError::Corrupt(_))),
            "{huge}: {result:?}"
        );
    }
}
