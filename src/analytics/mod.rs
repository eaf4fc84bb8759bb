//! Visit analytics: from visits to the process behind revenue — new, retained and returning
//! customers, churn, customer flow, average ticket, cohorts, segments, referrals, campaigns.
//!
//! Visits come from the ledger ([`VisitLog::from_events`]), from CSV ([`read_csv`]), or in bulk
//! ([`VisitLogBuilder`]). Definitions: [`metrics`] (and `docs/metrics.md`).

mod bucketed;
mod campaigns;
mod csv;
mod dictionary;
mod export;
mod ingest;
mod log;
pub mod metrics;
#[cfg(feature = "parquet")]
mod parquet;
mod partial;
mod period;
mod referrals;
mod rfc3339;
mod segments;
mod sql;
mod stores;
mod svg;
pub mod synthetic;
mod visit_store;

pub use campaigns::{CampaignRow, campaigns};
pub use csv::{
    CsvError, CsvImport, CsvMode, HEADER, MAX_LINE_BYTES, MAX_MEMBER_ID_BYTES, MAX_STORE_ID_BYTES,
    read_csv, write_csv,
};
pub use export::{ReportTables, write_report_csv};
pub use ingest::{read_csv_bytes, read_csv_bytes_counting, read_csv_file};
pub use log::{ANONYMOUS, VisitLog, VisitLogBuilder};
pub use metrics::{AnalyticsError, CohortRow, MAX_COHORT_CELLS, PeriodRow, VisitReport, analyze};
#[cfg(feature = "parquet")]
pub use parquet::{ParquetError, read_parquet, write_report_parquet, write_visits_parquet};
pub use partial::{
    MergeError, PARTIAL_FORMAT, PartialReport, Partition, member_hash, merge, partial_report,
};
pub use period::{Granularity, Periods};
pub use referrals::{ReferralReport, referrals};
pub use segments::{
    DueMember, MemberSummary, RfmScore, Segment, due_again, lapsed_regulars, member_summaries, rfm,
};
pub use sql::{ReportSql, SqlDialect, report_sql};
pub use stores::{StoreRow, store_report};
pub use svg::cohort_heatmap;
pub use visit_store::{Appended, VISIT_STORE_FORMAT, VisitStore, VisitStoreError};

pub(crate) use segments::due_rhythm;
