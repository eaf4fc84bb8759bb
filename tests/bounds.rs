//! Hostile sizes (issue 11): instants centuries apart, a CSV line of 100 MB, spends that
//! overflow, camera frames and image files far too large. Each gets a typed error or a result
//! quickly, and this binary's allocator measures the memory it took.

mod common;

use common::*;
use o2okit::analytics::{
    AnalyticsError, CsvMode, Granularity, MAX_LINE_BYTES, VisitLogBuilder, analyze, read_csv,
};
use o2okit::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufReader, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live bytes and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller's contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller's contract.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this binary measure one at a time.
static MEASURING: Mutex<()> = Mutex::new(());

/// Runs `f` and returns its value and the most bytes it held at once beyond what was live
/// before.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let value = f();
    (value, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

const MIB: usize = 1 << 20;

fn unix(text: &str) -> chrono::DateTime<chrono::Utc> {
    at(text)
}

#[test]
fn a_till_clock_reset_to_1970_is_an_error_not_a_5_gb_report() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = VisitLogBuilder::new(chrono_tz::Asia::Shanghai);
    for i in 0..2_000i64 {
        let when = unix("2026-06-01T00:00:00Z") + chrono::Duration::minutes(i * 37);
        b.push(Some(&format!("m{}", i % 300)), StoreId(1), when, 1_000);
    }
    b.push(Some("m1"), StoreId(1), unix("1970-01-01T00:00:00Z"), 500);
    let log = b.build();
    let (report, peak) = peak_bytes(|| analyze(&log, Granularity::Day));
    assert_eq!(
        report.err(),
        Some(AnalyticsError::ImplausibleInstant { at: 0, count: 1 })
    );
    assert!(peak < MIB, "{peak} bytes");
}

#[test]
fn visits_two_centuries_apart_take_memory_by_the_visit_not_by_the_square_of_the_days() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = VisitLogBuilder::new(chrono_tz::UTC);
    for i in 0..2_000i64 {
        let when = unix("2000-01-01T00:00:00Z") + chrono::Duration::days(i * 36);
        b.push(Some(&format!("m{}", i % 500)), StoreId(1), when, 100);
    }
    b.push(Some("m7"), StoreId(1), unix("2199-12-31T12:00:00Z"), 100);
    let log = b.build();
    // Daily, the members returning every 18,000 days would need 27 Mi cohort cells: refused
    // with a clear error, in memory by the visit.
    let (refused, peak) = peak_bytes(|| analyze(&log, Granularity::Day));
    assert!(
        matches!(refused, Err(AnalyticsError::TooManyCohortCells { .. })),
        "{refused:?}"
    );
    assert!(peak < 64 * MIB, "{peak} bytes");
    let (monthly, peak) = peak_bytes(|| analyze(&log, Granularity::Month).unwrap());
    assert_eq!(monthly.periods.len(), 2_400);
    assert!(peak < 64 * MIB, "{peak} bytes");
    // One visit in 2000 and one in 2199 among visits of 2026: 73,049 days, one long cohort.
    let mut b = VisitLogBuilder::new(chrono_tz::UTC);
    for i in 0..2_000i64 {
        let when = unix("2026-01-01T00:00:00Z") + chrono::Duration::minutes(i * 97);
        b.push(Some(&format!("m{}", i % 400)), StoreId(1), when, 100);
    }
    b.push(Some("early"), StoreId(1), unix("2000-01-01T00:00:00Z"), 100);
    b.push(Some("early"), StoreId(1), unix("2199-12-31T12:00:00Z"), 100);
    let log = b.build();
    let started = std::time::Instant::now();
    let (report, peak) = peak_bytes(|| analyze(&log, Granularity::Day).unwrap());
    let periods = report.periods.len();
    eprintln!(
        "daily report over {periods} days, {} visits: {:.1} MiB at peak, {:?}",
        log.len(),
        peak as f64 / MIB as f64,
        started.elapsed()
    );
    assert_eq!(periods, 73_049);
    // 73,049 days squared would be 42 GB of cohort cells; the rows by the period and the
    // cells by the visit stay far below.
    assert!(peak < 64 * MIB, "{peak} bytes");
    assert_eq!(
        report.cohorts[0].active.len(),
        73_049,
        "the long cohort's row"
    );
    let active: u64 = report.periods.iter().map(|p| p.active).sum();
    assert_eq!(active, 2_002);
}

