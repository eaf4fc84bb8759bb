//! Visit analytics for C: the period summary of a ledger's visits, as JSON.

use super::ledger::o2o_ledger;
use super::status::{Failure, guard, o2o_status, write_text};
use super::{borrow, zone};
use crate::analytics::{Granularity, VisitLog, analyze};
use std::ffi::c_char;

/// Calendar months, for `o2o_ledger_report_json`.
pub const O2O_GRANULARITY_MONTH: u32 = 0;
/// ISO weeks (Monday first).
pub const O2O_GRANULARITY_WEEK: u32 = 1;
/// Calendar days.
pub const O2O_GRANULARITY_DAY: u32 = 2;

/// Writes the period metrics and cohorts of every visit in `ledger`, periods cut on the wall
/// clock of `time_zone`, as JSON into `buffer`:
/// `{"granularity":"month","periods":[{"period":"2025-01","active":…,"new":…,"retained":…,
/// "returning":…,"churned":…,"visits":…,"spend_minor":…,"visits_with_spend":…,
/// "avg_ticket_minor":…}],"cohorts":[{"cohort":"2025-01","size":…,"active":[…]}]}`.
///
/// `granularity` is one of the `O2O_GRANULARITY_*` values. See the buffer convention in the
/// header's introduction. Errors: `O2O_STATUS_NULL_ARGUMENT`, `O2O_STATUS_INVALID_UTF8`,
/// `O2O_STATUS_INVALID_PLACE`, `O2O_STATUS_INVALID_ARGUMENT`, `O2O_STATUS_LEDGER_STORAGE`,
/// `O2O_STATUS_ANALYTICS_IMPLAUSIBLE_INSTANT` (a visit dated outside 2000 to 2199),
/// `O2O_STATUS_ANALYTICS_TOO_LARGE` (a cohort matrix above 16 Mi cells: use a coarser
/// granularity), `O2O_STATUS_ANALYTICS_SPEND_OVERFLOW`,
/// `O2O_STATUS_INSUFFICIENT_BUFFER`. Memory follows the visits, never the span of periods.
///
/// # Safety
/// - `ledger` is NULL or a live `o2o_ledger` made by this library.
/// - `time_zone` is NULL or a NUL-terminated string.
/// - `buffer` is NULL or points to `capacity` writable bytes.
/// - `needed` is NULL or points to a writable `size_t`.
///
/// Every pointer stays valid for the whole call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn o2o_ledger_report_json(
    ledger: *const o2o_ledger,
    time_zone: *const c_char,
    granularity: u32,
    buffer: *mut c_char,
    capacity: usize,
    needed: *mut usize,
) -> o2o_status {
    guard(|| {
        // SAFETY: NULL or a live ledger and a NUL-terminated string, per the header.
        let (ledger, zone) = unsafe { (borrow(ledger, "ledger")?, zone(time_zone, "time_zone")?) };
        let granularity = match granularity {
            O2O_GRANULARITY_MONTH => Granularity::Month,
            O2O_GRANULARITY_WEEK => Granularity::Week,
            O2O_GRANULARITY_DAY => Granularity::Day,
            other => {
                return Err(Failure::new(
                    o2o_status::InvalidArgument,
                    format!("unknown granularity {other}"),
                ));
            }
        };
        let log = VisitLog::from_events(zone, &ledger.0.visits()?);
        let json = serde_json::to_string(&analyze(&log, granularity)?)
            .map_err(|e| Failure::new(o2o_status::Panic, e.to_string()))?;
        write_text(&json, buffer, capacity, needed)
    })
}
