//! The ledger's SQL layer. Every statement of the store is written once, in SQL that both
//! backends run (`?N` parameters, `GREATEST`/`LEAST` for the two-argument maximum and minimum,
//! `RETURNING id` for a new row's id), and bound here to SQLite (the default: one file in the
//! state directory) or to PostgreSQL (several nodes on one ledger). Values cross as four plain
//! kinds (null, integer, real, text), as SQLite stores them; PostgreSQL columns are `BIGINT`,
//! `DOUBLE PRECISION` and `TEXT` (see `pg_schema`), so the two read back alike.
//!
//! The store's interface is synchronous (a call is short: one transaction). PostgreSQL is
//! reached through tokio-postgres with a deadpool pool whose connections live on a runtime of
//! their own (one thread, `clawcron-pg`); a call hands its statements to a pooled connection
//! and waits for the answers, so a store call made from the daemon's runtime never needs that
//! runtime to make progress.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

/// A value as the ledger stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// What a statement's parameter is made from.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                // The ledger's integers are i64; a larger u64/usize does not occur (ids,
                // counts, milliseconds), and would saturate rather than wrap.
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_to_value!(i64, i32, i16, u32, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// The parameters of a statement: `args![a, b, c]`.
macro_rules! args {
    ($($x:expr),* $(,)?) => {
        &[$(&$x as &dyn $crate::store::db::ToValue),*] as &[&dyn $crate::store::db::ToValue]
    };
}
pub(crate) use args;

/// What a column is read as.
pub trait FromValue: Sized {
    /// What it expects, for the error that says it found something else.
    const WANT: &'static str;
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const WANT: &'static str = "an integer";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
macro_rules! narrow_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            const WANT: &'static str = "an integer in range";
            fn from_value(v: &Value) -> Option<Self> {
                i64::from_value(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
    )*};
}
narrow_int!(i32, u32, u64, usize);

impl FromValue for bool {
    const WANT: &'static str = "a boolean (0 or 1)";
    fn from_value(v: &Value) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for f64 {
    const WANT: &'static str = "a number";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    const WANT: &'static str = "text";
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Value {
    const WANT: &'static str = "any value";
    fn from_value(v: &Value) -> Option<Self> {
        Some(v.clone())
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const WANT: &'static str = T::WANT;
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_message(.0))]
    Pg(#[from] tokio_postgres::Error),
    #[error("PostgreSQL: {0}")]
    Pool(String),
    #[error("column {index}: expected {want}, found {found}")]
    Column {
        index: usize,
        want: &'static str,
        found: String,
    },
    #[error("the statement returned no row")]
    NoRow,
    /// The ledger's file is not the one opened any more (see `FileIdentity`).
    #[error("{0}")]
    Gone(String),
}

/// The SQLite ledger's file as it was opened: its device and inode. Once the file at its path is
/// another one or none (replaced, removed: `rm state/clawcron.db*`), no statement runs any more:
/// what it wrote would go to a file nobody will read. Checked before each statement (a `stat`,
/// a microsecond or two), never by a timer.
pub struct FileIdentity {
    path: std::path::PathBuf,
    dev: u64,
    ino: u64,
    gone: Mutex<Option<String>>,
    /// Found replaced by another file (else removed).
    replaced: std::sync::atomic::AtomicBool,
    /// Woken once, when the file is first found gone.
    pub found_gone: tokio::sync::Notify,
}

impl FileIdentity {
    pub fn of(path: &std::path::Path) -> std::io::Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
            gone: Mutex::new(None),
            replaced: std::sync::atomic::AtomicBool::new(false),
            found_gone: tokio::sync::Notify::new(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Whether the file was found replaced by another (else removed).
    pub fn replaced(&self) -> bool {
        self.replaced.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Why the file is gone, if it was found so (it stays gone).
    pub fn gone(&self) -> Option<String> {
        self.gone.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Looks at the file now: `Err` if it is another one or none.
    pub fn check(&self) -> Result<(), DbError> {
        use std::os::unix::fs::MetadataExt;
        if let Some(why) = self.gone() {
            return Err(DbError::Gone(why));
        }
        let shown = self.path.display();
        let why = match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => return Ok(()),
            Ok(_) => {
                self.replaced
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                format!(
                    "the ledger file {shown} was replaced by another file under the running daemon: nothing more is written to either"
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!(
                "the ledger file {shown} was removed under the running daemon: nothing more is written (it would go to a file nobody reads)"
            ),
            // Cannot tell (a permission changed?): go on.
            Err(_) => return Ok(()),
        };
        *self.gone.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
        self.found_gone.notify_one();
        Err(DbError::Gone(why))
    }
}

impl DbError {
    /// Whether this is a unique-constraint violation (a second claim of one slot).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            }
            DbError::Pg(e) => e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("PostgreSQL: {}: {}", db.severity(), db.message()),
        None => format!("PostgreSQL: {}", crate::util::chain(e)),
    }
}

/// One row of an answer.
#[derive(Debug, Clone)]
pub struct Row(Vec<Value>);

impl Row {
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, DbError> {
        let v = self.0.get(index).unwrap_or(&Value::Null);
        T::from_value(v).ok_or_else(|| DbError::Column {
            index,
            want: T::WANT,
            found: format!("{v:?}"),
        })
    }
}

/// Which SQL a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection, or a transaction on one.
pub trait Conn {
    fn dialect(&self) -> Dialect;
    /// Runs a statement that returns no rows; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError>;
    /// Runs a statement and returns its rows.
    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError>;
    /// Runs several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
}

impl dyn Conn + '_ {
    /// The first row, if any.
    pub fn query_opt(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Each row, mapped.
    pub fn query_map<T>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        self.query(sql, params)?.iter().map(f).collect()
    }

    /// The first column of the one row the statement returns (an aggregate, a `RETURNING`).
    pub fn value<T: FromValue>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
    ) -> Result<T, DbError> {
        self.query_opt(sql, params)?.ok_or(DbError::NoRow)?.get(0)
    }

    /// The first column of the first row, if there is a row.
    pub fn value_opt<T: FromValue>(
        &mut self,
        sql: &str,
        params: &[&dyn ToValue],
    ) -> Result<Option<T>, DbError> {
        self.query_opt(sql, params)?.map(|r| r.get(0)).transpose()
    }
}

/// The statement as SQLite takes it: `GREATEST`/`LEAST` are its many-argument `max`/`min`.
fn for_sqlite(sql: &str) -> Cow<'_, str> {
    if sql.contains("GREATEST(") || sql.contains("LEAST(") {
        Cow::Owned(sql.replace("GREATEST(", "max(").replace("LEAST(", "min("))
    } else {
        Cow::Borrowed(sql)
    }
}

/// The statement as PostgreSQL takes it: `?N` parameters become `$N`.
fn for_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

// --- SQLite -------------------------------------------------------------------------------

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// A SQLite connection (or transaction: it derefs to one).
pub struct Lite<'a>(pub &'a rusqlite::Connection);

fn values(params: &[&dyn ToValue]) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

impl Conn for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        let mut stmt = self.0.prepare_cached(&for_sqlite(sql))?;
        Ok(stmt.execute(rusqlite::params_from_iter(values(params)))?)
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(&for_sqlite(sql))?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(values(params)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(f) => Value::Real(f),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.0.execute_batch(sql)?)
    }
}