#[test]
fn the_ledger_refuses_instants_outside_2000_to_2199() {
    let ledger = MemoryLedger::new(MERCHANT);
    let visit = |when: &str| VisitEvent {
        member: None,
        store: StoreId(1),
        at: unix(when),
        spend_minor: 100,
        voucher: None,
        campaign: None,
        discount_minor: 0,
    };
    for when in [
        "1970-01-01T00:00:00Z",
        "2200-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        assert!(matches!(
            ledger.record_visit(&visit(when)),
            Err(LedgerError::ImplausibleInstant(_))
        ));
    }
    ledger.record_visit(&visit("2199-12-31T23:59:59Z")).unwrap();
    // A voucher verified on a till whose clock says 9999 is refused by the ledger, so no report
    // ever has to span eight thousand years.
    let ring = keyring();
    let store = shenzhen();
    let basket = cny(10_000);
    let ctx = RedemptionContext::new(&store, unix("9999-06-15T04:00:00Z"), &basket);
    let text = amount_off(9, 500).sign(&ring).unwrap().to_scanner_text();
    let Decision::Accepted(acceptance) = verify(&text, &ring, &ctx) else {
        panic!("an unlimited voucher is valid in 9999");
    };
    let key = idem("far-future");
    assert!(matches!(
        ledger.redeem(&RedeemRequest::new(&acceptance, &key)),
        Err(LedgerError::ImplausibleInstant(_))
    ));
    assert!(matches!(
        ledger.revoke(VoucherId(1), unix("1999-12-31T23:59:59Z")),
        Err(LedgerError::ImplausibleInstant(_))
    ));
    assert_eq!(ledger.visits().unwrap().len(), 1);
}

/// A ledger written by an older o2okit may hold a visit from a till whose clock had reset:
/// the C report on it is a status, not an abort of the host.
#[cfg(all(feature = "sqlite", feature = "capi"))]
#[test]
fn the_c_report_on_a_ledger_with_a_1970_visit_is_a_status() {
    use o2okit::ffi::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.ledger");
    {
        let ledger = SqliteLedger::create(&path, MERCHANT).unwrap();
        redeem(&ledger, &accept(&amount_off(1, 100), None, 1_000), "s1").unwrap();
    }
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "INSERT INTO visits (member, store, at, spend, voucher, campaign, discount)
         VALUES (NULL, 1, 0, 500, NULL, NULL, 0)",
        [],
    )
    .unwrap();
    drop(raw);
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut ledger = std::ptr::null_mut();
    // SAFETY: a NUL-terminated path and a writable handle pointer.
    let opened = unsafe { o2o_ledger_open(c_path.as_ptr(), MERCHANT.0, &mut ledger) };
    assert_eq!(opened, o2o_status::Ok);
    let mut needed = 0usize;
    // SAFETY: a live ledger, a NUL-terminated zone, no buffer (capacity 0), a writable size.
    let status = unsafe {
        o2o_ledger_report_json(
            ledger,
            c"Asia/Shanghai".as_ptr(),
            O2O_GRANULARITY_DAY,
            std::ptr::null_mut(),
            0,
            &mut needed,
        )
    };
    assert_eq!(status, o2o_status::AnalyticsImplausibleInstant);
    // SAFETY: the ledger opened above, released once.
    unsafe { o2o_ledger_close(ledger) };
}

/// A reader of `commas` commas and a line break, without holding them.
struct Commas(usize);

impl Read for Commas {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Ok(0);
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(b',');
        self.0 -= n;
        if self.0 == 0 {
            buf[n - 1] = b'\n';
        }
        Ok(n)
    }
}

#[test]
fn a_100_mb_line_of_commas_is_a_malformed_row_read_in_bounded_memory() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let header = "member_id,store_id,visited_at,spend_minor\n".as_bytes();
    let row = "m1,1,2026-06-01T12:00:00+08:00,500\n".as_bytes();
    let input = header.chain(Commas(100 * MIB)).chain(row);
    let (strict, peak) = peak_bytes(|| {
        read_csv(
            BufReader::new(input),
            chrono_tz::Asia::Shanghai,
            CsvMode::Strict,
        )
    });
    let err = strict.unwrap_err();
    assert_eq!(err.line, 2);
    // A bound on the record: its bytes or, for a line of commas, its fields.
    assert!(
        err.reason.contains("longer than") || err.reason.contains("more than 64 fields"),
        "{}",
        err.reason
    );
    assert!(peak < MIB, "{peak} bytes for a 100 MB line");
    let input = header.chain(Commas(100 * MIB)).chain(row);
    let skipped = read_csv(
        BufReader::new(input),
        chrono_tz::Asia::Shanghai,
        CsvMode::SkipMalformed,
    )
    .unwrap();
    assert_eq!(skipped.log.len(), 1, "the good row after the long one");
    assert_eq!(skipped.skipped.len(), 1);
    const { assert!(MAX_LINE_BYTES < MIB) };
}

fn csv(rows: &[&[u8]], mode: CsvMode) -> Result<analytics::CsvImport, analytics::CsvError> {
    let mut input = b"member_id,store_id,visited_at,spend_minor\n".to_vec();
    for row in rows {
        input.extend_from_slice(row);
        input.push(b'\n');
    }
    read_csv(&input[..], chrono_tz::UTC, mode)
}

