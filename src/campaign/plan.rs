//! From an audience to a plan: who gets a voucher, who is held out, who is skipped and why.

use super::audience::{Audience, MemberProfile};
use super::error::CampaignError;
use super::holdout::HoldoutKey;
use super::offer::OfferTemplate;
use super::rules::{Budget, FrequencyCap, MarketingState};
use crate::ids::{CampaignId, MemberId, StoreId, VoucherId};
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A campaign: whom, what, and under which rules.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Campaign {
    /// The campaign; its vouchers carry it, so redemptions are attributed to it.
    pub id: CampaignId,
    /// Whom it targets.
    pub audience: Audience,
    /// What it sends.
    pub offer: OfferTemplate,
    /// The share of the audience held out, basis points (1,000 = 10%).
    pub holdout_bp: u16,
    /// How often a member may get an offer, across all campaigns.
    pub frequency_cap: Option<FrequencyCap>,
    /// What it may spend.
    pub budget: Budget,
}

impl Campaign {
    /// A campaign sending `offer` to `audience`, with no holdout, cap or budget yet.
    pub fn new(id: CampaignId, audience: Audience, offer: OfferTemplate) -> Self {
        Campaign {
            id,
            audience,
            offer,
            holdout_bp: 0,
            frequency_cap: None,
            budget: Budget::unlimited(),
        }
    }

    /// Holds out `basis_points` of the audience (1,000 = 10%).
    pub fn with_holdout(mut self, basis_points: u16) -> Self {
        self.holdout_bp = basis_points;
        self
    }

    /// Caps offers per member across all campaigns.
    pub fn with_frequency_cap(mut self, cap: FrequencyCap) -> Self {
        self.frequency_cap = Some(cap);
        self
    }

    /// Limits what the campaign spends.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }
}

/// Everything a plan reads besides the campaign: the members, what the ledger knows
/// ([`MarketingState`]), the holdout key, the instant, and the first voucher id to use.
#[derive(Debug, Clone)]
pub struct PlanContext<'a> {
    profiles: &'a [MemberProfile],
    state: &'a MarketingState,
    key: &'a HoldoutKey,
    at: DateTime<Utc>,
    first_voucher: VoucherId,
    threads: usize,
}

/// More threads than this never help a plan or a writer.
pub(crate) const MAX_THREADS: usize = 64;

impl<'a> PlanContext<'a> {
    /// Plans over `profiles` at `at`, respecting `state` (load it with
    /// [`MarketingState::load`]); treatment vouchers get ids from `first_voucher` up (a range
    /// no other voucher uses).
    pub fn new(
        profiles: &'a [MemberProfile],
        state: &'a MarketingState,
        key: &'a HoldoutKey,
        at: DateTime<Utc>,
        first_voucher: VoucherId,
    ) -> Self {
        PlanContext {
            profiles,
            state,
            key,
            at,
            first_voucher,
            threads: 1,
        }
    }

    /// Draws the holdout on this many threads (1 by default; at most 64).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.clamp(1, MAX_THREADS);
        self
    }
}

/// Which arm of the experiment a member is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// Gets the voucher.
    Treatment,
    /// Gets nothing; measured to tell what the voucher caused.
    Holdout,
}

impl Arm {
    /// `treatment` or `holdout`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Treatment => "treatment",
            Arm::Holdout => "holdout",
        }
    }
}

/// One member's place in a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The campaign.
    pub campaign: CampaignId,
    /// The member.
    pub member: MemberId,
    /// Their home store (the per-store rows of the lift report).
    pub home_store: StoreId,
    /// Their arm.
    pub arm: Arm,
    /// Their voucher (treatment only).
    pub voucher: Option<VoucherId>,
}

/// Audience members the plan left out, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Opted out of marketing.
    pub opted_out: u64,
    /// At the frequency cap.
    pub capped: u64,
    /// In the holdout of another campaign still being measured.
    pub held_out_elsewhere: u64,
    /// Not reached before the budget ran out (either arm).
    pub over_budget: u64,
}

/// A planned campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignPlan {
    /// The campaign.
    pub campaign: CampaignId,
    /// When it was planned (the issue instant of its vouchers).
    pub at: DateTime<Utc>,
    /// Members in the audience, before anyone was skipped.
    pub audience: u64,
    /// Treatment and holdout members, in the campaign's random order.
    pub assignments: Vec<Assignment>,
    /// Who was left out, and why.
    pub skipped: Skipped,
    /// Vouchers in the treatment arm.
    pub vouchers: u64,
    /// The most the vouchers can take off together, minor units (when the offer bounds it).
    pub max_discount_minor: Option<u64>,
    /// The offer, as planned (and budgeted).
    #[serde(skip)]
    offer: OfferTemplate,
}

impl CampaignPlan {
    /// Members in the holdout.
    pub fn holdout(&self) -> impl Iterator<Item = &Assignment> {
        self.assignments.iter().filter(|a| a.arm == Arm::Holdout)
    }