// --- PostgreSQL ---------------------------------------------------------------------------

impl tokio_postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_string().to_sql(ty, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                _ => f.to_string().to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn pg_row(r: &tokio_postgres::Row) -> Result<Row, DbError> {
    use tokio_postgres::types::Type;
    let mut row = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(v.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Value::Real),
            Type::FLOAT4 => r
                .try_get::<_, Option<f32>>(i)?
                .map(|v| Value::Real(v.into())),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => {
                r.try_get::<_, Option<String>>(i)?.map(Value::Text)
            }
            ref other => {
                return Err(DbError::Column {
                    index: i,
                    want: "bigint, double precision, boolean or text (cast it)",
                    found: other.name().to_string(),
                });
            }
        };
        row.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(row))
}

/// A pooled PostgreSQL connection or a transaction on one.
pub struct Pg<'a, C>(pub &'a C);

impl<C: deadpool_postgres::GenericClient> Pg<'_, C> {
    /// Runs `sql` (prepared once per connection) with `params`: its rows if `rows`, else how
    /// many rows it changed.
    fn call(
        &self,
        sql: &str,
        params: &[&dyn ToValue],
        rows: bool,
    ) -> Result<(Vec<tokio_postgres::Row>, u64), DbError> {
        bounded(pg_call(self.0, sql, &values(params), rows))
    }
}

/// Runs `sql` (prepared once per connection) with `vals` on `client`: its rows if `rows`, else
/// how many rows it changed.
async fn pg_call<C: deadpool_postgres::GenericClient>(
    client: &C,
    sql: &str,
    vals: &[Value],
    rows: bool,
) -> Result<(Vec<tokio_postgres::Row>, u64), tokio_postgres::Error> {
    let sql = for_postgres(sql);
    let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vals
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let stmt = client.prepare_cached(&sql).await?;
    if rows {
        Ok((client.query(&stmt, &refs).await?, 0))
    } else {
        Ok((Vec::new(), client.execute(&stmt, &refs).await?))
    }
}

/// A statement and its arguments, owned: one of a batch (`PgPool::batch`).
pub struct Stmt {
    pub sql: String,
    pub args: Vec<Value>,
}

