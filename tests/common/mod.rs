//! Shared fixtures: one merchant with stores in Shenzhen and New York.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use o2okit::*;

pub const MERCHANT: MerchantId = MerchantId(88);

/// System libraries a Rust static library needs on Linux (`rustc --print native-static-libs`).
pub const SYSTEM_LIBS: [&str; 7] = [
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// A small deterministic generator for test schedules (xorshift64*), so a failing run can be
/// replayed from its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// 1..=n in a shuffled order (Fisher-Yates).
    pub fn shuffled(&mut self, n: u64) -> Vec<u64> {
        let mut order: Vec<u64> = (1..=n).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
        order
    }
}

pub fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32]).unwrap()
}

pub fn keyring() -> Keyring {
    Keyring::with_active_key(MERCHANT, KeyId(1), key(1))
}

pub fn shenzhen() -> Store {
    Store::new(
        StoreId(1001),
        MERCHANT,
        chrono_tz::Asia::Shanghai,
        RegionCode::new("440305").unwrap(),
    )
    .named("Nanshan")
    .located_at(GeoPoint::from_degrees(22.5329, 113.9305).unwrap())
}

pub fn guangzhou() -> Store {
    Store::new(
        StoreId(1002),
        MERCHANT,
        chrono_tz::Asia::Shanghai,
        RegionCode::new("440106").unwrap(),
    )
    .named("Tianhe")
    .located_at(GeoPoint::from_degrees(23.1291, 113.2644).unwrap())
}

