//! Connections to the server: a small pool, prepared statements per connection, and the
//! transaction loop that retries what PostgreSQL asks to be retried and says plainly when an
//! outcome is unknown.
//!
//! Each connection is a `tokio-postgres` client driven by its own single-threaded runtime in
//! the calling thread: no hop to another thread per statement, and statements that need no
//! answer in between travel together (pipelined): `BEGIN` with a transaction's first reads,
//! and its last write with `COMMIT`. A redemption is two round trips.

use crate::ledger::{LedgerError, StorageError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// Statement parameters.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Attempts of one transaction that hit a serialization failure, a deadlock or a unique-key
/// race before the error reaches the caller.
const MAX_ATTEMPTS: u32 = 8;

/// A failure inside a transaction body: a ledger rule, or the database.
pub(crate) enum Failure {
    Ledger(LedgerError),
    Db(tokio_postgres::Error),
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        Failure::Ledger(e)
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

/// What a transaction body decided: keep its writes, or drop them (a refusal writes nothing).
pub(crate) enum Finish<T> {
    Commit(T),
    Rollback(T),
}

/// How a database error is handled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Run the whole transaction again: serialization failure, deadlock, or a unique key that
    /// a concurrent transaction took first (the retry then sees its row).
    Retry,
    /// The connection is gone or the server is shutting down.
    Connection,
    /// A lock or statement waited past the statement timeout.
    Timeout,
    /// Anything else.
    Other,
}

fn kind_of(e: &tokio_postgres::Error) -> Kind {
    let Some(code) = e.code() else {
        // No SQLSTATE: an I/O error or a closed connection.
        return Kind::Connection;
    };
    if *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::UNIQUE_VIOLATION
    {
        Kind::Retry
    } else if *code == SqlState::QUERY_CANCELED || *code == SqlState::LOCK_NOT_AVAILABLE {
        Kind::Timeout
    } else if code.code().starts_with("08") || code.code().starts_with("57P") {
        // Connection exceptions; admin, crash or startup shutdown.
        Kind::Connection
    } else {
        Kind::Other
    }
}

/// The error with its causes: tokio-postgres shows a server's refusal only as "db error" and
/// keeps the server's message (such as "too many clients already") in its source.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// "PostgreSQL", with the server's SQLSTATE and message when the server refused.
fn context(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("PostgreSQL {} {}", db.code().code(), db.message()),
        None => "PostgreSQL".into(),
    }
}

/// The ledger error for a database error outside a commit.
pub(super) fn ledger_error(e: tokio_postgres::Error) -> LedgerError {
    match kind_of(&e) {
        Kind::Connection => LedgerError::Unavailable(describe(&e)),
        Kind::Timeout => LedgerError::Busy,
        Kind::Retry | Kind::Other => LedgerError::Storage(StorageError::caused_by(context(&e), e)),
    }
}

/// One connection with the runtime that drives it, the statements prepared on it and the
/// timeout it runs with.
pub(super) struct Session {
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    statements: HashMap<&'static str, Statement>,
    timeout_ms: u64,
}

impl Session {
    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime
            .as_ref()
            .expect("a session's runtime lives as long as the session")
            .block_on(future)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Never blocks, so a ledger may be dropped anywhere, even inside an async task.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A transaction on a session. Its `BEGIN` travels with its first statement.
pub(crate) struct Tx<'a> {
    session: &'a mut Session,
    begin: Option<&'static str>,
    /// Set once `COMMIT` has been sent with the last write.
    committed: bool,
}