impl Stmt {
    pub fn new(sql: impl Into<String>, args: &[&dyn ToValue]) -> Stmt {
        Stmt {
            sql: sql.into(),
            args: values(args),
        }
    }
}

/// How long one round trip to PostgreSQL may take before it is an error: a cut-off server
/// (a partition, a dead host) must not hold up the caller until TCP gives up.
pub const PG_ROUND_TRIP: std::time::Duration = std::time::Duration::from_secs(10);

/// Waits for `fut` (a statement on a pooled connection), at most `PG_ROUND_TRIP`. Called with
/// the pool's runtime entered (its timer bounds the wait).
fn bounded<T>(
    fut: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, DbError> {
    futures_executor::block_on(within_round_trip(fut))
}

/// `fut` (work on the server), or an error once it has taken longer than `PG_ROUND_TRIP`.
async fn within_round_trip<T, E: Into<DbError>>(
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, DbError> {
    match tokio::time::timeout(PG_ROUND_TRIP, fut).await {
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(DbError::Pool(format!(
            "the server did not answer within {} s",
            PG_ROUND_TRIP.as_secs()
        ))),
    }
}

impl<C: deadpool_postgres::GenericClient> Conn for Pg<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<usize, DbError> {
        let (_, n) = self.call(sql, params, false)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn query(&mut self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>, DbError> {
        self.call(sql, params, true)?.0.iter().map(pg_row).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        bounded(self.0.batch_execute(sql))
    }
}

/// A PostgreSQL ledger's pool, and the runtime its connections live on.
pub struct PgPool {
    pool: deadpool_postgres::Pool,
    rt: tokio::runtime::Handle,
    /// Dropped with the pool: ends the runtime's thread.
    _stop: tokio::sync::oneshot::Sender<()>,
    /// Who this is, for the log: the URL without its password.
    pub display: String,
}

/// How a PostgreSQL ledger is reached.
#[derive(Debug, Clone)]
pub struct PgTarget {
    pub url: String,
    pub password: Option<String>,
    /// At most this many connections per process.
    pub pool_size: usize,
}

impl PgPool {
    pub fn connect(target: &PgTarget) -> Result<PgPool, DbError> {
        use std::str::FromStr;
        let mut config = tokio_postgres::Config::from_str(&target.url)
            .map_err(|e| DbError::Pool(format!("the ledger URL: {}", crate::util::chain(&e))))?;
        if let Some(p) = &target.password {
            config.password(p.as_bytes());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        config.keepalives_idle(std::time::Duration::from_secs(30));
        config.application_name("clawcron");
        // The server's NOTICE lines (an `IF NOT EXISTS` that found the table) are not the
        // user's business: only warnings and errors come back.
        let options = match config.get_options() {
            Some(o) => format!("{o} -c client_min_messages=warning"),
            None => "-c client_min_messages=warning".to_string(),
        };
        config.options(&options);
        let display = display_url(&config);
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()?);
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::Pool(format!("cannot start its runtime: {e}")))?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("clawcron-pg".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| DbError::Pool(format!("cannot start its thread: {e}")))?;
        let pool = {
            let _g = handle.enter();
            deadpool_postgres::Pool::builder(manager)
                .max_size(target.pool_size.max(1))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(std::time::Duration::from_secs(10)))
                .create_timeout(Some(std::time::Duration::from_secs(6)))
                .recycle_timeout(Some(std::time::Duration::from_secs(5)))
                .build()
                .map_err(|e| DbError::Pool(e.to_string()))?
        };
        Ok(PgPool {
            pool,
            rt: handle,
            _stop: stop,
            display,
        })
    }

    fn object(&self) -> Result<deadpool_postgres::Object, DbError> {
        self.wait(self.get())
    }

    async fn get(&self) -> Result<deadpool_postgres::Object, DbError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => DbError::Pg(e),
            e => DbError::Pool(format!("{} ({})", e, self.display)),
        })
    }

    /// Runs `fut` (a task of the ledger's: see `batch`) on the pool's own thread.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.spawn(fut)
    }

    /// Waits for `fut` (e.g. a `batch`) from a thread other than the pool's.
    pub fn wait<T>(&self, fut: impl std::future::Future<Output = T>) -> T {
        let _g = self.rt.enter();
        futures_executor::block_on(fut)
    }

    /// Runs `stmts` in one transaction (a single one alone: one round trip) and returns each
    /// one's rows, within `PG_ROUND_TRIP`. Awaited by a task on the pool's own thread (see
    /// `spawn`), a statement wakes no other thread: an idle node's heartbeat costs its wake-up
    /// and the answer's. From elsewhere, through `wait`.
    pub async fn batch(&self, stmts: &[Stmt]) -> Result<Vec<Vec<Row>>, DbError> {
        let work = async {
            let mut obj = self.get().await?;
            let mut out = Vec::with_capacity(stmts.len());
            if let [one] = stmts {
                let (rows, _) = pg_call(&obj, &one.sql, &one.args, true).await?;
                out.push(rows.iter().map(pg_row).collect::<Result<_, _>>()?);
            } else {
                let tx = obj.transaction().await?;
                for st in stmts {
                    let (rows, _) = pg_call(&tx, &st.sql, &st.args, true).await?;
                    out.push(rows.iter().map(pg_row).collect::<Result<_, _>>()?);
                }
                tx.commit().await?;
            }
            Ok::<_, DbError>(out)
        };
        within_round_trip(work).await
    }
}

