//! Synthetic members, visits and a campaign's effect with a **known true lift**, for the
//! example, the tests and the benchmarks. Deterministic: the same parameters give the same
//! data.
//!
//! Each member visits at their own rhythm (every 5 to 45 days, jittered) from their
//! enrollment on; about 40% stopped 45 to 150 days before the campaign (the lapsed). In the
//! weeks after, every member's visits in the window are Poisson with their rate (a quarter of
//! it for the lapsed), times `1 + true_lift` for treatment members: the expected visits per
//! member of the treatment are exactly `1 + true_lift` times the holdout's, whoever the
//! audience is. Spend per visit is the member's ticket ±50%; it does not depend on the arm.

use super::plan::{Arm, Assignment};
use crate::analytics::synthetic::Rng;
use crate::ids::{MemberId, MerchantId, StoreId, VoucherId};
use crate::ledger::VisitEvent;
use crate::membership::member::{CardNumber, Member};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimulationParams {
    /// The merchant.
    pub merchant: MerchantId,
    /// Members.
    pub members: u32,
    /// Stores (each member has a home store).
    pub stores: u32,
    /// The campaign's instant: history before it, the window after it.
    pub campaign_at: DateTime<Utc>,
    /// Days of history before the campaign.
    pub history_days: u32,
    /// Days of the measurement window.
    pub window_days: u32,
    /// The true relative lift in visits per member the offer causes (0.05 = +5%).
    pub true_lift: f64,
    /// The share of treatment members who visit in the window and redeem the voucher on their
    /// first visit.
    pub redemption_share: f64,
    /// Seed.
    pub seed: u64,
}

impl SimulationParams {
    /// `members` members over 4 stores, 365 days of history, a 28-day window, no lift, half
    /// of the visiting treatment members redeeming.
    pub fn new(merchant: MerchantId, members: u32, campaign_at: DateTime<Utc>, seed: u64) -> Self {
        SimulationParams {
            merchant,
            members,
            stores: 4,
            campaign_at,
            history_days: 365,
            window_days: 28,
            true_lift: 0.0,
            redemption_share: 0.5,
            seed,
        }
    }
}

/// One member's habits.
#[derive(Debug, Clone, Copy)]
struct Habit {
    interval_days: u32,
    ticket_minor: u64,
    store: StoreId,
    joined_day: u32,
    stopped_day: Option<u32>,
}

/// A visit of the weeks after, and the voucher redeemed on it, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedVisit {
    /// The visit (without voucher: the redemption, if any, records that).
    pub visit: VisitEvent,
    /// The treatment member's voucher, redeemed on this visit.
    pub redeems: Option<VoucherId>,
}

/// A simulated merchant.
#[derive(Debug, Clone)]
pub struct Simulation {
    params: SimulationParams,
    habits: Vec<Habit>,
}

const FIRST_MEMBER: u64 = 1_000_000;

impl Simulation {
    /// Members and their habits.
    pub fn new(params: SimulationParams) -> Self {
        let mut rng = Rng(params.seed);
        let days = params.history_days.max(1);
        let habits = (0..params.members)
            .map(|_| {
                let joined_day = rng.below(u64::from(days)) as u32;
                let stopped_day = rng.chance(400).then(|| {
                    let away = 45 + rng.below(106) as u32;
                    days.saturating_sub(away).max(joined_day)
                });
                Habit {
                    interval_days: [5, 7, 10, 14, 21, 30, 45][rng.below(7) as usize],
                    ticket_minor: 3_000 + rng.below(12_000),
                    store: StoreId(1 + rng.below(u64::from(params.stores.max(1))) as u32),
                    joined_day,
                    stopped_day,
                }
            })
            .collect();
        Simulation { params, habits }
    }

    /// The parameters.
    pub fn params(&self) -> &SimulationParams {
        &self.params
    }

    fn member_id(index: usize) -> MemberId {
        MemberId(FIRST_MEMBER + index as u64)
    }

