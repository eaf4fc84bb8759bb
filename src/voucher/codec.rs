//! The voucher body inside a version-1 token.
//!
//! ```text
//! voucher id        varint
//! presence flags    varint, one bit per optional field below (unknown bits are refused)
//! currency          u16 LE, three letters × 5 bits
//! benefit           tag u8, then: 1 amount off: varint minor
//!                                  2 percent off: varint basis points, varint cap (0 = none)
//!                                  3 gift item: varint item, varint quantity
//!                                  4 stored value: varint minor
//! then, each only when its flag is set, in flag order:
//!  0 member         u64 LE (ids are keyed hashes, so a varint would be longer)
//!  1 valid from     varint minutes since 2000-01-01T00:00 store-local
//!  2 valid until    varint: minutes after valid from when that is set, else as valid from
//!  3 weekdays       u8, bit 0 Monday … bit 6 Sunday
//!  4 daily windows  u8 count, then varint start × 1441 + end (minutes) of each (3 bytes)
//!  5 stores         varint count, varint each
//!  6 min spend      varint minor
//!  7 campaign       varint
//!  8 regions        varint count, then u8 length and ASCII of each
//!  9 geofence       zig-zag varint lat µ°, zig-zag varint lon µ°, varint radius m
//! 10 categories     u8 rule (1 only, 2 except), varint count, varint each
//! 11 min tier       u8
//! 12 max uses       varint (absent = 1)
//! 13 per member     varint
//! 14 new members only   (flag only)
//! 15 not combinable     (flag only)
//! 16 online only        (flag only: a till working offline refuses it)
//! ```
//! The limits of a typical voucher sit in the seven low bits, so its flags take one byte.

use super::{Benefit, CategoryRule, DailyWindow, Voucher, WeekdaySet};
use crate::ids::{CampaignId, CategoryId, ItemId, MemberId, MerchantId, StoreId, VoucherId};
use crate::local_time::LocalDateTime;
use crate::membership::member::Tier;
use crate::money::Currency;
use crate::region::{GeoPoint, Geofence, RegionCode};
use crate::token::TokenError;
use crate::token::wire::{Reader, Writer};

const MEMBER: u64 = 1 << 0;
const VALID_FROM: u64 = 1 << 1;
const VALID_UNTIL: u64 = 1 << 2;
const WEEKDAYS: u64 = 1 << 3;
const HOURS: u64 = 1 << 4;
const STORES: u64 = 1 << 5;
const MIN_SPEND: u64 = 1 << 6;
const CAMPAIGN: u64 = 1 << 7;
const REGIONS: u64 = 1 << 8;
const GEOFENCE: u64 = 1 << 9;
const CATEGORIES: u64 = 1 << 10;
const MIN_TIER: u64 = 1 << 11;
const MAX_USES: u64 = 1 << 12;
const PER_MEMBER: u64 = 1 << 13;
const NEW_MEMBERS_ONLY: u64 = 1 << 14;
const NOT_COMBINABLE: u64 = 1 << 15;
const ONLINE_ONLY: u64 = 1 << 16;
const KNOWN_FLAGS: u64 = (1 << 17) - 1;

/// Minutes in a day plus one: a daily window packs as `start × WINDOW_BASE + end`.
const WINDOW_BASE: u64 = 1441;

const AMOUNT_OFF: u8 = 1;
const PERCENT_OFF: u8 = 2;
const GIFT_ITEM: u8 = 3;
const STORED_VALUE: u8 = 4;

const ONLY: u8 = 1;
const EXCEPT: u8 = 2;

fn flags_of(v: &Voucher) -> u64 {
    let set = |present: bool, flag: u64| if present { flag } else { 0 };
    set(v.campaign.is_some(), CAMPAIGN)
        | set(v.member.is_some(), MEMBER)
        | set(v.time.valid_from.is_some(), VALID_FROM)
        | set(v.time.valid_until.is_some(), VALID_UNTIL)
        | set(v.time.weekdays.is_some(), WEEKDAYS)
        | set(!v.time.hours.is_empty(), HOURS)
        | set(!v.region.stores.is_empty(), STORES)
        | set(v.conditions.min_spend_minor > 0, MIN_SPEND)
        | set(!v.region.regions.is_empty(), REGIONS)
        | set(v.region.geofence.is_some(), GEOFENCE)
        | set(v.conditions.categories != CategoryRule::All, CATEGORIES)
        | set(v.conditions.min_tier.is_some(), MIN_TIER)
        | set(v.state.max_uses != 1, MAX_USES)
        | set(v.state.max_uses_per_member.is_some(), PER_MEMBER)
        | set(v.conditions.new_members_only, NEW_MEMBERS_ONLY)
        | set(v.conditions.not_combinable, NOT_COMBINABLE)
        | set(v.state.online_only, ONLINE_ONLY)
}

