//! The C ABI from C: builds `examples/pos.c`, `examples/kiosk.c`, `examples/enroll.c` and
//! `tests/c/abi_edges.c` against the static library with warnings as errors, runs the till
//! through acceptance, each main refusal, a double spend and an idempotent retry, the sign-up
//! kiosk through enrollment, replay, referral and refusals, and runs the programs under
//! AddressSanitizer + UndefinedBehaviorSanitizer and under Valgrind (no leaks, no invalid
//! access).
#![cfg(all(unix, feature = "sqlite"))]

mod common;

use common::*;
use o2okit::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The static library, built by the README's one C command (`scripts/build-c`, debug) so the
/// C programs link against the code under test, with the `capi` feature a Rust build leaves
/// off. It builds in its own target directory (`target/capi`).
fn static_lib() -> &'static PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        // target/<profile>/deps/this-test → target/
        let exe = std::env::current_exe().unwrap();
        let target = exe.parent().unwrap().parent().unwrap().parent().unwrap();
        let out = target.join("o2okit-c-test");
        let status = Command::new(manifest_dir().join("scripts/build-c"))
            .arg("--debug")
            .arg("--out")
            .arg(&out)
            .env("CARGO", env!("CARGO"))
            .env("CARGO_TARGET_DIR", target)
            .current_dir(manifest_dir())
            .status()
            .expect("scripts/build-c runs");
        assert!(status.success(), "scripts/build-c failed");
        let lib = out.join("lib").join("libo2okit.a");
        assert!(lib.exists(), "{} missing", lib.display());
        lib
    })
}

