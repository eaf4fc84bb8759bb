//! The first pass of [`super::analyze`] for logs of many members, whose activity bitsets are
//! far larger than a core's cache.
//!
//! Setting a member's bit straight from the time-sorted log touches a random cache line per
//! visit: with a million members every visit waits on memory. Instead, each round of visits
//! is first sorted into buckets of members (one bucket's bitsets fit in a core's L2 cache),
//! which writes to a few hundred sequential lists, and then each bucket's bits are set from
//! its list, every write landing in cache. Buckets cover disjoint members, so the second step
//! shares them out across threads with one bitset for the whole log, none merged.

use super::log::{ANONYMOUS, VisitLog};
use super::metrics::{Flow, PeriodCursor, chunks};
use super::period::Periods;

/// The most activity bits one bucket covers: 256 KiB of bitsets.
const BUCKET_BITS: usize = 1 << 21;

/// Visits sorted into buckets per round: their lists take 4 bytes a visit.
const ROUND: usize = 1 << 22;

/// Flow per period and every member's activity bitset (`words` u64 per member), computed on
/// `parts` threads.
pub(super) fn scan_bucketed(
    log: &VisitLog,
    periods: &Periods,
    words: usize,
    parts: usize,
) -> (Flow, Vec<u64>) {
    // Members per bucket, a power of two: 2^15 for one word each, fewer for more.
    let shift = (BUCKET_BITS / 64 / words.next_power_of_two())
        .max(1)
        .ilog2();
    scan_with(log, periods, words, parts, shift, ROUND)
}

/// [`scan_bucketed`] with `2^shift` members a bucket and `round` visits a round.
fn scan_with(
    log: &VisitLog,
    periods: &Periods,
    words: usize,
    parts: usize,
    shift: u32,
    round: usize,
) -> (Flow, Vec<u64>) {
    let mut flow = Flow::new(periods.len());
    let mut bits = vec![0u64; log.member_count() * words];
    let bucket_words = (1usize << shift) * words;
    let buckets = bits.len().div_ceil(bucket_words);
    // Each thread's list of entries per bucket, reused from round to round.
    let mut lists: Vec<Vec<Vec<u32>>> = (0..parts.max(1))
        .map(|_| vec![Vec::new(); buckets])
        .collect();
    for start in (0..log.len()).step_by(round.max(1)) {
        let end = (start + round).min(log.len());
        let flows: Vec<Flow> = std::thread::scope(|s| {
            let handles: Vec<_> = chunks(end - start, parts)
                .into_iter()
                .zip(lists.iter_mut())
                .map(|(range, lists)| {
                    let range = start + range.start..start + range.end;
                    s.spawn(move || sort_into_buckets(log, periods, range, words, shift, lists))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("bucket thread"))
                .collect()
        });
        for f in &flows {
            flow.add(f);
        }
        std::thread::scope(|s| {
            let lists = &lists;
            let mut slices: Vec<(usize, &mut [u64])> =
                bits.chunks_mut(bucket_words).enumerate().collect();
            let per_thread = buckets.div_ceil(parts.max(1)).max(1);
            while !slices.is_empty() {
                let rest = slices.split_off(per_thread.min(slices.len()));
                let mine = std::mem::replace(&mut slices, rest);
                s.spawn(move || {
                    for (b, slice) in mine {
                        for entries in lists.iter().map(|l| &l[b]) {
                            for &e in entries {
                                slice[e as usize / 64] |= 1 << (e % 64);
                            }
                        }
                    }
                });
            }
        });
        for list in lists.iter_mut().flatten() {
            list.clear();
        }
    }
    (flow, bits)
}

/// Counts the flow of the visits in `range` and puts each member visit in its bucket's list,
/// as the bit it sets within the bucket's bitsets.
fn sort_into_buckets(
    log: &VisitLog,
    periods: &Periods,
    range: std::ops::Range<usize>,
    words: usize,
    shift: u32,
    lists: &mut [Vec<u32>],
) -> Flow {
    let mut flow = Flow::new(periods.len());
    let (at, member, spend) = (log.at(), log.member(), log.spend());
    let Some(first) = range.clone().next().and_then(|i| periods.index_of(at[i])) else {
        return flow;
    };
    let mut cursor = PeriodCursor::starting_at(periods, first);
    let mask = (1usize << shift) - 1;
    for i in range {
        let p = cursor.period_of(at[i]);
        flow.count(p, spend[i]);
        let m = member[i];
        if m != ANONYMOUS {
            let m = m as usize;
            // Below 2^21 (BUCKET_BITS): a bucket's members times their bits.
            lists[m >> shift].push(((m & mask) * words * 64 + p) as u32);
        }
    }
    flow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreId;
    use crate::analytics::{Granularity, VisitLogBuilder};
    use proptest::prelude::*;

    /// The bitsets and flow by the direct definition: each visit's period, its member's bit.
    fn direct(log: &VisitLog, periods: &Periods, words: usize) -> (Flow, Vec<u64>) {
        let mut flow = Flow::new(periods.len());
        let mut bits = vec![0u64; log.member_count() * words];
        for i in 0..log.len() {
            let p = periods.index_of(log.at()[i]).unwrap();
            flow.count(p, log.spend()[i]);
            let m = log.member()[i];
            if m != ANONYMOUS {
                bits[m as usize * words + p / 64] |= 1 << (p % 64);
            }
        }
        (flow, bits)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any bucket size, round length and thread count gives the direct bitsets and flow,
        /// across bucket, round and word boundaries (daily periods span several words).
        #[test]
        fn buckets_give_the_direct_bitsets(
            visits in proptest::collection::vec(
                (proptest::option::weighted(0.9, 0u16..300), 0u32..200 * 86_400, -50i64..500),
                1..400,
            ),
            shift in 0u32..5,
            round in 1usize..60,
            parts in 1usize..4,
            daily in any::<bool>(),
        ) {
            let mut b = VisitLogBuilder::new(chrono_tz::Asia::Shanghai);
            let origin = chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap();
            for (member, offset, spend) in &visits {
                let name = member.map(|m| format!("m{m}"));
                let at = origin + chrono::Duration::seconds(i64::from(*offset));
                b.push(name.as_deref(), StoreId(1), at, *spend);
            }
            let log = b.build();
            let granularity = if daily { Granularity::Day } else { Granularity::Month };
            let periods = Periods::covering(
                granularity,
                log.zone(),
                log.at()[0],
                log.at()[log.len() - 1],
            );
            let words = periods.len().div_ceil(64);
            let (flow, bits) = scan_with(&log, &periods, words, parts, shift, round);
            let (expected_flow, expected_bits) = direct(&log, &periods, words);
            prop_assert_eq!(bits, expected_bits);
            prop_assert_eq!(flow, expected_flow);
        }
    }
}
