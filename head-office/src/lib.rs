//! The head office's sync service: tills post their journal batches over HTTP and get the
//! acknowledgement (with its deny-list delta) back; the reconciliation report and the full
//! deny list are there for the back office.
//!
//! | method and path          | body in            | answer                                     |
//! | ------------------------ | ------------------ | ------------------------------------------ |
//! | `POST /v1/journal`       | a journal batch    | 200, the acknowledgement's bytes           |
//! | `GET /v1/deny-list`      |                    | 200, the full signed deny list             |
//! | `GET /v1/conflicts`      |                    | 200, the offline double spends as JSON     |
//! | `GET /v1/tills/{till}`   |                    | 200, how far the till's journal is held    |
//!
//! Errors are JSON `{"error": name, "message": text}`: 400 for bytes that are not a batch,
//! 409 for a batch that does not check (a broken MAC chain, a forked journal: an edited or
//! foreign journal, never retried as is), 503 when the sync file is busy (retry). A batch is
//! authenticated by its MACs, so `POST /v1/journal` needs no other credential; the reports are
//! the merchant's data: serve them on a private address or behind the merchant's own
//! authentication.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use o2okit::head_office::HeadOffice;
use o2okit::{LedgerError, SyncError, TillId};
use std::sync::Arc;

/// The largest batch accepted: 64 MiB (a till offline for days sends a few MB).
pub const MAX_BATCH: usize = 64 << 20;

/// The service's routes over `office`.
pub fn router(office: Arc<HeadOffice>) -> Router {
    Router::new()
        .route("/v1/journal", post(ingest))
        .route("/v1/deny-list", get(deny_list))
        .route("/v1/conflicts", get(conflicts))
        .route("/v1/tills/{till}", get(till_status))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BATCH))
        .with_state(office)
}

/// A failure as an HTTP answer.
struct Failure(LedgerError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, name) = match &self.0 {
            LedgerError::Sync(
                SyncError::Malformed(_)
                | SyncError::UnsupportedFormat(_)
                | SyncError::OutOfOrder { .. },
            ) => (StatusCode::BAD_REQUEST, "malformed"),
            LedgerError::Sync(SyncError::WrongMerchant { .. }) => {
                (StatusCode::BAD_REQUEST, "wrong_merchant")
            }
            LedgerError::Sync(SyncError::BrokenChain { .. }) => {
                (StatusCode::CONFLICT, "broken_chain")
            }
            LedgerError::Sync(SyncError::Forked { .. }) => (StatusCode::CONFLICT, "forked"),
            LedgerError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let body = serde_json::json!({ "error": name, "message": self.0.to_string() });
        (status, axum::Json(body)).into_response()
    }
}

/// Runs a blocking call of the sync file off the async workers.
async fn blocking<T: Send + 'static>(
    office: Arc<HeadOffice>,
    f: impl FnOnce(&HeadOffice) -> Result<T, LedgerError> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(move || f(&office))
        .await
        .map_err(|e| Failure(LedgerError::InvalidRequest(format!("worker failed: {e}"))))?
        .map_err(Failure)
}

fn octets(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

async fn ingest(State(office): State<Arc<HeadOffice>>, batch: Bytes) -> Result<Response, Failure> {
    let ingested = blocking(office, move |o| o.ingest(&batch)).await?;
    Ok(octets(ingested.ack))
}

async fn deny_list(State(office): State<Arc<HeadOffice>>) -> Result<Response, Failure> {
    Ok(octets(blocking(office, |o| o.signed_deny_list()).await?))
}

async fn conflicts(State(office): State<Arc<HeadOffice>>) -> Result<Response, Failure> {
    let conflicts = blocking(office, |o| o.conflicts()).await?;
    Ok(axum::Json(conflicts).into_response())
}

async fn till_status(
    State(office): State<Arc<HeadOffice>>,
    Path(till): Path<u32>,
) -> Result<Response, Failure> {
    let status = blocking(office, move |o| o.till_status(TillId(till))).await?;
    Ok(axum::Json(serde_json::json!({
        "till": till,
        "through": status.through,
        "missing": status.missing,
        "records": status.records,
    }))
    .into_response())
}
