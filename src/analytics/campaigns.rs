//! Which campaign brought whom: vouchers issued and redeemed, and what the redeeming visits
//! were worth.

use crate::ids::{CampaignId, VoucherId};
use crate::ledger::VisitEvent;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// One campaign's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignRow {
    /// The campaign.
    pub campaign: CampaignId,
    /// Vouchers issued.
    pub issued: u64,
    /// Distinct vouchers redeemed at least once.
    pub redeemed: u64,
    /// redeemed / issued (0 when nothing was issued).
    pub redemption_rate: f64,
    /// Spend of the redeeming visits, minor units.
    pub spend_minor: u64,
    /// Discount given on them, minor units.
    pub discount_minor: u64,
}

/// Campaign figures from the vouchers issued (id and campaign) and the visits.
pub fn campaigns(issued: &[(VoucherId, CampaignId)], visits: &[VisitEvent]) -> Vec<CampaignRow> {
    let mut rows: BTreeMap<CampaignId, (u64, HashSet<VoucherId>, u64, u64)> = BTreeMap::new();
    for &(_, campaign) in issued {
        rows.entry(campaign).or_default().0 += 1;
    }
    for v in visits {
        if let (Some(campaign), Some(voucher)) = (v.campaign, v.voucher) {
            let row = rows.entry(campaign).or_default();
            row.1.insert(voucher);
            row.2 += v.spend_minor;
            row.3 += v.discount_minor;
        }
    }
    rows.into_iter()
        .map(
            |(campaign, (issued, redeemed, spend_minor, discount_minor))| CampaignRow {
                campaign,
                issued,
                redeemed: redeemed.len() as u64,
                redemption_rate: if issued == 0 {
                    0.0
                } else {
                    redeemed.len() as f64 / issued as f64
                },
                spend_minor,
                discount_minor,
            },
        )
        .collect()
}
