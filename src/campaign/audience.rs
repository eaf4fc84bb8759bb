//! Whom a campaign talks to: one profile per member, and filters over profiles.

use crate::analytics::{MemberSummary, Segment, VisitLog, due_rhythm, rfm};
use crate::ids::{MemberId, StoreId};
use crate::membership::member::{Member, Tier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a campaign knows about one member when it picks its audience.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberProfile {
    /// The member.
    pub member: MemberId,
    /// The store they enrolled at (or, for a member known only from visits, the store of
    /// their first visit).
    pub home_store: StoreId,
    /// Their tier. [`member_profiles`] leaves it BASIC: set it from the merchant's tier
    /// schedule ([`Ledger::member_context`](crate::Ledger::member_context)) before filtering
    /// by [`AudienceFilter::MinTier`].
    pub tier: Tier,
    /// Whether the ledger enrolled them (a member known only from visits is not).
    pub enrolled: bool,
    /// Whether another member's share code brought them.
    pub referred: bool,
    /// Their visits, first and last visit and spend, when they visited at all.
    pub visits: Option<MemberSummary>,
    /// Their RFM segment among all members who visited.
    pub segment: Option<Segment>,
}

impl MemberProfile {
    /// Total spend, minor units (0 without visits).
    pub fn spend_minor(&self) -> i64 {
        self.visits.as_ref().map_or(0, |v| v.spend_minor)
    }
}

/// One profile per member: every enrolled member of `members`, and every member of `log`
/// whose id is a decimal [`MemberId`] as [`VisitLog::from_events`] writes them (no sign, no
/// leading zero: `M-7` and `007` are other people's ids, not member 7), in member
/// order. RFM segments are scored among all members who visited, as of `as_of`.
pub fn member_profiles(
    members: &[Member],
    log: &VisitLog,
    as_of: DateTime<Utc>,
) -> Vec<MemberProfile> {
    let mut profiles: HashMap<MemberId, MemberProfile> = members
        .iter()
        .map(|m| {
            let profile = MemberProfile {
                member: m.id,
                home_store: m.enrolled_store,
                tier: Tier::BASIC,
                enrolled: true,
                referred: m.referred_by.is_some(),
                visits: None,
                segment: None,
            };
            (m.id, profile)
        })
        .collect();
    let first_store = first_stores(log);
    for score in rfm(log, as_of) {
        let summary = score.summary;
        // `007` would be member 7 under another name: only the ledger's own spelling counts.
        let Some(id) = summary
            .member
            .parse::<u64>()
            .ok()
            .filter(|id| id.to_string() == summary.member)
        else {
            continue;
        };
        let home = first_store.get(summary.member.as_str()).copied();
        let profile = profiles.entry(MemberId(id)).or_insert(MemberProfile {
            member: MemberId(id),
            home_store: home.unwrap_or(StoreId(0)),
            tier: Tier::BASIC,
            enrolled: false,
            referred: false,
            visits: None,
            segment: None,
        });
        profile.segment = Some(score.segment);
        profile.visits = Some(summary);
    }
    let mut profiles: Vec<MemberProfile> = profiles.into_values().collect();
    profiles.sort_unstable_by_key(|p| p.member);
    profiles
}

/// The ledger store of each member's first visit (a store whose id is not a ledger store
/// number written as the ledger writes it, such as `S016`, `007` or `+7`, gives none).
fn first_stores(log: &VisitLog) -> HashMap<&str, StoreId> {
    let numbers: Vec<Option<StoreId>> = (0..log.store_count() as u32)
        .map(|s| {
            let id = log.store_id(s);
            let number = id.parse().ok().filter(|n: &u32| n.to_string() == id);
            number.map(StoreId)
        })
        .collect();
    let mut first: Vec<Option<Option<StoreId>>> = vec![None; log.member_count()];
    for (&m, &store) in log.member().iter().zip(log.store()) {
        if let Some(slot) = first.get_mut(m as usize) {
            slot.get_or_insert(numbers[store as usize]);
        }
    }
    first
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| Some((log.member_id(i as u32), s.flatten()?)))
        .collect()
}