#[test]
fn csv_spends_are_summed_exactly_or_refused() {
    let max = format!("m1,1,2026-06-01T12:00:00Z,{}", i64::MAX);
    let max2 = format!("m2,1,2026-06-02T12:00:00Z,{}", i64::MAX);
    let import = csv(&[max.as_bytes(), max2.as_bytes()], CsvMode::Strict).unwrap();
    assert_eq!(
        analyze(&import.log, Granularity::Month).err(),
        Some(AnalyticsError::SpendOverflow {
            period: "2026-06".into()
        })
    );
    let negative = csv(&[b"m1,1,2026-06-01T12:00:00Z,-500"], CsvMode::Strict).unwrap_err();
    assert!(negative.reason.contains("negative"), "{}", negative.reason);
    let early = csv(&[b"m1,1,1970-01-01T00:00:00Z,500"], CsvMode::Strict).unwrap_err();
    assert!(early.reason.contains("2000"), "{}", early.reason);
}

#[test]
fn skip_bad_skips_a_row_that_is_not_utf8() {
    let rows: [&[u8]; 3] = [
        b"m1,1,2026-06-01T12:00:00Z,500",
        b"m\xff\xfe,1,2026-06-01T12:00:00Z,500",
        b"m2,1,2026-06-02T12:00:00Z,700",
    ];
    let strict = csv(&rows, CsvMode::Strict).unwrap_err();
    assert_eq!(strict.line, 3);
    assert!(strict.reason.contains("UTF-8"), "{}", strict.reason);
    let import = csv(&rows, CsvMode::SkipMalformed).unwrap();
    assert_eq!(import.log.len(), 2);
    assert_eq!(import.skipped[0].line, 3);
}

#[cfg(feature = "qr-decode")]
mod frames {
    use super::*;
    use o2okit::qr::{DecodeLimits, QrError, decode_image_file, decode_luma};
    use std::time::{Duration, Instant};

    #[test]
    fn a_frame_above_the_pixel_limit_is_refused_before_any_allocation() {
        let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
        let limits = DecodeLimits::default();
        // A 56-megapixel frame: refused without copying or scanning any of it.
        let (w, h) = (8_000, 7_000);
        let frame = vec![0u8; w * h];
        let (result, peak) = peak_bytes(|| decode_luma(w, h, w, &frame));
        assert_eq!(
            result,
            Err(QrError::FrameTooLarge {
                width: w,
                height: h,
                max_pixels: limits.max_pixels
            })
        );
        assert!(peak < 64 * 1024, "{peak} bytes");
    }

    #[test]
    fn a_small_file_claiming_a_huge_image_is_refused_from_its_header() {
        let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.png");
        // A valid PNG header claiming 16000 × 16000, and nothing else worth decoding.
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let ihdr = [
            &16_000u32.to_be_bytes()[..],
            &16_000u32.to_be_bytes(),
            &[8, 0, 0, 0, 0],
        ]
        .concat();
        let mut crc_input = b"IHDR".to_vec();
        crc_input.extend_from_slice(&ihdr);
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        // An empty IDAT and the end: 57 bytes in all.
        for chunk in [&b"IDAT"[..], b"IEND"] {
            png.extend_from_slice(&0u32.to_be_bytes());
            png.extend_from_slice(chunk);
            png.extend_from_slice(&crc32(chunk).to_be_bytes());
        }
        std::fs::write(&path, &png).unwrap();
        let started = Instant::now();
        let (result, peak) = peak_bytes(|| decode_image_file(&path));
        assert!(
            matches!(result, Err(QrError::FrameTooLarge { .. })),
            "{result:?}"
        );
        assert!(peak < MIB, "{peak} bytes");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// Noise frames from 1080p to 12 megapixels: decoded (to nothing) in bounded memory, the
    /// large ones downscaled first. Times are printed; the bound asserted is memory.
    #[test]
    fn noise_frames_up_to_12_megapixels_decode_in_bounded_memory() {
        let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
        for (w, h) in [(1920, 1080), (4000, 3000)] {
            let frame = sensor_noise(w, h);
            let started = Instant::now();
            let (result, peak) = peak_bytes(|| decode_luma(w, h, w, &frame));
            eprintln!(
                "{w}×{h} noise: {:?}, {:.1} MiB at peak",
                started.elapsed(),
                peak as f64 / MIB as f64
            );
            assert_eq!(result, Ok(Vec::new()));
            // A few copies of the 2-megapixel work frame, whatever the input's size.
            assert!(peak < 40 * MIB, "{w}×{h}: {peak} bytes");
        }
    }
}
