//! Connections to the server: a small pool, prepared statements per connection, and the
//! transaction loop that retries what PostgreSQL asks to be retried and says plainly when an
//! outcome is unknown.

use crate::ledger::{LedgerError, StorageError};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Attempts of one transaction that hit a serialization failure, a deadlock or a unique-key
/// race before the error reaches the caller.
const MAX_ATTEMPTS: u32 = 8;

/// A failure inside a transaction body: a ledger rule, or the database.
pub(super) enum Failure {
    Ledger(LedgerError),
    Db(postgres::Error),
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        Failure::Ledger(e)
    }
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Db(e)
    }
}

/// What a transaction body decided: keep its writes, or drop them (a refusal writes nothing).
pub(super) enum Finish<T> {
    Commit(T),
    Rollback(T),
}

/// How a database error is handled.
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

fn kind_of(e: &postgres::Error) -> Kind {
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

/// The ledger error for a database error outside a commit.
pub(super) fn ledger_error(e: postgres::Error) -> LedgerError {
    match kind_of(&e) {
        Kind::Connection => LedgerError::Unavailable(e.to_string()),
        Kind::Timeout => LedgerError::Busy,
        Kind::Retry | Kind::Other => LedgerError::Storage(StorageError::caused_by("PostgreSQL", e)),
    }
}

/// One connection, the statements prepared on it and the timeout it runs with.
pub(super) struct Session {
    client: Client,
    statements: HashMap<&'static str, Statement>,
    timeout_ms: u64,
}

/// A transaction on a session, preparing each statement once per connection.
pub(super) struct Tx<'a> {
    tx: postgres::Transaction<'a>,
    statements: &'a mut HashMap<&'static str, Statement>,
}

impl Tx<'_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    pub(super) fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.tx.query(&s, params)
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<postgres::Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.tx.query_opt(&s, params)
    }

    pub(super) fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<postgres::Row, postgres::Error> {
        let s = self.statement(sql)?;
        self.tx.query_one(&s, params)
    }

    pub(super) fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.tx.execute(&s, params)
    }

    /// Runs statements with no parameters and no results (schema changes).
    pub(super) fn batch(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.tx.batch_execute(sql)
    }
}

/// Connection settings.
#[derive(Clone)]
pub(super) struct Settings {
    pub(super) config: postgres::Config,
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
pub(super) struct Pool {
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
        let mut client = self
            .settings
            .config
            .connect(NoTls)
            .map_err(|e| LedgerError::Unavailable(format!("cannot connect: {e}")))?;
        client
            .batch_execute("SET default_transaction_isolation = 'read committed'")
            .map_err(ledger_error)?;
        Ok(Session {
            client,
            statements: HashMap::new(),
            timeout_ms: 0,
        })
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
            if let Err(e) = session.client.batch_execute(&set) {
                self.discard(session);
                return Err(ledger_error(e));
            }
            session.timeout_ms = ms;
        }
        Ok(session)
    }

    /// A session: an idle one, a new one while under the limit, or the next one returned
    /// (waiting at most the connect timeout).
    pub(super) fn get(&self) -> Result<Session, LedgerError> {
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
    pub(super) fn put(&self, session: Session) {
        if session.client.is_closed() {
            drop(session);
            self.forget();
        } else {
            self.lock().sessions.push(session);
            self.returned.notify_one();
        }
    }

    /// Drops a session whose connection failed.
    pub(super) fn discard(&self, session: Session) {
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
    pub(super) fn write<T>(
        &self,
        mut body: impl FnMut(&mut Tx<'_>) -> Result<Finish<T>, Failure>,
    ) -> Result<T, LedgerError> {
        self.transaction(false, &mut body)
    }

    /// Runs `body` in a read-only transaction that sees one snapshot.
    pub(super) fn read<T>(
        &self,
        mut body: impl FnMut(&mut Tx<'_>) -> Result<T, Failure>,
    ) -> Result<T, LedgerError> {
        self.transaction(true, &mut |tx| body(tx).map(Finish::Rollback))
    }

    fn transaction<T>(
        &self,
        read_only: bool,
        body: &mut dyn FnMut(&mut Tx<'_>) -> Result<Finish<T>, Failure>,
    ) -> Result<T, LedgerError> {
        let mut attempt = 1;
        loop {
            let mut session = self.session()?;
            let outcome = run(&mut session, read_only, body);
            if matches!(outcome, Err(Attempt::Stale(_))) {
                self.discard(session);
            } else {
                self.put(session);
            }
            match outcome {
                Ok(value) => return Ok(value),
                // An idle connection the server closed (a restart): nothing was sent.
                Err(Attempt::Stale(_)) if attempt < MAX_ATTEMPTS => attempt += 1,
                Err(Attempt::Stale(e)) => return Err(ledger_error(e)),
                Err(Attempt::Retry(_)) if attempt < MAX_ATTEMPTS => attempt += 1,
                Err(Attempt::Retry(e)) => {
                    return Err(LedgerError::Storage(StorageError::caused_by(
                        format!("PostgreSQL, after {MAX_ATTEMPTS} attempts"),
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
    /// The transaction could not begin on this connection: it is dead.
    Stale(postgres::Error),
    Retry(postgres::Error),
    Failed(LedgerError),
}

fn run<T>(
    session: &mut Session,
    read_only: bool,
    body: &mut dyn FnMut(&mut Tx<'_>) -> Result<Finish<T>, Failure>,
) -> Result<T, Attempt> {
    let before_commit = |e: postgres::Error| match kind_of(&e) {
        Kind::Retry => Attempt::Retry(e),
        _ => Attempt::Failed(ledger_error(e)),
    };
    let tx = if read_only {
        session
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
    } else {
        session.client.transaction()
    }
    .map_err(|e| match kind_of(&e) {
        Kind::Connection => Attempt::Stale(e),
        _ => before_commit(e),
    })?;
    let mut tx = Tx {
        tx,
        statements: &mut session.statements,
    };
    match body(&mut tx) {
        Ok(Finish::Commit(value)) => match tx.tx.commit() {
            Ok(()) => Ok(value),
            Err(e) => Err(match kind_of(&e) {
                Kind::Retry => Attempt::Retry(e),
                Kind::Connection => Attempt::Failed(LedgerError::OutcomeUnknown(e.to_string())),
                _ => Attempt::Failed(ledger_error(e)),
            }),
        },
        Ok(Finish::Rollback(value)) => {
            tx.tx.rollback().map_err(before_commit)?;
            Ok(value)
        }
        Err(failure) => {
            // The transaction is rolled back when `tx` drops (or the server already did).
            drop(tx);
            Err(match failure {
                Failure::Ledger(e) => Attempt::Failed(e),
                Failure::Db(e) => before_commit(e),
            })
        }
    }
}