impl Tx<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.session.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.session.block_on(self.session.client.prepare(sql))?;
        self.session.statements.insert(sql, s.clone());
        Ok(s)
    }

    /// Runs statements back to back in one round trip (after `BEGIN`, if not sent yet) and
    /// returns each one's rows. The server runs them in order, each seeing what committed
    /// before it started (READ COMMITTED): a statement after a `FOR UPDATE` sees the data of
    /// the transaction that held the lock before.
    pub(crate) fn pipeline<const N: usize>(
        &mut self,
        statements: [(&'static str, Params<'_>); N],
    ) -> Result<[Vec<Row>; N], tokio_postgres::Error> {
        let mut prepared = Vec::with_capacity(N);
        for (sql, _) in &statements {
            prepared.push(self.statement(sql)?);
        }
        let begin = self.begin.take();
        let client = &self.session.client;
        let queries = prepared
            .iter()
            .zip(&statements)
            .map(|(s, (_, params))| client.query(s, params));
        let run = async {
            let begun = async {
                match begin {
                    Some(sql) => client.batch_execute(sql).await,
                    None => Ok(()),
                }
            };
            let (begun, rows) =
                futures_util::future::join(begun, futures_util::future::join_all(queries)).await;
            begun?;
            rows.into_iter().collect::<Result<Vec<_>, _>>()
        };
        let rows = self.session.block_on(run)?;
        Ok(rows
            .try_into()
            .unwrap_or_else(|_| unreachable!("one result per statement")))
    }

    pub(crate) fn query(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let [rows] = self.pipeline([(sql, params)])?;
        Ok(rows)
    }

    pub(crate) fn query_opt(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The one row of a statement that always returns one (an aggregate, `RETURNING`).
    pub(crate) fn query_one(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Row, Failure> {
        self.query_opt(sql, params)?.ok_or_else(|| {
            Failure::Ledger(LedgerError::Corrupt(format!(
                "statement returned no row: {sql}"
            )))
        })
    }

    pub(crate) fn execute(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<(), tokio_postgres::Error> {
        self.query(sql, params).map(drop)
    }

    /// Runs statements with no parameters and no results (schema changes).
    pub(super) fn batch(&mut self, sql: &str) -> Result<(), tokio_postgres::Error> {
        let begin = self.begin.take();
        let client = &self.session.client;
        self.session.block_on(async {
            if let Some(begin) = begin {
                client.batch_execute(begin).await?;
            }
            client.batch_execute(sql).await
        })
    }

    /// Runs the transaction's last statement and commits, in one round trip; returns its
    /// rows. A database error in the statement turns the `COMMIT` into a rollback.
    ///
    /// # Errors
    /// [`Failure::Ledger`] with [`LedgerError::OutcomeUnknown`] when the connection broke: the
    /// server may have committed.
    pub(super) fn query_and_commit(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Failure> {
        let statement = self.statement(sql)?;
        debug_assert!(
            self.begin.is_none(),
            "a transaction's last statement is not its first"
        );
        let client = &self.session.client;
        let (rows, committed) = self.session.block_on(async {
            futures_util::future::join(
                client.query(&statement, params),
                client.batch_execute("COMMIT"),
            )
            .await
        });
        self.committed = true;
        let unknown = |e: &tokio_postgres::Error| kind_of(e) == Kind::Connection;
        match (rows, committed) {
            (Ok(rows), Ok(())) => Ok(rows),
            (Err(e), _) | (Ok(_), Err(e)) if unknown(&e) => {
                Err(Failure::Ledger(LedgerError::OutcomeUnknown(describe(&e))))
            }
            // The statement failed, so COMMIT rolled back; or the commit itself was refused.
            (Err(e), _) | (Ok(_), Err(e)) => Err(Failure::Db(e)),
        }
    }
}

/// Connection settings.
#[derive(Clone)]
pub(super) struct Settings {
    pub(super) config: tokio_postgres::Config,
    pub(super) max_connections: usize,
    pub(super) connect_timeout: Duration,
}

struct Idle {
    sessions: Vec<Session>,
    /// Connections handed out or idle.
    open: usize,
}

/// At most `max_connections` connections, opened on demand and kept; a broken one is dropped
/// and replaced on the next call.
pub(crate) struct Pool {
    settings: Settings,
    /// The statement (and lock) timeout, ms; each session applies it before its next use.
    timeout_ms: AtomicU64,
    idle: Mutex<Idle>,
    returned: Condvar,
}

impl Pool {
    pub(super) fn new(settings: Settings, statement_timeout: Duration) -> Self {
        Pool {
            settings,
            timeout_ms: AtomicU64::new(millis(statement_timeout)),
            idle: Mutex::new(Idle {
                sessions: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connect(&self) -> Result<Session, LedgerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LedgerError::Storage(StorageError::caused_by("a runtime", e)))?;
        let (client, connection) = runtime
            .block_on(self.settings.config.connect(NoTls))
            .map_err(|e| LedgerError::Unavailable(format!("cannot connect: {}", describe(&e))))?;
        // The connection task runs whenever the session's runtime runs a statement.
        runtime.spawn(connection);
        let session = Session {
            runtime: Some(runtime),
            client,
            statements: HashMap::new(),
            timeout_ms: 0,
        };
        session
            .block_on(
                session
                    .client
                    .batch_execute("SET default_transaction_isolation = 'read committed'"),
            )
            .map_err(ledger_error)?;
        Ok(session)
    }

    /// Sets the statement (and lock wait) timeout of later calls.
    pub(super) fn set_statement_timeout(&self, timeout: Duration) {
        self.timeout_ms.store(millis(timeout), Ordering::Relaxed);
    }

    /// A session that runs with the current timeout.
    fn session(&self) -> Result<Session, LedgerError> {
        let mut session = self.get()?;
        let ms = self.timeout_ms.load(Ordering::Relaxed);
        if session.timeout_ms != ms {
            let set = format!("SET statement_timeout = {ms}; SET lock_timeout = {ms}");
            if let Err(e) = session.block_on(session.client.batch_execute(&set)) {
                self.discard(session);
                return Err(ledger_error(e));
            }
            session.timeout_ms = ms;
        }
        Ok(session)
    }

    /// A session: an idle one, a new one while under the limit, or the next one returned
    /// (waiting at most the connect timeout).
    fn get(&self) -> Result<Session, LedgerError> {
        let deadline = Instant::now() + self.settings.connect_timeout;
        let mut idle = self.lock();
        loop {
            if let Some(session) = idle.sessions.pop() {
                return Ok(session);
            }
            if idle.open < self.settings.max_connections {
                idle.open += 1;
                drop(idle);
                return self.connect().inspect_err(|_| self.forget());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(LedgerError::Unavailable(format!(
                    "all {} connections busy past the connect timeout",
                    self.settings.max_connections
                )));
            }
            idle = self
                .returned
                .wait_timeout(idle, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Returns a session, or forgets it when its connection is broken.
    fn put(&self, session: Session) {
        if session.client.is_closed() {
            self.discard(session);
        } else {
            self.lock().sessions.push(session);
            self.returned.notify_one();
        }
    }

    /// Drops a session whose connection failed.
    fn discard(&self, session: Session) {
        drop(session);
        self.forget();
    }

    fn forget(&self) {
        self.lock().open -= 1;
        self.returned.notify_one();
    }

    /// Runs `body` in a read-committed transaction and commits it (or rolls it back, as the
    /// body says), retrying the whole transaction on serialization failures, deadlocks and
    /// unique-key races.
    ///
    /// # Errors
    /// The body's ledger error; [`LedgerError::Unavailable`] when the connection failed before
    /// the commit was sent (nothing was written); [`LedgerError::OutcomeUnknown`] when it
    /// failed while committing; [`LedgerError::Busy`] past the statement timeout.
    pub(crate) fn write<T>(
        &self,
        mut body: impl FnMut(&mut Tx<'_>) -> Result<Finish<T>, Failure>,
    ) -> Result<T, LedgerError> {
        self.transaction("BEGIN", &mut body)
    }

    /// Runs `body` in a read-only transaction that sees one snapshot.
    pub(crate) fn read<T>(
        &self,
        mut body: impl FnMut(&mut Tx<'_>) -> Result<T, Failure>,
    ) -> Result<T, LedgerError> {
        self.transaction(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            &mut |tx| body(tx).map(Finish::Rollback),
        )
    }

    fn transaction<T>(
        &self,
        begin: &'static str,
        body: &mut dyn FnMut(&mut Tx<'_>) -> Result<Finish<T>, Failure>,
    ) -> Result<T, LedgerError> {
        let mut attempt = 1;
        loop {
            let mut session = self.session()?;
            let (outcome, fit) = run(&mut session, begin, body);
            if fit {
                self.put(session);
            } else {
                self.discard(session);
            }
            match outcome {
                Ok(value) => return Ok(value),
                // The connection died before COMMIT was sent (a server restart), or a
                // serialization failure, deadlock or unique race: nothing was written.
                Err(Attempt::Stale(_) | Attempt::Retry(_)) if attempt < MAX_ATTEMPTS => {
                    attempt += 1;
                }
                Err(Attempt::Stale(e)) => return Err(ledger_error(e)),
                Err(Attempt::Retry(e)) => {
                    return Err(LedgerError::Storage(StorageError::caused_by(
                        format!("{}, after {MAX_ATTEMPTS} attempts", context(&e)),
                        e,
                    )));
                }
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

enum Attempt {
    /// The connection died before `COMMIT` was sent: nothing was written.
    Stale(tokio_postgres::Error),
    /// A serialization failure, deadlock or unique race: run the transaction again.
    Retry(tokio_postgres::Error),
    Failed(LedgerError),
}

/// Runs one attempt; also says whether the session is fit for another transaction.
fn run<T>(
    session: &mut Session,
    begin: &'static str,
    body: &mut dyn FnMut(&mut Tx<'_>) -> Result<Finish<T>, Failure>,
) -> (Result<T, Attempt>, bool) {
    let mut tx = Tx {
        session,
        begin: Some(begin),
        committed: false,
    };
    let outcome = body(&mut tx);
    let (began, committed) = (tx.begin.is_none(), tx.committed);
    let finish = |sql: &'static str| session.block_on(session.client.batch_execute(sql));
    match outcome {
        Ok(Finish::Commit(value) | Finish::Rollback(value)) if !began || committed => {
            (Ok(value), true)
        }
        Ok(Finish::Commit(value)) => match finish("COMMIT") {
            Ok(()) => (Ok(value), true),
            Err(e) => match kind_of(&e) {
                Kind::Connection => (
                    Err(Attempt::Failed(LedgerError::OutcomeUnknown(describe(&e)))),
                    false,
                ),
                Kind::Retry => (Err(Attempt::Retry(e)), true),
                _ => (Err(Attempt::Failed(ledger_error(e))), true),
            },
        },
        Ok(Finish::Rollback(value)) => {
            let fit = finish("ROLLBACK").is_ok();
            (Ok(value), fit)
        }
        Err(Failure::Db(e)) if kind_of(&e) == Kind::Connection => {
            // `query_and_commit` reports a break after COMMIT was sent as OutcomeUnknown, so
            // this one came before: the server rolls the transaction back.
            (Err(Attempt::Stale(e)), false)
        }
        Err(Failure::Ledger(e @ LedgerError::OutcomeUnknown(_))) => {
            (Err(Attempt::Failed(e)), false)
        }
        Err(failure) => {
            // A failed statement aborted the transaction, or the COMMIT sent with the last
            // write rolled it back; otherwise roll back now.
            let fit = !began || committed || finish("ROLLBACK").is_ok();
            let attempt = match failure {
                Failure::Ledger(e) => Attempt::Failed(e),
                Failure::Db(e) if kind_of(&e) == Kind::Retry => Attempt::Retry(e),
                Failure::Db(e) => Attempt::Failed(ledger_error(e)),
            };
            (Err(attempt), fit)
        }
    }
}
