//! Bulk issuance out: the signed offers for the merchant's messaging system, and the
//! assignments (both arms) that the lift report reads back.

use super::error::CampaignError;
use super::offer::Shared;
use super::plan::{Arm, Assignment, CampaignPlan, MAX_THREADS};
use crate::ids::{CampaignId, MemberId, StoreId, VoucherId};
use crate::keys::Keyring;
use std::collections::HashSet;
use std::io::{BufRead, Read, Write};

/// How [`write_offers`] writes each offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OfferFormat {
    /// One JSON object per line:
    /// `{"campaign":7,"member":42,"voucher":1001,"valid_until":"2027-01-05T10:00","text":"…"}`
    /// (`valid_until` is store-local wall-clock time, `null` without an end).
    JsonLines,
    /// CSV with the header `campaign,member,voucher,valid_until,text`.
    Csv,
}

/// What [`write_offers`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueSummary {
    /// Offers written.
    pub offers: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Offers signed per batch; each thread takes a contiguous part of a batch.
const BATCH: usize = 1 << 15;

/// Signs every treatment member's voucher of `plan` (its offer, as budgeted) with `keyring`
/// and writes it to `out` in `format`, in plan order, on `threads` threads (at most 64).
/// Memory stays bounded by one batch. Record the vouchers in the ledger first
/// ([`CampaignPlan::vouchers`]), so that what is sent always counts against frequency caps.
///
/// # Errors
/// [`CampaignError::Offer`] when a voucher cannot be made or signed; [`CampaignError::Io`].
pub fn write_offers(
    plan: &CampaignPlan,
    keyring: &Keyring,
    format: OfferFormat,
    threads: usize,
    out: &mut impl Write,
) -> Result<IssueSummary, CampaignError> {
    let treated: Vec<(VoucherId, MemberId)> = plan
        .assignments
        .iter()
        .filter_map(|a| Some((a.voucher?, a.member)))
        .collect();
    let mut summary = IssueSummary {
        offers: 0,
        bytes: 0,
    };
    if format == OfferFormat::Csv {
        let header = b"campaign,member,voucher,valid_until,text\n";
        out.write_all(header)?;
        summary.bytes += header.len() as u64;
    }
    let threads = threads.clamp(1, MAX_THREADS);
    let shared = plan.offer().for_campaign(plan.campaign, plan.at)?;
    let line = LineParts::new(plan, &shared, format);
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); threads];
    for batch in treated.chunks(BATCH) {
        let part = batch.len().div_ceil(threads);
        let results: Vec<Result<(), CampaignError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(part)
                .zip(buffers.iter_mut())
                .map(|(slice, buffer)| {
                    let (shared, line) = (&shared, &line);
                    scope.spawn(move || {
                        buffer.clear();
                        slice.iter().try_for_each(|&(id, member)| {
                            let text = shared
                                .for_one(id, member)
                                .sign(keyring)
                                .map_err(CampaignError::Offer)?
                                .to_scanner_text();
                            line.write(buffer, member, id, &text);
                            Ok(())
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an offer writer panicked"))
                .collect()
        });
        results.into_iter().collect::<Result<(), _>>()?;
        for buffer in &buffers[..batch.len().div_ceil(part)] {
            out.write_all(buffer)?;
            summary.bytes += buffer.len() as u64;
        }
        summary.offers += batch.len() as u64;
    }
    out.flush()?;
    Ok(summary)
}

/// The constant parts of every line, resolved once per plan. Scanner text is Crockford base32
/// and the time digits and separators: nothing to escape in JSON or CSV.
struct LineParts {
    format: OfferFormat,
    campaign: String,
    until: String,
}

impl LineParts {
    fn new(plan: &CampaignPlan, shared: &Shared, format: OfferFormat) -> Self {
        let until = shared.0.time.valid_until;
        LineParts {
            format,
            campaign: plan.campaign.0.to_string(),
            until: match (format, until) {
                (OfferFormat::JsonLines, Some(until)) => format!("\"{until}\""),
                (OfferFormat::JsonLines, None) => "null".to_owned(),
                (_, until) => until.map(|u| u.to_string()).unwrap_or_default(),
            },
        }
    }

    fn write(&self, out: &mut Vec<u8>, member: MemberId, id: VoucherId, text: &str) {
        let mut digits = [0u8; 20];
        let json = self.format == OfferFormat::JsonLines;
        out.extend_from_slice(if json { b"{\"campaign\":" } else { b"" });
        out.extend_from_slice(self.campaign.as_bytes());
        out.extend_from_slice(if json { b",\"member\":" } else { b"," });
        out.extend_from_slice(decimal(member.0, &mut digits));
        out.extend_from_slice(if json { b",\"voucher\":" } else { b"," });
        out.extend_from_slice(decimal(id.0, &mut digits));
        out.extend_from_slice(if json { b",\"valid_until\":" } else { b"," });
        out.extend_from_slice(self.until.as_bytes());
        out.extend_from_slice(if json { b",\"text\":\"" } else { b"," });
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(if json { b"\"}\n" } else { b"\n" });
    }
}

/// `n` in decimal, in the tail of `buffer`.
fn decimal(mut n: u64, buffer: &mut [u8; 20]) -> &[u8] {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buffer[start..];
        }
    }
}

/// The header of an assignments CSV.
pub const ASSIGNMENTS_HEADER: &str = "campaign,member,home_store,arm,voucher";

/// Writes assignments as CSV ([`ASSIGNMENTS_HEADER`]; `voucher` empty in the holdout).
///
/// # Errors
/// [`CampaignError::Io`].
pub fn write_assignments_csv(
    assignments: &[Assignment],
    out: &mut impl Write,
) -> Result<(), CampaignError> {
    writeln!(out, "{ASSIGNMENTS_HEADER}")?;
    for a in assignments {
        let voucher = a.voucher.map(|v| v.0.to_string()).unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{voucher}",
            a.campaign.0,
            a.member.0,
            a.home_store.0,
            a.arm.as_str()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The longest line [`read_assignments_csv`] reads (an assignment takes under 80 bytes).
const MAX_LINE: u64 = 4096;

/// Reads what [`write_assignments_csv`] wrote.
///
/// # Errors
/// [`CampaignError::Csv`] naming the first line that is not an assignment: a missing or
/// other header, a line over 4 KiB, a field that does not parse, a treatment row without a
/// voucher or a holdout row with one, a member twice in one campaign. [`CampaignError::Io`].
pub fn read_assignments_csv(mut input: impl BufRead) -> Result<Vec<Assignment>, CampaignError> {
    let mut assignments = Vec::new();
    let mut seen = HashSet::new();
    let mut line = Vec::new();
    for number in 1u64.. {
        line.clear();
        let read = (&mut input)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)?;
        let bad = |reason: &str| CampaignError::Csv {
            line: number,
            reason: reason.to_owned(),
        };
        if read == 0 {
            if number == 1 {
                return Err(bad("empty: no header"));
            }
            break;
        }
        if line.len() as u64 > MAX_LINE {
            return Err(bad("longer than 4,096 bytes"));
        }
        let text = std::str::from_utf8(&line).map_err(|_| bad("not UTF-8"))?;
        let text = text.trim_end_matches('\n').trim_end_matches('\r');
        if number == 1 {
            if text != ASSIGNMENTS_HEADER {
                return Err(bad(
                    "the header is not campaign,member,home_store,arm,voucher",
                ));
            }
            continue;
        }
        let fields: Vec<&str> = text.split(',').collect();
        let [campaign, member, store, arm, voucher] = fields[..] else {
            return Err(bad("expected 5 fields"));
        };
        let arm = match arm {
            "treatment" => Arm::Treatment,
            "holdout" => Arm::Holdout,
            _ => return Err(bad("arm is neither treatment nor holdout")),
        };
        let voucher = match (arm, voucher) {
            (Arm::Holdout, "") => None,
            (Arm::Treatment, v) if !v.is_empty() => Some(VoucherId(
                v.parse().map_err(|_| bad("voucher is not a u64"))?,
            )),
            _ => {
                return Err(bad(
                    "a treatment row needs a voucher, a holdout row has none",
                ));
            }
        };
        let assignment = Assignment {
            campaign: CampaignId(campaign.parse().map_err(|_| bad("campaign is not a u32"))?),
            member: MemberId(member.parse().map_err(|_| bad("member is not a u64"))?),
            home_store: StoreId(store.parse().map_err(|_| bad("home_store is not a u32"))?),
            arm,
            voucher,
        };
        if !seen.insert((assignment.campaign, assignment.member)) {
            return Err(bad("the member is already assigned in this campaign"));
        }
        assignments.push(assignment);
    }
    Ok(assignments)
}