/// Writes the body of a voucher that passed [`Voucher::validate`].
pub(super) fn encode_body(v: &Voucher, w: &mut Writer) {
    w.varint(v.id.0);
    w.varint(flags_of(v));
    w.u16_le(v.currency.to_packed());
    match v.benefit {
        Benefit::AmountOff { minor } => {
            w.u8(AMOUNT_OFF);
            w.varint(minor);
        }
        Benefit::PercentOff {
            basis_points,
            cap_minor,
        } => {
            w.u8(PERCENT_OFF);
            w.varint(u64::from(basis_points));
            w.varint(cap_minor.unwrap_or(0));
        }
        Benefit::GiftItem { item, quantity } => {
            w.u8(GIFT_ITEM);
            w.varint(u64::from(item.0));
            w.varint(u64::from(quantity));
        }
        Benefit::StoredValue { minor } => {
            w.u8(STORED_VALUE);
            w.varint(minor);
        }
    }
    if let Some(m) = v.member {
        w.u64_le(m.0);
    }
    if let Some(t) = v.time.valid_from {
        w.varint(u64::from(t.minutes_since_epoch()));
    }
    if let Some(t) = v.time.valid_until {
        let from = v.time.valid_from.map_or(0, |f| f.minutes_since_epoch());
        w.varint(u64::from(t.minutes_since_epoch() - from));
    }
    if let Some(days) = v.time.weekdays {
        w.u8(days.bits());
    }
    if !v.time.hours.is_empty() {
        w.u8(v.time.hours.len() as u8);
        for h in &v.time.hours {
            w.varint(u64::from(h.start_minute()) * WINDOW_BASE + u64::from(h.end_minute()));
        }
    }
    if !v.region.stores.is_empty() {
        w.varint(v.region.stores.len() as u64);
        for s in &v.region.stores {
            w.varint(u64::from(s.0));
        }
    }
    if v.conditions.min_spend_minor > 0 {
        w.varint(v.conditions.min_spend_minor);
    }
    if let Some(c) = v.campaign {
        w.varint(u64::from(c.0));
    }
    if !v.region.regions.is_empty() {
        w.varint(v.region.regions.len() as u64);
        for r in &v.region.regions {
            w.u8(r.as_str().len() as u8);
            w.bytes(r.as_str().as_bytes());
        }
    }
    if let Some(g) = v.region.geofence {
        w.zigzag(i64::from(g.center.lat_e6()));
        w.zigzag(i64::from(g.center.lon_e6()));
        w.varint(u64::from(g.radius_m));
    }
    match &v.conditions.categories {
        CategoryRule::All => {}
        CategoryRule::Only(list) | CategoryRule::Except(list) => {
            let rule = if matches!(v.conditions.categories, CategoryRule::Only(_)) {
                ONLY
            } else {
                EXCEPT
            };
            w.u8(rule);
            w.varint(list.len() as u64);
            for c in list {
                w.varint(u64::from(c.0));
            }
        }
    }
    if let Some(t) = v.conditions.min_tier {
        w.u8(t.0);
    }
    if v.state.max_uses != 1 {
        w.varint(u64::from(v.state.max_uses));
    }
    if let Some(n) = v.state.max_uses_per_member {
        w.varint(u64::from(n));
    }
}

fn list_len(r: &mut Reader<'_>, field: &'static str) -> Result<usize, TokenError> {
    let n = r.varint(field)?;
    if n == 0 || n > super::MAX_LIST_LEN as u64 {
        return Err(TokenError::InvalidField(field));
    }
    Ok(n as usize)
}

fn u16_field(r: &mut Reader<'_>, field: &'static str) -> Result<u16, TokenError> {
    u16::try_from(r.varint(field)?).map_err(|_| TokenError::InvalidField(field))
}

fn local_time(r: &mut Reader<'_>, field: &'static str) -> Result<LocalDateTime, TokenError> {
    LocalDateTime::from_minutes_since_epoch(r.varint_u32(field)?)
        .ok_or(TokenError::InvalidField(field))
}