/// One condition on a member; an [`Audience`] is members meeting all of its filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "filter", deny_unknown_fields)]
#[non_exhaustive]
pub enum AudienceFilter {
    /// RFM segment is one of these.
    Segments {
        /// The segments.
        segments: Vec<Segment>,
    },
    /// At least `min_visits` visits, none in the last `days_away` days.
    LapsedRegulars {
        /// Visits at least.
        min_visits: u64,
        /// Days without a visit.
        days_away: u32,
    },
    /// Due by their own rhythm (see [`crate::analytics::due_again`]).
    DueAgain {
        /// How late, in multiples of their average interval (1.3 = 30% late).
        late: f64,
    },
    /// Enrolled, and never spent anything.
    NeverBought,
    /// Brought by another member's share code.
    Referred,
    /// Home store is one of these.
    HomeStores {
        /// The stores.
        stores: Vec<StoreId>,
    },
    /// Tier at least this.
    MinTier {
        /// The tier.
        tier: Tier,
    },
    /// Last visit in `[from, until)`.
    LastVisitBetween {
        /// From.
        from: DateTime<Utc>,
        /// Until (excluded).
        until: DateTime<Utc>,
    },
}

impl AudienceFilter {
    fn admits(&self, p: &MemberProfile, now: i64) -> bool {
        let visits = p.visits.as_ref();
        match self {
            AudienceFilter::Segments { segments } => {
                p.segment.is_some_and(|s| segments.contains(&s))
            }
            AudienceFilter::LapsedRegulars {
                min_visits,
                days_away,
            } => visits.is_some_and(|v| {
                v.visits >= *min_visits && v.last_visit < now - i64::from(*days_away) * 86_400
            }),
            AudienceFilter::DueAgain { late } => {
                visits.is_some_and(|v| due_rhythm(v, now, *late).is_some())
            }
            AudienceFilter::NeverBought => p.enrolled && p.spend_minor() == 0,
            AudienceFilter::Referred => p.referred,
            AudienceFilter::HomeStores { stores } => stores.contains(&p.home_store),
            AudienceFilter::MinTier { tier } => p.tier >= *tier,
            AudienceFilter::LastVisitBetween { from, until } => visits.is_some_and(|v| {
                v.last_visit >= from.timestamp() && v.last_visit < until.timestamp()
            }),
        }
    }
}

/// The members a campaign targets: those meeting every filter. With no filter, everyone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// The filters, all of which a member must meet.
    pub filters: Vec<AudienceFilter>,
}

impl Audience {
    /// Every member.
    pub fn everyone() -> Self {
        Audience::default()
    }

    /// Adds a filter.
    pub fn with(mut self, filter: AudienceFilter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Members with at least `min_visits` visits and none in the last `days_away` days.
    pub fn lapsed_regulars(self, min_visits: u64, days_away: u32) -> Self {
        self.with(AudienceFilter::LapsedRegulars {
            min_visits,
            days_away,
        })
    }

    /// Members in one of these RFM segments.
    pub fn segments(self, segments: impl IntoIterator<Item = Segment>) -> Self {
        self.with(AudienceFilter::Segments {
            segments: segments.into_iter().collect(),
        })
    }

    /// Members whose home store is one of these.
    pub fn home_stores(self, stores: impl IntoIterator<Item = StoreId>) -> Self {
        self.with(AudienceFilter::HomeStores {
            stores: stores.into_iter().collect(),
        })
    }

    /// Whether `profile` belongs to the audience at `as_of`.
    pub fn admits(&self, profile: &MemberProfile, as_of: DateTime<Utc>) -> bool {
        let now = as_of.timestamp();
        self.filters.iter().all(|f| f.admits(profile, now))
    }
}
