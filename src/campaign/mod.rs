//! Precise marketing: from a segment of members to personal vouchers, and from the weeks
//! after to the visits and spend the campaign *caused*.
//!
//! 1. **Audience.** [`member_profiles`] sums each member's visits; an [`Audience`] picks
//!    members by RFM segment, lapsed regulars, due-again, never bought, referred, home store,
//!    tier or last visit.
//! 2. **Plan.** [`plan`] walks the audience in the campaign's random order (a keyed hash of
//!    campaign and member, [`HoldoutKey`]): members who opted out
//!    ([`Ledger::set_marketing_opt_out`](crate::Ledger::set_marketing_opt_out)) and members at
//!    the [`FrequencyCap`] across all campaigns are skipped; a deterministic share goes to the
//!    **holdout**, which gets nothing but is measured; the others get a personal voucher until
//!    the [`Budget`] is spent. The walk stops for both arms at once, so they stay comparable.
//! 3. **Issue.** [`write_offers`] signs every treatment member's voucher from the
//!    [`OfferTemplate`] and writes JSON Lines or CSV for the merchant's messaging system, on
//!    all cores; [`CampaignPlan::vouchers`] gives the vouchers to record in the ledger.
//! 4. **Measure.** [`lift_report`] compares treatment and holdout over a window: visiting
//!    members, visits and spend per member with 95% confidence intervals, redemption rate,
//!    discount cost and the campaign's return; [`lift_chart`] draws cumulative visits per
//!    member for both arms.
//!
//! Everything here is pure: time, keys and data come in as parameters. [`simulate`] makes
//! synthetic members and visits with a known true lift, for the example and the tests.

mod audience;
mod error;
mod holdout;
mod lift;
mod offer;
mod plan;
mod rules;
pub mod simulate;
mod tally;
mod writer;

pub use crate::ledger::Offer;
pub use audience::{Audience, AudienceFilter, MemberProfile, member_profiles};
pub use error::CampaignError;
pub use holdout::HoldoutKey;
pub use lift::{
    ArmFigures, Estimate, LiftReport, LiftRow, LiftWindow, MIN_ARM_MEMBERS, Verdict, lift_chart,
    lift_report,
};
pub use offer::OfferTemplate;
pub use plan::{Arm, Assignment, Campaign, CampaignPlan, PlanContext, Skipped, plan};
pub use rules::{Budget, FrequencyCap, MarketingState, OfferHistory};
pub use writer::{
    ASSIGNMENTS_HEADER, IssueSummary, OfferFormat, read_assignments_csv, write_assignments_csv,
    write_offers,
};