/// Reads a voucher body. Only ever called on a body whose signature has been checked.
pub(super) fn decode_body(body: &[u8], merchant: MerchantId) -> Result<Voucher, TokenError> {
    let mut r = Reader::new(body);
    let id = VoucherId(r.varint("voucher id")?);
    let flags = r.varint("flags")?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(TokenError::InvalidField("flags"));
    }
    let currency =
        Currency::from_packed(r.u16_le("currency")?).ok_or(TokenError::InvalidField("currency"))?;
    let benefit = match r.u8("benefit")? {
        AMOUNT_OFF => Benefit::AmountOff {
            minor: r.varint("amount")?,
        },
        PERCENT_OFF => Benefit::PercentOff {
            basis_points: u16_field(&mut r, "percent")?,
            cap_minor: Some(r.varint("cap")?).filter(|c| *c > 0),
        },
        GIFT_ITEM => Benefit::GiftItem {
            item: ItemId(r.varint_u32("item")?),
            quantity: u16_field(&mut r, "quantity")?,
        },
        STORED_VALUE => Benefit::StoredValue {
            minor: r.varint("stored value")?,
        },
        _ => return Err(TokenError::InvalidField("benefit")),
    };
    let mut v = Voucher::new(id, merchant, currency, benefit);
    v.state.max_uses = 1;
    let has = |flag: u64| flags & flag != 0;
    if has(MEMBER) {
        v.member = Some(MemberId(r.u64_le("member")?));
    }
    if has(VALID_FROM) {
        v.time.valid_from = Some(local_time(&mut r, "valid from")?);
    }
    if has(VALID_UNTIL) {
        let from = v.time.valid_from.map_or(0, |f| f.minutes_since_epoch());
        let until = from
            .checked_add(r.varint_u32("valid until")?)
            .and_then(LocalDateTime::from_minutes_since_epoch)
            .ok_or(TokenError::InvalidField("valid until"))?;
        v.time.valid_until = Some(until);
    }
    if has(WEEKDAYS) {
        v.time.weekdays = Some(
            WeekdaySet::from_bits(r.u8("weekdays")?).ok_or(TokenError::InvalidField("weekdays"))?,
        );
    }
    if has(HOURS) {
        let n = r.u8("daily windows")?;
        if n == 0 || usize::from(n) > super::MAX_DAILY_WINDOWS {
            return Err(TokenError::InvalidField("daily windows"));
        }
        for _ in 0..n {
            let packed = r.varint("daily windows")?;
            let (start, end) = (packed / WINDOW_BASE, packed % WINDOW_BASE);
            let window = u16::try_from(start)
                .ok()
                .and_then(|start| DailyWindow::new(start, end as u16).ok())
                .ok_or(TokenError::InvalidField("daily windows"))?;
            v.time.hours.push(window);
        }
    }
    if has(STORES) {
        let n = list_len(&mut r, "stores")?;
        v.region.stores.reserve_exact(n);
        for _ in 0..n {
            v.region.stores.push(StoreId(r.varint_u32("stores")?));
        }
    }
    if has(MIN_SPEND) {
        v.conditions.min_spend_minor = r.varint("min spend")?;
        if v.conditions.min_spend_minor == 0 {
            return Err(TokenError::InvalidField("min spend"));
        }
    }
    if has(CAMPAIGN) {
        v.campaign = Some(CampaignId(r.varint_u32("campaign")?));
    }
    if has(REGIONS) {
        let n = list_len(&mut r, "regions")?;
        for _ in 0..n {
            let len = usize::from(r.u8("regions")?);
            let text = std::str::from_utf8(r.take(len, "regions")?)
                .map_err(|_| TokenError::InvalidField("regions"))?;
            let code = RegionCode::new(text).map_err(|_| TokenError::InvalidField("regions"))?;
            if code.as_str() != text {
                return Err(TokenError::InvalidField("regions"));
            }
            v.region.regions.push(code);
        }
    }
    if has(GEOFENCE) {
        let lat = i32::try_from(r.zigzag("geofence")?)
            .map_err(|_| TokenError::InvalidField("geofence"))?;
        let lon = i32::try_from(r.zigzag("geofence")?)
            .map_err(|_| TokenError::InvalidField("geofence"))?;
        let center = GeoPoint::new(lat, lon).map_err(|_| TokenError::InvalidField("geofence"))?;
        v.region.geofence = Some(Geofence {
            center,
            radius_m: r.varint_u32("geofence")?,
        });
    }
    if has(CATEGORIES) {
        let rule = r.u8("categories")?;
        let n = list_len(&mut r, "categories")?;
        let mut list = Vec::with_capacity(n);
        for _ in 0..n {
            list.push(CategoryId(r.varint_u32("categories")?));
        }
        v.conditions.categories = match rule {
            ONLY => CategoryRule::Only(list),
            EXCEPT => CategoryRule::Except(list),
            _ => return Err(TokenError::InvalidField("categories")),
        };
    }
    if has(MIN_TIER) {
        v.conditions.min_tier = Some(Tier(r.u8("min tier")?));
    }
    if has(MAX_USES) {
        v.state.max_uses = r.varint_u32("max uses")?;
        if v.state.max_uses == 1 {
            return Err(TokenError::InvalidField("max uses"));
        }
    }
    if has(PER_MEMBER) {
        v.state.max_uses_per_member = Some(r.varint_u32("uses per member")?);
    }
    v.conditions.new_members_only = has(NEW_MEMBERS_ONLY);
    v.conditions.not_combinable = has(NOT_COMBINABLE);
    v.state.online_only = has(ONLINE_ONLY);
    if !r.is_empty() {
        return Err(TokenError::TrailingBytes);
    }
    v.validate()
        .map_err(|_| TokenError::InvalidField("limits"))?;
    Ok(v)
}
