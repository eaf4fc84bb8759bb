//! The randomized holdout: a keyed hash of campaign and member decides, reproducibly, who is
//! held out, and orders the audience for the budget.

use crate::ids::{CampaignId, MemberId};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroize;

/// The merchant's secret key for holdout draws. Keyed, so neither a member nor anyone who
/// knows the member ids can predict or steer who is held out; the same key, campaign and
/// member always give the same draw, so a plan can be recomputed and audited.
#[derive(Clone)]
pub struct HoldoutKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for HoldoutKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HoldoutKey(..)")
    }
}

const LABEL: &[u8] = b"o2okit holdout v1";

impl HoldoutKey {
    /// A key from 32 secret bytes (keep them with the merchant's other secrets).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut copy = *bytes;
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&copy).expect("HMAC takes any key");
        copy.zeroize();
        HoldoutKey { mac }
    }

    /// The member's holdout draw for the campaign: 64 uniformly distributed bits.
    pub fn draw(&self, campaign: CampaignId, member: MemberId) -> u64 {
        self.draws(campaign, member).0
    }

    /// The holdout draw and, independent of it, the member's place in the campaign's random
    /// order (what a budget cuts): two 64-bit words of one keyed hash.
    pub fn draws(&self, campaign: CampaignId, member: MemberId) -> (u64, u64) {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(&campaign.0.to_be_bytes());
        mac.update(&member.0.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let word = |i: usize| u64::from_be_bytes(tag[i..i + 8].try_into().expect("8 bytes"));
        (word(0), word(8))
    }

    /// Whether a draw falls in a holdout of `share_bp` basis points (1,000 = 10%).
    pub fn in_holdout(draw: u64, share_bp: u16) -> bool {
        ((u128::from(draw) * 10_000) >> 64) < u128::from(share_bp)
    }
}