    /// The offer the plan was made (and budgeted) for.
    pub fn offer(&self) -> &OfferTemplate {
        &self.offer
    }

    /// The treatment members' vouchers, to record in the ledger
    /// ([`Ledger::record_issues`](crate::Ledger::record_issues)) before they are sent.
    ///
    /// # Errors
    /// [`CampaignError::Offer`] when the template makes an invalid voucher.
    pub fn vouchers(&self) -> Result<Vec<Voucher>, CampaignError> {
        let shared = self.offer.for_campaign(self.campaign, self.at)?;
        Ok(self
            .assignments
            .iter()
            .filter_map(|a| Some(shared.for_one(a.voucher?, a.member)))
            .collect())
    }
}

/// Plans `campaign`: the audience in random order (the holdout key's draw); opted-out and
/// capped members, and members held out by a campaign still being measured, skipped; a
/// `holdout_bp` share held out; vouchers until the budget is spent.
///
/// # Errors
/// [`CampaignError::HoldoutShare`] above 100%; [`CampaignError::UnboundedOffer`] for a
/// discount budget on an offer without a bounded discount; [`CampaignError::VoucherIdsOverflow`];
/// [`CampaignError::Overflow`] when the vouchers' total discount passes `u64::MAX`.
pub fn plan(campaign: &Campaign, ctx: &PlanContext<'_>) -> Result<CampaignPlan, CampaignError> {
    if campaign.holdout_bp > 10_000 {
        return Err(CampaignError::HoldoutShare(campaign.holdout_bp));
    }
    let cost = campaign.offer.max_discount_minor();
    if campaign.budget.max_discount_minor.is_some() && cost.is_none() {
        return Err(CampaignError::UnboundedOffer);
    }
    let audience: Vec<&MemberProfile> = ctx
        .profiles
        .iter()
        .filter(|p| campaign.audience.admits(p, ctx.at))
        .collect();
    let count = audience.len() as u64;
    ctx.first_voucher
        .0
        .checked_add(count)
        .ok_or(CampaignError::VoucherIdsOverflow {
            first: ctx.first_voucher.0,
            count,
        })?;
    let order = random_order(campaign.id, &audience, ctx);

    let mut plan = CampaignPlan {
        campaign: campaign.id,
        at: ctx.at,
        audience: count,
        assignments: Vec::new(),
        skipped: Skipped::default(),
        vouchers: 0,
        max_discount_minor: cost.map(|_| 0),
        offer: campaign.offer.clone(),
    };
    let mut spent = 0u64;
    for (walked, &(_, draw, index)) in order.iter().enumerate() {
        let profile = audience[index as usize];
        let member = profile.member;
        if ctx.state.opted_out(member) {
            plan.skipped.opted_out += 1;
            continue;
        }
        if let Some(cap) = &campaign.frequency_cap
            && ctx.state.history().count_within(member, cap, ctx.at) >= cap.max_offers
        {
            plan.skipped.capped += 1;
            continue;
        }
        if ctx.state.held_out(member) {
            plan.skipped.held_out_elsewhere += 1;
            continue;
        }
        let (arm, voucher) = if HoldoutKey::in_holdout(draw, campaign.holdout_bp) {
            (Arm::Holdout, None)
        } else {
            let cost = cost.unwrap_or(0);
            if !campaign.budget.affords(plan.vouchers, spent, cost) {
                plan.skipped.over_budget = (order.len() - walked) as u64;
                break;
            }
            spent = spent
                .checked_add(cost)
                .ok_or(CampaignError::Overflow("the vouchers' total discount"))?;
            let id = VoucherId(ctx.first_voucher.0 + plan.vouchers);
            plan.vouchers += 1;
            (Arm::Treatment, Some(id))
        };
        plan.assignments.push(Assignment {
            campaign: campaign.id,
            member,
            home_store: profile.home_store,
            arm,
            voucher,
        });
    }
    plan.max_discount_minor = cost.map(|_| spent);
    Ok(plan)
}

/// `(order, holdout draw, index into audience)` sorted by order: the campaign's random order of
/// its audience.
fn random_order(
    campaign: CampaignId,
    audience: &[&MemberProfile],
    ctx: &PlanContext<'_>,
) -> Vec<(u64, u64, u32)> {
    let mut order = vec![(0u64, 0u64, 0u32); audience.len()];
    // A thread per few thousand members at most: spawning costs more than a small draw.
    let threads = ctx.threads.min(audience.len().div_ceil(4096)).max(1);
    let chunk = audience.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (n, slots) in order.chunks_mut(chunk).enumerate() {
            let start = n * chunk;
            scope.spawn(move || {
                for (i, slot) in slots.iter_mut().enumerate() {
                    let index = start + i;
                    let (draw, place) = ctx.key.draws(campaign, audience[index].member);
                    *slot = (place, draw, index as u32);
                }
            });
        }
    });
    order.sort_unstable();
    order
}