/// Builds a C program; `sanitize` adds ASan and UBSan.
fn build(source: &str, name: &str, sanitize: bool) -> PathBuf {
    let out = std::env::temp_dir().join(format!("o2okit-c-{}-{name}", std::process::id()));
    let mut cc = Command::new("cc");
    cc.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-g",
    ])
    .arg("-I")
    .arg(manifest_dir().join("include"))
    .arg(manifest_dir().join(source));
    if sanitize {
        cc.args([
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
        ]);
    }
    cc.arg(static_lib()).args(SYSTEM_LIBS).arg("-o").arg(&out);
    let result = cc.output().expect("cc runs");
    assert!(
        result.status.success(),
        "{source} does not build:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// A command running `program` under `wrapper` (such as valgrind and its flags), or directly.
fn wrapped(wrapper: &[&str], program: &Path) -> Command {
    match wrapper.split_first() {
        Some((first, rest)) => {
            let mut command = Command::new(first);
            command.args(rest).arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn programs() -> &'static (PathBuf, PathBuf, PathBuf, PathBuf) {
    static PROGRAMS: OnceLock<(PathBuf, PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    PROGRAMS.get_or_init(|| {
        (
            build("examples/pos.c", "pos", false),
            build("examples/pos.c", "pos-asan", true),
            build("tests/c/abi_edges.c", "edges", false),
            build("tests/c/abi_edges.c", "edges-asan", true),
        )
    })
}

fn till_syncs() -> &'static (PathBuf, PathBuf) {
    static TILL_SYNCS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    TILL_SYNCS.get_or_init(|| {
        (
            build("examples/till_sync.c", "till_sync", false),
            build("examples/till_sync.c", "till_sync-asan", true),
        )
    })
}

fn kiosks() -> &'static (PathBuf, PathBuf) {
    static KIOSKS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    KIOSKS.get_or_init(|| {
        (
            build("examples/kiosk.c", "kiosk", false),
            build("examples/kiosk.c", "kiosk-asan", true),
        )
    })
}

/// A 640×480 frame, rows padded to 672 bytes, with `text`'s code in it (or none), as `name`.
fn frame_file(dir: &Path, name: &str, text: Option<&str>) -> PathBuf {
    let (h, stride) = (480, 672);
    let mut frame = vec![120u8; stride * h];
    if let Some(text) = text {
        let code = o2okit::qr::encode(text, o2okit::qr::EcLevel::M).unwrap();
        let (side, pixels) = code.to_luma(4);
        for y in 0..side {
            for x in 0..side {
                frame[(y + 60) * stride + x + 200] =
                    if pixels[y * side + x] == 0 { 30 } else { 220 };
            }
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, frame).unwrap();
    path
}

#[test]
fn kiosk_decodes_a_raw_camera_frame_plain_sanitized_and_under_valgrind() {
    let dir = tempfile::tempdir().unwrap();
    let text = text(&amount_off(80, 500));
    let with_code = frame_file(dir.path(), "frame.raw", Some(&text));
    let args = ["640", "480", "672"];
    let run = |wrapper: &[&str], program: &Path, frame: &Path| {
        wrapped(wrapper, program)
            .args(args)
            .arg(frame)
            .output()
            .unwrap()
    };
    for (wrapper, program) in [
        (&[][..], &kiosks().0),
        (&[][..], &kiosks().1),
        (&valgrind()[..], &kiosks().0),
    ] {
        let out = run(wrapper, program, &with_code);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{text}\n"));
    }
    let empty_dir = tempfile::tempdir().unwrap();
    let blank = frame_file(empty_dir.path(), "frame.raw", None);
    let out = run(&[], &kiosks().0, &blank);
    assert_eq!(out.status.code(), Some(2));
    // A frame file shorter than its stated size is an error, not a crash.
    std::fs::write(&blank, [0u8; 1000]).unwrap();
    let out = run(&[], &kiosks().1, &blank);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_kiosk_keeps_one_decoder_across_a_run_of_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (text(&amount_off(81, 500)), text(&amount_off(82, 700)));
    let frames = [
        frame_file(dir.path(), "1.raw", Some(&a)),
        frame_file(dir.path(), "2.raw", None),
        frame_file(dir.path(), "3.raw", Some(&b)),
        frame_file(dir.path(), "4.raw", Some(&a)),
    ];
    for (wrapper, program) in [
        (&[][..], &kiosks().0),
        (&[][..], &kiosks().1),
        (&valgrind()[..], &kiosks().0),
    ] {
        let out = wrapped(wrapper, program)
            .args(["640", "480", "672"])
            .args(&frames)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Each frame's own codes, nothing left over from the frame before.
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{a}\n{b}\n{a}\n")
        );
    }
    // A run of frames without a code says so.
    let out = wrapped(&[], &kiosks().0)
        .args(["640", "480", "672"])
        .args([&frames[1], &frames[1]])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

const NOON: &str = "2026-06-15T04:00:00Z"; // Monday 12:00 in Shenzhen

struct Till {
    ledger: PathBuf,
    _dir: tempfile::TempDir,
}

impl Till {
    /// A till whose ledger was created at install (from Rust, as a back office would).
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("store.ledger");
        drop(SqliteLedger::create(&ledger, MERCHANT).unwrap());
        Till { ledger, _dir: dir }
    }

    fn args(&self, sale: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "--ledger",
            self.ledger.to_str().unwrap(),
            "--merchant",
            "88",
            "--key-id",
            "1",
            "--key",
            &"01".repeat(32),
            "--store",
            "1001",
            "--tz",
            "Asia/Shanghai",
            "--region",
            "440305",
            "--at",
            &at(NOON).timestamp().to_string(),
            "--spend",
            "10000",
            "--sale",
            sale,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Runs the till (optionally under `wrapper`, such as valgrind) on `voucher`.
    fn scan_with(
        &self,
        program: &Path,
        wrapper: &[&str],
        sale: &str,
        voucher: &str,
        extra: &[&str],
    ) -> Output {
        wrapped(wrapper, program)
            .args(self.args(sale, extra))
            .arg(voucher)
            .output()
            .unwrap()
    }

    fn scan(&self, sale: &str, voucher: &str, extra: &[&str]) -> (i32, String) {
        let out = self.scan_with(&programs().0, &[], sale, voucher, extra);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
        )
    }
}

fn text(voucher: &Voucher) -> String {
    voucher.sign(&keyring()).unwrap().to_scanner_text()
}

#[test]
fn pos_accepts_then_replays_then_refuses_a_double_spend() {
    let till = Till::new();
    let voucher = text(&amount_off(1, 500));
    assert_eq!(
        till.scan("sale-1", &voucher, &[]),
        (
            0,
            "REDEEMED receipt=1 discount=500 replayed=no offline=no voucher=1 benefit=amount_off \
             valid_until=-\n"
                .into()
        )
    );
    assert_eq!(
        till.scan("sale-1", &voucher, &[]),
        (
            0,
            "REDEEMED receipt=1 discount=500 replayed=yes offline=no voucher=1 benefit=amount_off \
             valid_until=-\n"
                .into()
        )
    );
    assert_eq!(
        till.scan("sale-2", &voucher, &[]),
        (3, "REFUSED reason=already_used\n".into())
    );
}

#[test]
fn pos_records_a_members_marketing_choice() {
    let till = Till::new();
    let choose = |flag: &str, later: i64| {
        let when = (at(NOON).timestamp() + later).to_string();
        let out = wrapped(&[], &programs().0)
            .args(till.args("unused", &[flag, "42", "--at", &when]))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let opted_out = || {
        SqliteLedger::open(&till.ledger, MERCHANT)
            .unwrap()
            .marketing_opt_outs()
            .unwrap()
    };
    assert_eq!(
        choose("--opt-out", 0),
        (0, "MARKETING member=42 opted_out=yes\n".into())
    );
    assert_eq!(opted_out(), [MemberId(42)]);
    // Back in at the same instant: opting out wins a tie.
    assert_eq!(
        choose("--opt-in", 0),
        (0, "MARKETING member=42 opted_out=no\n".into())
    );
    assert_eq!(opted_out(), [MemberId(42)]);
    // Back in a minute later.
    choose("--opt-in", 60);
    assert_eq!(opted_out(), []);
}

#[test]
fn pos_refuses_with_each_main_reason() {
    let till = Till::new();
    let cases: Vec<(Voucher, &[&str], &str)> = vec![
        (
            amount_off(10, 500).valid_between(local("2026-01-01T00:00"), local("2026-06-01T00:00")),
            &[],
            "expired",
        ),
        (
            amount_off(11, 500).valid_between(local("2026-07-01T00:00"), local("2026-08-01T00:00")),
            &[],
            "not_yet_valid",
        ),
        (
            amount_off(12, 500).during(DailyWindow::hm(17, 0, 21, 0).unwrap()),
            &[],
            "outside_hours",
        ),
        (
            amount_off(13, 500).on_weekdays(WeekdaySet::WEEKEND),
            &[],
            "wrong_weekday",
        ),
        (
            amount_off(14, 500).at_stores([StoreId(2002)]),
            &[],
            "wrong_store",
        ),
        (
            amount_off(15, 500).in_regions([RegionCode::new("4401").unwrap()]),
            &[],
            "outside_region",
        ),
        (
            amount_off(16, 500).min_spend(10_001),
            &[],
            "below_minimum_spend",
        ),
        (
            amount_off(17, 500).for_member(MemberId(5)),
            &[],
            "member_required",
        ),
        (
            amount_off(18, 500).for_member(MemberId(5)),
            &["--member", "6"],
            "wrong_member",
        ),
        (
            amount_off(19, 500).min_tier(Tier(2)),
            &["--member", "5", "--tier", "1"],
            "tier_too_low",
        ),
        (
            amount_off(20, 500).not_combinable(),
            &["--other-vouchers", "1"],
            "not_combinable",
        ),
        (
            amount_off(21, 500),
            &["--currency", "USD"],
            "currency_mismatch",
        ),
    ];
    for (i, (voucher, extra, reason)) in cases.iter().enumerate() {
        let (code, out) = till.scan(&format!("sale-{i}"), &text(voucher), extra);
        assert_eq!(
            (code, out.trim()),
            (2, format!("REFUSED reason={reason}").as_str()),
            "case {i}"
        );
    }
    // Forged, foreign and garbage codes.
    let genuine = text(&amount_off(30, 500));
    let mut forged = genuine.clone();
    let swap = if &forged[20..21] == "0" { "1" } else { "0" };
    forged.replace_range(20..21, swap);
    assert_eq!(
        till.scan("f", &forged, &[]),
        (2, "REFUSED reason=bad_signature\n".into())
    );
    let stranger = Keyring::with_active_key(MERCHANT, KeyId(9), key(9));
    let foreign = amount_off(31, 500)
        .sign(&stranger)
        .unwrap()
        .to_scanner_text();
    assert_eq!(
        till.scan("g", &foreign, &[]),
        (2, "REFUSED reason=unknown_key\n".into())
    );
    assert_eq!(
        till.scan("h", "HELLO WORLD", &[]),
        (2, "REFUSED reason=malformed\n".into())
    );
}

#[test]
fn pos_reads_a_keyboard_wedge_scan_from_stdin() {
    let till = Till::new();
    let voucher = text(&amount_off(40, 700));
    let mut child = Command::new(&programs().0)
        .args(till.args("wedge-1", &[]))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    // Caps Lock on and Enter at the end, as a scanner may type it.
    write!(
        child.stdin.take().unwrap(),
        "{}\r\n",
        voucher.to_lowercase()
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "REDEEMED receipt=1 discount=700 replayed=no offline=no voucher=40 benefit=amount_off \
         valid_until=-\n"
    );
}

#[test]
fn pos_prints_what_a_receipt_needs_and_names_its_errors() {
    let till = Till::new();
    let dated = Voucher::new(
        VoucherId(41),
        MERCHANT,
        Currency::CNY,
        Benefit::PercentOff {
            basis_points: 1_500,
            cap_minor: None,
        },
    )
    .valid_between(local("2026-06-01T00:00"), local("2026-07-01T00:00"));
    assert_eq!(
        till.scan("sale-41", &text(&dated), &["--busy-ms", "500"]),
        (
            0,
            "REDEEMED receipt=1 discount=1500 replayed=no offline=no voucher=41 benefit=percent_off \
             valid_until=2026-07-01T00:00\n"
                .into()
        )
    );
    let gone = Till {
        ledger: till.ledger.with_file_name("missing.ledger"),
        _dir: tempfile::tempdir().unwrap(),
    };
    let (code, out) = gone.scan("sale-42", &text(&amount_off(42, 100)), &[]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("ERROR status=517 (ledger_not_found) during opening the ledger"),
        "{out}"
    );
    assert!(
        !gone.ledger.exists(),
        "a missing ledger is never created by open"
    );
}

#[test]
fn pos_reports_a_corrupt_ledger_as_an_error() {
    let till = Till::new();
    std::fs::write(
        &till.ledger,
        b"not a database at all, just text\n".repeat(50),
    )
    .unwrap();
    let (code, out) = till.scan("s", &text(&amount_off(50, 500)), &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("ERROR status=500"), "{out}");
}

#[test]
fn abi_edges_pass_plain_and_under_sanitizers() {
    for program in [&programs().2, &programs().3] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(program).arg(dir.path()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {stdout}\n{}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(" 0 failed"), "{stdout}");
    }
}

#[test]
fn pos_runs_clean_under_sanitizers() {
    let till = Till::new();
    let voucher = text(&amount_off(60, 500));
    for (sale, expected) in [("a", 0), ("b", 3)] {
        let out = till.scan_with(&programs().1, &[], sale, &voucher, &[]);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn valgrind() -> [&'static str; 5] {
    [
        "valgrind",
        "--quiet",
        "--error-exitcode=99",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
    ]
}

#[test]
fn both_programs_run_clean_under_valgrind() {
    let till = Till::new();
    let voucher = text(&amount_off(70, 500));
    for (sale, voucher, expected) in [
        ("a", voucher.as_str(), 0),
        ("b", voucher.as_str(), 3),
        ("c", "GARBAGE", 2),
    ] {
        let out = till.scan_with(&programs().0, &valgrind(), sale, voucher, &[]);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(valgrind()[0])
        .args(&valgrind()[1..])
        .arg(&programs().2)
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn enroll_programs() -> &'static (PathBuf, PathBuf) {
    static ENROLL: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    ENROLL.get_or_init(|| {
        (
            build("examples/enroll.c", "enroll", false),
            build("examples/enroll.c", "enroll-asan", true),
        )
    })
}

const IDENTITY_KEY: [u8; 32] = [0x33; 32];

/// Runs the sign-up kiosk (under `wrapper`) for `phone` scanning `code` at `when`.
fn enroll(
    wrapper: &[&str],
    program: &Path,
    ledger: &Path,
    phone: &str,
    code: &str,
    when: chrono::DateTime<chrono::Utc>,
    extra: &[&str],
) -> (i32, String) {
    let welcome = serde_json::to_string(&amount_off(0, 1_000)).unwrap();
    let identity_hex: String = IDENTITY_KEY.iter().map(|b| format!("{b:02x}")).collect();
    let out = wrapped(wrapper, program)
        .args(["--ledger", ledger.to_str().unwrap(), "--merchant", "88"])
        .args(["--key-id", "1", "--key", &"01".repeat(32)])
        .args(["--identity-key", &identity_hex])
        .args([
            "--store",
            "1001",
            "--tz",
            "Asia/Shanghai",
            "--region",
            "440305",
        ])
        .args(["--at", &when.timestamp().to_string(), "--phone", phone])
        .args(["--welcome-json", &welcome, "--welcome-days", "14"])
        .args([
            "--welcome-id",
            &(9_000 + when.timestamp() % 1_000).to_string(),
        ])
        .args(extra)
        .arg(code)
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty() || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn sign_up_kiosk_enrolls_refuses_replays_and_records_referrals() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("store.ledger");
    let policy = CheckInPolicy::default();
    let code_at = |when| {
        rotating_code(&keyring(), StoreId(1001), &policy, when)
            .unwrap()
            .to_scanner_text()
    };
    let identity = IdentityKey::from_bytes(&IDENTITY_KEY).unwrap();
    let member_of = |phone: &str| {
        identity
            .pseudonym(MERCHANT, &AccountIdentity::phone(phone).unwrap())
            .member_id()
    };
    let (plain, asan) = enroll_programs();
    let t0 = at(NOON);
    let code = code_at(t0);

    // A new customer, under ASan + UBSan.
    let (exit, out) = enroll(
        &[],
        asan,
        &ledger,
        "+86 138 0013 8000",
        &code,
        t0,
        &["--create-ledger"],
    );
    assert_eq!(exit, 0, "{out}");
    let seed = member_of("+8613800138000");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[0].starts_with(&format!("ENROLLED member={seed} card=")),
        "{out}"
    );
    assert!(lines[0].ends_with(" referred_by=0"), "{out}");
    let card = lines[1].strip_prefix("CARD ").unwrap();
    let (member, card_number) = verify_membership_card(card, &keyring()).unwrap();
    assert_eq!(member, seed);
    assert!(lines[0].contains(&format!("card={}", card_number.as_str())));
    let share = lines[2].strip_prefix("SHARE ").unwrap().to_owned();
    assert_eq!(verify_share_code(&share, &keyring()), Ok(seed));
    let welcome = lines[3].strip_prefix("WELCOME ").unwrap();
    let voucher = Voucher::open(&Token::parse(welcome).unwrap(), &keyring()).unwrap();
    assert_eq!(voucher.member, Some(seed));

    // The same code again is a replay, another code within the hour is refused too; an hour
    // later it is a visit.
    assert_eq!(
        enroll(&[], plain, &ledger, "+8613800138000", &code, t0, &[]),
        (2, "REFUSED reason=replayed_code\n".into())
    );
    let soon = t0 + chrono::Duration::minutes(5);
    assert_eq!(
        enroll(
            &[],
            plain,
            &ledger,
            "+8613800138000",
            &code_at(soon),
            soon,
            &[]
        ),
        (2, "REFUSED reason=already_checked_in\n".into())
    );
    let t1 = t0 + chrono::Duration::hours(1);
    let (exit, out) = enroll(&[], plain, &ledger, "+8613800138000", &code_at(t1), t1, &[]);
    assert_eq!(exit, 0);
    assert!(
        out.starts_with(&format!("VISIT member={seed} card=")),
        "{out}"
    );
    assert!(!out.contains("WELCOME"), "{out}");

    // A friend through the share code the kiosk printed for the seed, under Valgrind.
    let t2 = t1 + chrono::Duration::seconds(60);
    let (exit, out) = enroll(
        &valgrind(),
        plain,
        &ledger,
        "+8613900139000",
        &code_at(t2),
        t2,
        &["--share", &share],
    );
    assert_eq!(exit, 0, "{out}");
    let friend = member_of("+8613900139000");
    assert!(
        out.starts_with(&format!("ENROLLED member={friend} card=")),
        "{out}"
    );
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with(&format!(" referred_by={seed}"))
    );

    // A stale code, a bad phone number: refused or an error, nothing crashes.
    let late = t2 + chrono::Duration::seconds(600);
    assert_eq!(
        enroll(
            &[],
            asan,
            &ledger,
            "+8613700137000",
            &code_at(t2),
            late,
            &[]
        ),
        (2, "REFUSED reason=stale_code\n".into())
    );
    let (exit, out) = enroll(&[], asan, &ledger, "call me", &code_at(late), late, &[]);
    assert_eq!(exit, 1);
    assert!(
        out.starts_with("ERROR status=104 during checking in"),
        "{out}"
    );

    let stored = SqliteLedger::open(&ledger, MERCHANT).unwrap();
    let members = stored.members().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[1].referred_by, Some(seed));
    assert_eq!(stored.visits().unwrap().len(), 3);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A chain's devices from C: the till verifies with a key set and no secret; the sign-up kiosk
/// holds store-scoped keys only; the check-in screen its store's derived key.
#[test]
fn a_chain_till_verifies_with_a_key_set_and_a_kiosk_signs_with_store_keys_only() {
    const STORE: StoreId = StoreId(1001);
    let root = Ed25519Key::from_seed(&[0x77; 32]);
    let vouchers_seed = [0x11; 32];
    let members_seed = [0x22; 32];
    let kiosk_seed = [0x44; 32];
    let merchant_secret = MerchantSecret::from_bytes(&[0x55; 32]).unwrap();
    let check_in_key = merchant_secret.derive(MERCHANT, KeyRole::CheckIn(STORE));

    // The head office signs vouchers and publishes the public keys, signed by the root.
    let mut head_office = Keyring::new(MERCHANT);
    head_office
        .add_key(
            KeyId(1),
            KeyRole::Vouchers,
            Ed25519Key::from_seed(&vouchers_seed),
        )
        .unwrap();
    head_office.activate(KeyId(1)).unwrap();
    let published = [
        (KeyId(1), KeyRole::Vouchers, &vouchers_seed),
        (KeyId(2), KeyRole::Members, &members_seed),
        (KeyId(7), KeyRole::StoreVouchers(STORE), &kiosk_seed),
    ];
    let mut set = KeySet::new(MERCHANT, 3, at("2026-06-01T00:00:00Z"));
    for (id, role, seed) in published {
        set = set.with_key(PublishedKey::new(
            id,
            role,
            Ed25519Key::from_seed(seed).public_key(),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let set_path = dir.path().join("keys.o2oks");
    std::fs::write(&set_path, set.sign(&root).unwrap()).unwrap();

    // The store's screen shows a code signed with its derived key.
    let mut screen = Keyring::new(MERCHANT);
    screen
        .add_key(KeyId(101), KeyRole::CheckIn(STORE), check_in_key.clone())
        .unwrap();
    screen.activate(KeyId(101)).unwrap();
    let when = at(NOON);
    let code = rotating_code(&screen, STORE, &CheckInPolicy::default(), when)
        .unwrap()
        .to_scanner_text();

    // The kiosk: the check-in key, the members key and its store's voucher key.
    let ledger = dir.path().join("kiosk.ledger");
    drop(SqliteLedger::create(&ledger, MERCHANT).unwrap());
    let welcome = serde_json::to_string(&amount_off(0, 1_000).at_stores([STORE])).unwrap();
    let out = Command::new(&enroll_programs().0)
        .args(["--ledger", ledger.to_str().unwrap(), "--merchant", "88"])
        .args([
            "--role-key",
            &format!(
                "101:check_in:1001:hmac:{}",
                hex(check_in_key.expose_secret())
            ),
        ])
        .args([
            "--role-key",
            &format!("2:members:0:ed25519:{}", hex(&members_seed)),
        ])
        .args([
            "--role-key",
            &format!("7:store_vouchers:1001:ed25519:{}", hex(&kiosk_seed)),
        ])
        .args(["--identity-key", &hex(&IDENTITY_KEY)])
        .args([
            "--store",
            "1001",
            "--tz",
            "Asia/Shanghai",
            "--region",
            "440305",
        ])
        .args([
            "--at",
            &when.timestamp().to_string(),
            "--phone",
            "+8613800138000",
        ])
        .args([
            "--welcome-json",
            &welcome,
            "--welcome-days",
            "14",
            "--welcome-id",
            "9001",
        ])
        .arg(&code)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ENROLLED member="), "{stdout}");
    let welcome_text = stdout
        .lines()
        .find_map(|l| l.strip_prefix("WELCOME "))
        .expect("a welcome voucher")
        .to_owned();

    // The till: the key set and the pinned root, no secret.
    let till = Till::new();
    let till_args = |sale: &str| -> Vec<String> {
        let mut args = till.args(sale, &[]);
        let key_at = args.iter().position(|a| a == "--key-id").unwrap();
        args.drain(key_at..key_at + 4); // no --key-id, no --key
        args.extend([
            "--key-set".into(),
            set_path.to_str().unwrap().into(),
            "--root".into(),
            hex(&root.public_key().to_bytes()),
        ]);
        args
    };
    let scan_as = |sale: &str, voucher: &str, extra: &[&str]| {
        let out = Command::new(&programs().0)
            .args(till_args(sale))
            .args(extra)
            .arg(voucher)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let scan = |sale: &str, voucher: &str| scan_as(sale, voucher, &[]);
    // The kiosk's welcome voucher is bound to the new member: without their card it is
    // refused (after its signature and role checked out), with it it redeems.
    let (exit, printed) = scan("sale-w", &welcome_text);
    assert_eq!(
        (exit, printed.as_str()),
        (2, "REFUSED reason=member_required\n")
    );
    let member = stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix("member="))
        .unwrap()
        .to_owned();
    let (exit, printed) = scan_as(
        "sale-w",
        &welcome_text,
        &["--member", &member, "--tier", "0"],
    );
    assert_eq!(exit, 0, "{printed}");
    assert!(printed.contains("discount=1000"), "{printed}");
    // A head-office voucher redeems.
    let chain_voucher = amount_off(5, 500)
        .sign(&head_office)
        .unwrap()
        .to_scanner_text();
    let (exit, printed) = scan("sale-1", &chain_voucher);
    assert_eq!(exit, 0, "{printed}");
    assert!(
        printed.starts_with("REDEEMED receipt=2 discount=500"),
        "{printed}"
    );
    // A voucher for every store minted with the stolen kiosk key, relabelled: refused.
    let mut thief = Keyring::new(MERCHANT);
    thief
        .add_key(
            KeyId(7),
            KeyRole::Vouchers,
            Ed25519Key::from_seed(&kiosk_seed),
        )
        .unwrap();
    thief.activate(KeyId(7)).unwrap();
    let forged = amount_off(6, 50_000)
        .sign(&thief)
        .unwrap()
        .to_scanner_text();
    assert_eq!(
        scan("sale-2", &forged),
        (2, "REFUSED reason=key_not_permitted\n".into())
    );
    // An HMAC voucher under a public key's id: a bad signature.
    let hmac_forgery = {
        let mut ring = Keyring::new(MERCHANT);
        ring.add_key(
            KeyId(1),
            KeyRole::All,
            SigningKey::from_bytes(&vouchers_seed).unwrap(),
        )
        .unwrap();
        ring.activate(KeyId(1)).unwrap();
        amount_off(7, 50_000).sign(&ring).unwrap().to_scanner_text()
    };
    assert_eq!(
        scan("sale-3", &hmac_forgery),
        (2, "REFUSED reason=bad_signature\n".into())
    );
    // The key-set path under AddressSanitizer + UBSan and under Valgrind: clean, same answer.
    let sanitized = Command::new(&programs().1)
        .args(till_args("sale-1"))
        .arg(&chain_voucher)
        .output()
        .unwrap();
    assert_eq!(
        sanitized.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sanitized.stderr)
    );
    assert!(String::from_utf8_lossy(&sanitized.stdout).contains("replayed=yes"));
    let checked = wrapped(&valgrind(), &programs().0)
        .args(till_args("sale-1"))
        .arg(&chain_voucher)
        .output()
        .unwrap();
    assert_eq!(
        checked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // The head office's deny list: voucher 8 was spent at another store, 9 revoked. The till
    // refuses both with the ledger's reasons (its own ledger never saw them), under ASan too.
    let deny_path = dir.path().join("deny.o2odl");
    let list = DenyList::new(MERCHANT, 1)
        .with_exhausted([VoucherId(8)])
        .with_revoked([VoucherId(9)]);
    std::fs::write(&deny_path, list.sign(&root)).unwrap();
    let deny = ["--deny-list", deny_path.to_str().unwrap()];
    let chain_text = |id: u64| {
        amount_off(id, 500)
            .sign(&head_office)
            .unwrap()
            .to_scanner_text()
    };
    assert_eq!(
        scan_as("sale-8", &chain_text(8), &deny),
        (2, "REFUSED reason=already_used\n".into())
    );
    assert_eq!(
        scan_as("sale-9", &chain_text(9), &deny),
        (2, "REFUSED reason=revoked\n".into())
    );
    let (exit, printed) = scan_as("sale-10", &chain_text(10), &deny);
    assert_eq!(exit, 0, "{printed}");
    let sanitized = Command::new(&programs().1)
        .args(till_args("sale-8"))
        .args(deny)
        .arg(chain_text(8))
        .output()
        .unwrap();
    assert_eq!(
        (sanitized.status.code(), sanitized.stdout.as_slice()),
        (Some(2), b"REFUSED reason=already_used\n".as_slice()),
        "{}",
        String::from_utf8_lossy(&sanitized.stderr)
    );
    // A list signed by another root: the till refuses to start with it.
    std::fs::write(&deny_path, list.sign(&Ed25519Key::from_seed(&[0x78; 32]))).unwrap();
    let (exit, printed) = scan_as("sale-11", &chain_text(11), &deny);
    assert_eq!(exit, 1);
    assert!(printed.starts_with("ERROR status=218"), "{printed}");
    // An older set than the till has loaded before: refused across the restart.
    let (exit, printed) = scan_as("sale-5", &chain_voucher, &["--min-key-set-version", "4"]);
    assert_eq!(exit, 1);
    assert!(printed.starts_with("ERROR status=213"), "{printed}");
    // A tampered key set: the till refuses to start.
    let mut bytes = std::fs::read(&set_path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&set_path, &bytes).unwrap();
    let (exit, printed) = scan("sale-4", &chain_voucher);
    assert_eq!(exit, 1);
    assert!(printed.starts_with("ERROR status=211"), "{printed}");
}

/// Two C tills of a chain, offline, both accept one single-use voucher; `till_sync` sends their
/// journals to the head office (here in Rust) and applies its answers: the head office reports
/// the double spend with both receipts, and the second till then refuses the voucher offline.
#[test]
fn offline_c_tills_journal_sync_and_refuse_what_another_till_spent() {
    let root = Ed25519Key::from_seed(&[0x31; 32]);
    let dir = tempfile::tempdir().unwrap();
    let hq = HeadOffice::create(
        dir.path().join("hq.sync"),
        MERCHANT,
        MerchantSecret::from_bytes(&[0x32; 32]).unwrap(),
        root.clone(),
    )
    .unwrap();
    let tills: Vec<(Till, String)> = (1..=2u32)
        .map(|n| (Till::new(), hex(hq.journal_key(TillId(n)).expose_secret())))
        .collect();
    let noon = at(NOON).timestamp().to_string();
    let journal_args = |n: usize| -> Vec<String> {
        [
            "--ledger",
            tills[n].0.ledger.to_str().unwrap(),
            "--merchant",
            "88",
            "--till",
            &(n + 1).to_string(),
            "--journal-key",
            &tills[n].1,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let sync = |n: usize, program: &Path| {
        let batch = dir.path().join(format!("batch-{n}.bin"));
        let out = Command::new(program)
            .args(journal_args(n))
            .args(["--at", &noon, "export", batch.to_str().unwrap()])
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert!(printed.starts_with("EXPORTED bytes="), "{printed}");
        let ingested = hq.ingest(&std::fs::read(&batch).unwrap()).unwrap();
        let ack = dir.path().join(format!("ack-{n}.bin"));
        std::fs::write(&ack, &ingested.ack).unwrap();
        let out = Command::new(program)
            .args(journal_args(n))
            .args(["--root", &hex(&root.public_key().to_bytes()), "--at", &noon])
            .args(["apply", ack.to_str().unwrap()])
            .output()
            .unwrap();
        let printed = String::from_utf8(out.stdout).unwrap();
        assert!(printed.starts_with("SYNCED written="), "{printed}");
        printed
    };
    let (plain, sanitized) = till_syncs();
    sync(0, plain);
    sync(1, sanitized);
    let till_args = |n: usize| -> Vec<String> {
        let till = (n + 1).to_string();
        ["--till", &till, "--journal-key", &tills[n].1]
            .iter()
            .map(|s| s.to_string())
            .chain(["--offline-max", "3000", "--offline-cap", "50000"].map(String::from))
            .chain(["--max-since-sync", "3600"].map(String::from))
            .collect()
    };
    let scan = |n: usize, sale: &str, voucher: &str| {
        let extra = till_args(n);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        tills[n].0.scan(sale, voucher, &extra)
    };
    let voucher = text(&amount_off(70, 500));
    for n in 0..2 {
        let (code, printed) = scan(n, &format!("t{n}-1"), &voucher);
        assert_eq!(code, 0, "{printed}");
        assert!(
            printed.contains("replayed=no offline=yes voucher=70"),
            "{printed}"
        );
    }
    // Above the offline value: refused by the ledger as online_required.
    assert_eq!(
        scan(0, "t0-2", &text(&amount_off(71, 3_001))),
        (3, "REFUSED reason=online_required\n".into())
    );
    sync(0, plain);
    let printed = sync(1, sanitized);
    let conflicts = hq.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].voucher, VoucherId(70));
    let tills_seen: Vec<TillId> = conflicts[0].receipts.iter().map(|r| r.till).collect();
    assert_eq!(tills_seen.len(), 2);
    assert!(tills_seen.contains(&TillId(1)) && tills_seen.contains(&TillId(2)));
    assert!(printed.contains("deny_list_version=1"), "{printed}");
    // Till 2 now refuses the voucher before its ledger is asked: the deny list says so.
    assert_eq!(
        scan(1, "t1-2", &text(&amount_off(70, 500))),
        (2, "REFUSED reason=already_used\n".into())
    );
    // A forged acknowledgement changes nothing.
    let forged = dir.path().join("forged.bin");
    let mut bytes = hq.ingest(&hq_batch(&tills[0].0, &hq)).unwrap().ack;
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&forged, bytes).unwrap();
    let out = Command::new(plain)
        .args(journal_args(0))
        .args(["--root", &hex(&root.public_key().to_bytes()), "--at", &noon])
        .args(["apply", forged.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sync_bad_ack"));
}

/// The unacknowledged journal of `till`'s ledger, read from Rust.
fn hq_batch(till: &Till, hq: &HeadOffice) -> Vec<u8> {
    SqliteLedger::open(&till.ledger, MERCHANT)
        .unwrap()
        .with_journal(hq.journal_key(TillId(1)))
        .unwrap()
        .export_journal(100, at(NOON))
        .unwrap()
}
