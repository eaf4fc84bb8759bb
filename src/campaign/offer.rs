//! The offer a campaign sends: a voucher template whose personal fields are filled at issue.

use super::error::CampaignError;
use crate::ids::{CampaignId, MemberId, VoucherId};
use crate::voucher::{Benefit, Voucher};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A voucher template. At issue each member's copy gets its own id, is bound to the member,
/// carries the campaign, and (with [`OfferTemplate::valid_for_days`]) is valid from the issue
/// minute for so many days on the merchant's wall clock. Every other limit (benefit, stores,
/// minimum spend, uses…) is the template's.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferTemplate {
    voucher: Voucher,
    relative_validity: Option<(Tz, u32)>,
}

impl OfferTemplate {
    /// A template from a voucher; its id, member and campaign are replaced at issue.
    pub fn new(voucher: Voucher) -> Self {
        OfferTemplate {
            voucher,
            relative_validity: None,
        }
    }

    /// Valid for `days` days from the issue minute, in `zone` (the merchant's zone).
    pub fn valid_for_days(mut self, zone: Tz, days: u32) -> Self {
        self.relative_validity = Some((zone, days));
        self
    }

    /// The template voucher.
    pub fn voucher(&self) -> &Voucher {
        &self.voucher
    }

    /// The most one voucher can take off, minor units, when the benefit bounds it: what a
    /// discount budget counts per voucher.
    pub fn max_discount_minor(&self) -> Option<u64> {
        match self.voucher.benefit {
            Benefit::AmountOff { minor } | Benefit::StoredValue { minor } => Some(minor),
            Benefit::PercentOff { cap_minor, .. } => cap_minor,
            _ => None,
        }
    }

    /// The member's voucher.
    ///
    /// # Errors
    /// [`CampaignError::Offer`] when the result is not a valid voucher (its validity would
    /// leave the supported range, or the template itself is invalid).
    pub fn personalize(
        &self,
        id: VoucherId,
        member: MemberId,
        campaign: CampaignId,
        issued_at: DateTime<Utc>,
    ) -> Result<Voucher, CampaignError> {
        Ok(self.for_campaign(campaign, issued_at)?.for_one(id, member))
    }

    /// The campaign's voucher before its per-member fields: what every member's copy shares.
    pub(crate) fn for_campaign(
        &self,
        campaign: CampaignId,
        issued_at: DateTime<Utc>,
    ) -> Result<Shared, CampaignError> {
        let mut voucher = self.voucher.clone();
        voucher.campaign = Some(campaign);
        if let Some((zone, days)) = self.relative_validity {
            voucher = voucher
                .valid_for_days(issued_at, zone, days)
                .map_err(CampaignError::Offer)?;
        }
        Ok(Shared(voucher))
    }
}

/// A campaign's voucher with its shared fields resolved once.
pub(crate) struct Shared(pub(crate) Voucher);

impl Shared {
    /// One member's copy.
    pub(crate) fn for_one(&self, id: VoucherId, member: MemberId) -> Voucher {
        let mut voucher = self.0.clone();
        voucher.id = id;
        voucher.member = Some(member);
        voucher
    }
}