fn display_url(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().unwrap_or("")
    )
}

fn tls_config() -> Result<rustls::ClientConfig, DbError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| DbError::Pool(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// Where the ledger lives.
#[derive(Clone)]
pub enum Backend {
    /// The connection, and the file it was opened on (`None` in memory).
    Sqlite(Arc<Mutex<rusqlite::Connection>>, Option<Arc<FileIdentity>>),
    Postgres(Arc<PgPool>),
}

impl Backend {
    pub fn dialect(&self) -> Dialect {
        match self {
            Backend::Sqlite(..) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` in one transaction, committed if it returns `Ok`.
    pub fn tx<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Backend::Sqlite(conn, file) => {
                if let Some(file) = file {
                    file.check()?;
                }
                // A panic while holding the lock cannot leave a transaction half-applied in
                // SQLite (it rolls back on drop), so a poisoned lock is still safe to use.
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = conn.transaction().map_err(DbError::from)?;
                let v = f(&mut Lite(&tx))?;
                tx.commit().map_err(DbError::from)?;
                Ok(v)
            }
            Backend::Postgres(pool) => {
                let mut obj = pool.object()?;
                let _g = pool.rt.enter();
                let tx = bounded(obj.transaction())?;
                let v = f(&mut Pg(&tx))?;
                bounded(tx.commit())?;
                Ok(v)
            }
        }
    }

    /// Runs `f` outside a transaction: each statement commits on its own.
    pub fn run<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Backend::Sqlite(conn, file) => {
                if let Some(file) = file {
                    file.check()?;
                }
                let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut Lite(&conn))
            }
            Backend::Postgres(pool) => {
                let obj = pool.object()?;
                let _g = pool.rt.enter();
                f(&mut Pg(&obj))
            }
        }
    }
}

/// A migration's DDL, written for SQLite, as PostgreSQL takes it: integer columns are
/// `BIGINT`, reals `DOUBLE PRECISION`, an `INTEGER PRIMARY KEY` an identity column, and the
/// metrics table gets the `rowid` SQLite gives it implicitly (`/metrics` reads what is new by it).
pub fn pg_schema(sql: &str) -> String {
    let s = sql.replace(
        "INTEGER PRIMARY KEY",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    );
    let s = replace_word(&s, "INTEGER", "BIGINT");
    let s = replace_word(&s, "REAL", "DOUBLE PRECISION");
    let s = s.replace(") WITHOUT ROWID", ")");
    s.replace(
        "CREATE TABLE metrics (",
        "CREATE TABLE metrics (\n        rowid   BIGINT GENERATED ALWAYS AS IDENTITY,",
    )
}

/// `s` with each whole-word `from` replaced by `to`.
fn replace_word(s: &str, from: &str, to: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(from) {
        let before = if i == 0 {
            out.chars().last()
        } else {
            rest[..i].chars().last()
        };
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        out.push_str(if word(before) || word(after) {
            from
        } else {
            to
        });
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_dollars_for_postgres_but_not_inside_quotes() {
        assert_eq!(
            for_postgres("SELECT ?1, '?2' FROM t WHERE a = ?12"),
            "SELECT $1, '?2' FROM t WHERE a = $12"
        );
        assert_eq!(
            for_sqlite("SELECT GREATEST(a, b), LEAST(c, d)"),
            "SELECT max(a, b), min(c, d)"
        );
    }

    #[test]
    fn the_schema_for_postgres_has_wide_integers_and_identities() {
        let s = pg_schema(
            "CREATE TABLE metrics (\n run_id INTEGER NOT NULL, value REAL\n) WITHOUT ROWID;\nCREATE TABLE x (id INTEGER PRIMARY KEY, n INTEGER);",
        );
        assert!(
            s.contains("rowid   BIGINT GENERATED ALWAYS AS IDENTITY"),
            "{s}"
        );
        assert!(
            s.contains("run_id BIGINT NOT NULL, value DOUBLE PRECISION\n);"),
            "{s}"
        );
        assert!(
            s.contains("id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT"),
            "{s}"
        );
    }
}