pub fn new_york() -> Store {
    Store::new(
        StoreId(2001),
        MERCHANT,
        chrono_tz::America::New_York,
        RegionCode::new("US36061").unwrap(),
    )
    .named("SoHo")
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn local(text: &str) -> LocalDateTime {
    text.parse().unwrap()
}

pub fn cny(minor: u64) -> Basket {
    Basket::single(Currency::CNY, minor).unwrap()
}

pub fn amount_off(id: u64, minor: u64) -> Voucher {
    Voucher::new(
        VoucherId(id),
        MERCHANT,
        Currency::CNY,
        Benefit::AmountOff { minor },
    )
}

/// A till: verifies `voucher` (signed with `keyring()`) in `store` at `when`.
pub struct Till {
    pub store: Store,
    pub basket: Basket,
    pub member: Option<MemberContext>,
    pub other_vouchers: u32,
}

impl Till {
    pub fn new(store: Store) -> Self {
        Till {
            store,
            basket: cny(10_000),
            member: None,
            other_vouchers: 0,
        }
    }

    pub fn basket(mut self, basket: Basket) -> Self {
        self.basket = basket;
        self
    }

    pub fn member(mut self, id: u64, tier: u8, is_new: bool) -> Self {
        self.member = Some(MemberContext::new(MemberId(id), Tier(tier), is_new));
        self
    }

    pub fn decide_text(&self, text: &str, ring: &Keyring, when: DateTime<Utc>) -> Decision {
        let mut ctx = RedemptionContext::new(&self.store, when, &self.basket)
            .with_other_vouchers(self.other_vouchers);
        ctx.member = self.member;
        verify(text, ring, &ctx)
    }

    pub fn decide(&self, voucher: &Voucher, when: &str) -> Decision {
        let ring = keyring();
        let text = voucher.sign(&ring).unwrap().to_scanner_text();
        self.decide_text(&text, &ring, at(when))
    }

    /// `Ok(discount)` or `Err(reason)`, for terse assertions.
    pub fn outcome(&self, voucher: &Voucher, when: &str) -> Result<u64, Rejection> {
        match self.decide(voucher, when) {
            Decision::Accepted(a) => Ok(a.discount_minor()),
            Decision::Rejected { reason } => Err(reason),
        }
    }
}

/// A voucher with a time window, weekday and hour limits, three stores, a minimum spend,
/// single use and a member binding: the reference voucher. Ids are the size a chain
/// of 5,000 stores with millions of members and vouchers would use.
pub fn reference_voucher() -> Voucher {
    Voucher::new(
        VoucherId(48_000_123),
        MERCHANT,
        Currency::CNY,
        Benefit::AmountOff { minor: 2_000 },
    )
    .for_member(MemberId(0x9e37_79b9_7f4a_7c15))
    .valid_between(local("2026-06-01T00:00"), local("2026-07-01T00:00"))
    .on_weekdays(WeekdaySet::WORKDAYS)
    .during(DailyWindow::hm(11, 0, 14, 0).unwrap())
    .at_stores([StoreId(4_001), StoreId(4_002), StoreId(4_999)])
    .min_spend(10_000)
    .max_uses(1)
}

/// A store where the reference voucher is accepted.
pub fn reference_store() -> Store {
    let mut store = shenzhen();
    store.id = StoreId(4_002);
    store
}

/// Verifies `voucher` at the Shenzhen store at noon on 2026-06-15 and returns the acceptance.
pub fn accept(voucher: &Voucher, member: Option<u64>, basket_minor: u64) -> Acceptance {
    let ring = keyring();
    let token = voucher.sign(&ring).unwrap();
    let store = shenzhen();
    let basket = cny(basket_minor);
    let mut ctx = RedemptionContext::new(&store, at("2026-06-15T04:00:00Z"), &basket);
    ctx.member = member.map(|id| MemberContext::new(MemberId(id), Tier(9), false));
    match verify_token(&token, &ring, &ctx) {
        Decision::Accepted(a) => a,
        Decision::Rejected { reason } => panic!("fixture voucher refused: {reason}"),
    }
}

pub fn idem(key: &str) -> IdempotencyKey {
    IdempotencyKey::new(key).unwrap()
}

/// Redeems with `key`; returns the receipt or the refusal.
pub fn redeem(
    ledger: &dyn Ledger,
    acceptance: &Acceptance,
    key: &str,
) -> Result<(Receipt, bool), Rejection> {
    let key = idem(key);
    let outcome = ledger
        .redeem(&RedeemRequest::new(acceptance, &key))
        .unwrap();
    match outcome {
        RedeemOutcome::Redeemed { receipt, replayed } => Ok((receipt, replayed)),
        RedeemOutcome::Refused { reason } => Err(reason),
    }
}

/// The admin connection string of a throwaway PostgreSQL server (`scripts/with-postgres` sets
/// it), or `None` after printing why the test is skipped. With `O2OKIT_PG_REQUIRED=1` (CI) a
/// missing server fails the test instead.
pub fn pg_admin(test: &str) -> Option<String> {
    match std::env::var("O2OKIT_PG") {
        Ok(conninfo) if !conninfo.is_empty() => Some(conninfo),
        _ if std::env::var("O2OKIT_PG_REQUIRED").as_deref() == Ok("1") => {
            panic!("{test}: O2OKIT_PG_REQUIRED=1 but O2OKIT_PG is not set")
        }
        _ => {
            println!("SKIPPED {test}: no PostgreSQL (run under scripts/with-postgres)");
            None
        }
    }
}

/// A new, empty database on the test server, named after `test`; returns its connection
/// string. Made with `psql` (the server's client), so the tests need no PostgreSQL crate.
pub fn pg_database(admin: &str, test: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name: String = format!("t{}_{n}_{test}", std::process::id())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let status = std::process::Command::new("psql")
        .args([admin, "-qAtc", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("psql runs");
    assert!(status.success(), "CREATE DATABASE {name}");
    format!("{admin} dbname={name}")
}

/// Runs each named `fn(&dyn Ledger)` as a test against every ledger: in memory, on a fresh
/// SQLite file and, with the `postgres` feature, in a fresh PostgreSQL database (skipped with
/// a printed line when no server is set up). (Declare `#[macro_use] mod common;` to use it.)
#[allow(unused_macros)]
macro_rules! both_ledgers {
    ($($name:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(#[test] fn $name() { super::$name(&MemoryLedger::new(MERCHANT)); })*
        }
        #[cfg(feature = "sqlite")]
        mod sqlite {
            use super::*;
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let ledger = SqliteLedger::create(dir.path().join("ledger.db"), MERCHANT).unwrap();
                super::$name(&ledger);
            })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            use super::*;
            $(#[test] fn $name() {
                let Some(admin) = pg_admin(stringify!($name)) else { return };
                let conninfo = pg_database(&admin, stringify!($name));
                let ledger = PgLedger::connect(&conninfo, MERCHANT).unwrap();
                super::$name(&ledger);
            })*
        }
    };
}

/// Sensor noise, `width × height` grey pixels from a fixed seed: what a camera pointed at a
/// textured shop scene gives a QR locator.
pub fn sensor_noise(width: usize, height: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..width * height)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