    fn day_start(&self, day: u32) -> DateTime<Utc> {
        self.params.campaign_at - Duration::days(i64::from(self.params.history_days))
            + Duration::days(i64::from(day))
    }

    /// The enrolled members.
    pub fn members(&self) -> Vec<Member> {
        self.habits
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let card = CardNumber::from_serial(i as u64 + 1).expect("small serial");
                Member::new(
                    Self::member_id(i),
                    self.params.merchant,
                    card,
                    h.store,
                    self.day_start(h.joined_day),
                )
            })
            .collect()
    }

    /// Every visit before the campaign, in time order.
    pub fn history(&self) -> Vec<VisitEvent> {
        let mut rng = Rng(self.params.seed ^ 0x5eed_0f41_570e_1100);
        let mut visits = Vec::new();
        for (i, h) in self.habits.iter().enumerate() {
            let end = h.stopped_day.unwrap_or(self.params.history_days);
            let mut day = h.joined_day;
            while day < end {
                visits.push(self.visit(&mut rng, i, h, self.day_start(day)));
                day += (h.interval_days / 2 + rng.below(u64::from(h.interval_days)) as u32).max(1);
            }
        }
        visits.sort_by_key(|v| v.at);
        visits
    }

    fn visit(&self, rng: &mut Rng, index: usize, h: &Habit, day: DateTime<Utc>) -> VisitEvent {
        // 10:00 to 22:00 in a UTC+8 zone: 02:00 to 14:00 UTC.
        let at = day + Duration::seconds(7_200 + rng.below(43_200) as i64);
        VisitEvent {
            member: Some(Self::member_id(index)),
            store: h.store,
            at,
            spend_minor: h.ticket_minor / 2 + rng.below(h.ticket_minor.max(1)),
            voucher: None,
            campaign: None,
            discount_minor: 0,
        }
    }

    /// Every member's visits in the window after the campaign, in time order; treatment
    /// members (of `assignments`) come `1 + true_lift` times as often.
    pub fn weeks_after(&self, assignments: &[Assignment]) -> Vec<SimulatedVisit> {
        let treated: HashMap<MemberId, Option<VoucherId>> = assignments
            .iter()
            .filter(|a| a.arm == Arm::Treatment)
            .map(|a| (a.member, a.voucher))
            .collect();
        let mut rng = Rng(self.params.seed ^ 0x0af7_e5ee_d000_0001);
        let window = f64::from(self.params.window_days);
        let mut out = Vec::new();
        for (i, h) in self.habits.iter().enumerate() {
            let member = Self::member_id(i);
            let voucher = treated.get(&member).copied();
            let mut rate = window / f64::from(h.interval_days);
            if h.stopped_day.is_some() {
                rate *= 0.25;
            }
            if voucher.is_some() {
                rate *= 1.0 + self.params.true_lift;
            }
            let count = poisson(&mut rng, rate);
            let redeem = unit(&mut rng) < self.params.redemption_share;
            let mut visits: Vec<VisitEvent> = (0..count)
                .map(|_| {
                    let day = rng.below(u64::from(self.params.window_days.max(1))) as i64;
                    let start = self.params.campaign_at + Duration::days(day);
                    self.visit(&mut rng, i, h, start)
                })
                .collect();
            visits.sort_by_key(|v| v.at);
            for (n, visit) in visits.into_iter().enumerate() {
                let redeems = voucher.flatten().filter(|_| n == 0 && redeem);
                out.push(SimulatedVisit { visit, redeems });
            }
        }
        out.sort_by_key(|v| v.visit.at);
        out
    }
}

fn unit(rng: &mut Rng) -> f64 {
    (rng.next() >> 11) as f64 / (1u64 << 53) as f64
}

/// A Poisson draw (Knuth's product of uniforms; means here are small).
fn poisson(rng: &mut Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut product = unit(rng);
    let mut count = 0;
    while product > limit {
        product *= unit(rng);
        count += 1;
    }
    count
}
