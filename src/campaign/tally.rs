//! Each assigned member's visits, spend and redemption in the measurement window: the one
//! pass over the visits a lift report makes.
//!
//! Visits and spend are counted per member in one open-addressing table whose slot holds the
//! member, both counters and where the member's assignments start, so a visit costs one probe;
//! the rare visit that used a voucher is matched to the member's assignments afterwards.

use super::error::CampaignError;
use super::plan::Assignment;
use crate::ids::MemberId;
use crate::ledger::VisitEvent;
use chrono::{DateTime, Utc};

/// One assigned member's counters in the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct MemberTally {
    pub visits: u64,
    pub spend: u64,
    pub redeemed: bool,
    pub discount: u64,
}

/// A member's slot: their counters and the position of their first assignment in the
/// member-sorted order ([`EMPTY`] in an empty slot).
#[derive(Clone, Copy)]
struct Slot {
    member: u64,
    spend: u64,
    visits: u32,
    first: u32,
}

const EMPTY: u32 = u32::MAX;

fn mix(member: MemberId) -> u64 {
    let x = (member.0 ^ (member.0 >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}

/// The assigned members' counters, in a table filled to at most three quarters.
struct Counters {
    slots: Vec<Slot>,
    /// Assignment indices sorted by member.
    order: Vec<u32>,
}

impl Counters {
    fn new(assignments: &[Assignment]) -> Self {
        let mut order: Vec<u32> = (0..assignments.len() as u32).collect();
        order.sort_unstable_by_key(|&i| assignments[i as usize].member);
        let empty = Slot {
            member: 0,
            spend: 0,
            visits: 0,
            first: EMPTY,
        };
        let mut counters = Counters {
            slots: vec![empty; assignments.len() * 4 / 3 + 1],
            order,
        };
        for pos in 0..counters.order.len() {
            let member = assignments[counters.order[pos] as usize].member;
            let at = counters.position(member);
            if counters.slots[at].first == EMPTY {
                counters.slots[at].member = member.0;
                counters.slots[at].first = pos as u32;
            }
        }
        counters
    }

    /// The member's slot, or the empty slot where it would go.
    fn position(&self, member: MemberId) -> usize {
        let size = self.slots.len();
        let mut at = ((u128::from(mix(member)) * size as u128) >> 64) as usize;
        loop {
            let slot = &self.slots[at];
            if slot.first == EMPTY || slot.member == member.0 {
                return at;
            }
            at = if at + 1 == size { 0 } else { at + 1 };
        }
    }
}

/// Each assignment's counters (in `assignments` order) over the visits with `from <= at <
/// until`; a visit redeems a treatment member's voucher when it is the member's and carries
/// that voucher and the assignment's campaign.
///
/// # Errors
/// [`CampaignError::Overflow`] when a member's visits pass `u32::MAX` or their spend or
/// discount `u64::MAX`.
pub(super) fn tally(
    assignments: &[Assignment],
    visits: &[VisitEvent],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<MemberTally>, CampaignError> {
    let overflow = || CampaignError::Overflow("a member's visits, spend or discount in the window");
    let mut counters = Counters::new(assignments);
    let mut with_voucher: Vec<(&VisitEvent, u32)> = Vec::new();
    for v in visits {
        let Some(member) = v.member else { continue };
        if v.at < from || v.at >= until {
            continue;
        }
        let at = counters.position(member);
        let slot = &mut counters.slots[at];
        if slot.first != EMPTY {
            slot.visits = slot.visits.checked_add(1).ok_or_else(overflow)?;
            slot.spend = slot.spend.checked_add(v.spend_minor).ok_or_else(overflow)?;
            if v.voucher.is_some() {
                with_voucher.push((v, slot.first));
            }
        }
    }
    let mut tallies = vec![MemberTally::default(); assignments.len()];
    for &index in &counters.order {
        let slot = counters.slots[counters.position(assignments[index as usize].member)];
        tallies[index as usize].visits = u64::from(slot.visits);
        tallies[index as usize].spend = slot.spend;
    }
    for (v, first) in with_voucher {
        let of_member = counters.order[first as usize..]
            .iter()
            .take_while(|&&i| Some(assignments[i as usize].member) == v.member);
        for &i in of_member {
            let a = &assignments[i as usize];
            if v.voucher == a.voucher && v.campaign == Some(a.campaign) {
                let t = &mut tallies[i as usize];
                t.redeemed = true;
                t.discount = t
                    .discount
                    .checked_add(v.discount_minor)
                    .ok_or_else(overflow)?;
            }
        }
    }
    Ok(tallies)
}
