//! The journal of data-subject request runs: what makes an erasure (or a rectification)
//! resumable and idempotent across crashes.
//!
//! Protocol (driven by `covenant-dsr`):
//! 1. [`JournalStore::create_run`] records the run (kind, identities, scope, the plan's hash) and
//!    the prepared write set of each application database as numbered, `pending` steps, in one
//!    transaction. Only one run per request key may be open.
//! 2. Each step is applied to its database in one transaction of that database, then marked
//!    with [`JournalStore::mark_step_applied`].
//! 3. [`JournalStore::finish_run`] closes the run with its report and clears the steps' write
//!    sets (their SHA-256 stays).
//!
//! A step still `pending` after a crash is in doubt: its database transaction may or may not
//! have committed. The executor reads the rows back and applies only what is missing, then marks
//! it. Every write here appends its audit entry in the same transaction.

use std::fmt;
use std::future::Future;

use covenant_core::TenantId;
use covenant_core::audit::AuditDraft;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::Written;
use crate::ops::{append_audit, check_draft, check_line, check_text, micros, truncate};
use crate::sql::{Conn, RowRead, args};
use crate::sqlite::SqliteBackend;
use crate::store::{Inner, on, written};
use crate::{SqlStore, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

/// The largest write set one step may hold (bytes of JSON).
pub const MAX_STEP_BYTES: usize = 256 * 1024 * 1024;
/// The largest report a run may hold.
pub const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024;

/// The id of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub Uuid);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl RunId {
    pub fn parse(s: &str) -> Option<RunId> {
        Uuid::try_parse(s).ok().map(RunId)
    }
}

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunState {
    /// Prepared, and not yet finished: the next run of the same request resumes it.
    Open,
    Done,
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Open => "open",
            RunState::Done => "done",
            RunState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<RunState> {
        [RunState::Open, RunState::Done, RunState::Failed].into_iter().find(|r| r.as_str() == s)
    }
}

/// Where a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepState {
    /// Not known to be applied: not applied, or applied and not yet marked (in doubt).
    Pending,
    Applied,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Applied => "applied",
        }
    }
}

/// What to record a run with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    pub tenant: TenantId,
    /// Identifies the request: runs of the same request share it, and only one may be open.
    pub request_key: String,
    /// The request kind (`erasure`, `rectification`, …).
    pub kind: String,
    /// The identity keys the request was made with (`email:ada@example.com`).
    pub identities: Vec<String>,
    /// The scope, as the executor writes it (`controller`, `customer:42`).
    pub scope: String,
    /// SHA-256 (hex) of the plan the write set was prepared from.
    pub plan_hash: String,
    /// What the run will report (JSON); replaced when it finishes.
    pub report: String,
    pub created_at: Timestamp,
}

/// A prepared step: the write set of one database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewStep {
    pub dataset: String,
    /// The operations, as the executor serialises them (JSON).
    pub ops: String,
    pub op_count: u64,
}

/// A run as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub id: RunId,
    pub tenant: TenantId,
    pub request_key: String,
    pub kind: String,
    pub identities: Vec<String>,
    pub scope: String,
    pub plan_hash: String,
    pub state: RunState,
    pub report: String,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// Steps in the run, and how many are marked applied.
    pub steps: u32,
    pub applied: u32,
}

/// A step as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub run: RunId,
    /// 1, 2, … in the order they are applied.
    pub seq: u32,
    pub dataset: String,
    /// The write set; empty once the run has finished.
    pub ops: String,
    /// SHA-256 (hex) of the write set as prepared.
    pub ops_hash: String,
    pub op_count: u64,
    pub state: StepState,
    pub rows_changed: Option<u64>,
    pub applied_at: Option<Timestamp>,
}

/// How a run ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishRun {
    /// `Done` or `Failed`.
    pub state: RunState,
    /// The final report (JSON).
    pub report: String,
    pub at: Timestamp,
    /// The last steps, marked applied in the same transaction (step number, rows changed): it
    /// saves a write after the last step.
    pub applied: Vec<(u32, u64)>,
}

/// The journal of data-subject request runs. See the module documentation for the protocol.
pub trait JournalStore: Send + Sync {
    /// Records a run and its prepared steps (numbered from 1 in the order given). An open run
    /// of the same request is a [`StoreError::Conflict`].
    fn create_run(
        &self,
        run: NewRun,
        steps: Vec<NewStep>,
        audit: AuditDraft,
    ) -> impl Future<Output = std::result::Result<Written<Run>, StoreError>> + Send;

    /// The open run of a request, if there is one.
    fn find_open_run(
        &self,
        tenant: &TenantId,
        request_key: &str,
    ) -> impl Future<Output = std::result::Result<Option<Run>, StoreError>> + Send;

    fn get_run(
        &self,
        tenant: &TenantId,
        id: RunId,
    ) -> impl Future<Output = std::result::Result<Run, StoreError>> + Send;

    /// The latest runs of a tenant, newest first.
    fn list_runs(
        &self,
        tenant: &TenantId,
        limit: u32,
    ) -> impl Future<Output = std::result::Result<Vec<Run>, StoreError>> + Send;

    /// A run's steps, in order.
    fn run_steps(
        &self,
        tenant: &TenantId,
        id: RunId,
    ) -> impl Future<Output = std::result::Result<Vec<Step>, StoreError>> + Send;

    /// Marks a pending step applied, with the number of rows its transaction changed. A step
    /// already applied is a [`StoreError::Conflict`]; a step of a finished run too.
    fn mark_step_applied(
        &self,
        tenant: &TenantId,
        id: RunId,
        seq: u32,
        rows_changed: u64,
        at: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = std::result::Result<Written<Step>, StoreError>> + Send;

    /// Finishes an open run (`Done` or `Failed`) with its final report, marks the steps in
    /// `finish.applied`, and clears the steps' write sets. Finishing a run that is not open is a
    /// [`StoreError::Conflict`].
    fn finish_run(
        &self,
        tenant: &TenantId,
        id: RunId,
        finish: FinishRun,
        audit: AuditDraft,
    ) -> impl Future<Output = std::result::Result<Written<Run>, StoreError>> + Send;
}

// ---------------------------------------------------------------------------------------------
// Checks

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn check_run(r: &NewRun, steps: &[NewStep]) -> Result<()> {
    check_line("request key", &r.request_key, 300)?;
    check_line("request kind", &r.kind, 64)?;
    if r.identities.is_empty() || r.identities.len() > 100 {
        return Err(StoreError::invalid("identities", "a run needs 1 to 100 identities"));
    }
    for i in &r.identities {
        check_line("identity", i, 300)?;
    }
    check_line("scope", &r.scope, 300)?;
    check_line("plan hash", &r.plan_hash, 100)?;
    if r.report.len() > MAX_REPORT_BYTES {
        return Err(StoreError::invalid("report", format!("is longer than {MAX_REPORT_BYTES} bytes")));
    }
    check_text("report", &r.report, MAX_REPORT_BYTES)?;
    if steps.len() > 10_000 {
        return Err(StoreError::invalid("steps", "a run may have at most 10000 steps"));
    }
    for s in steps {
        check_line("step dataset", &s.dataset, 64)?;
        if s.ops.len() > MAX_STEP_BYTES {
            return Err(StoreError::invalid("step", format!("write set is longer than {MAX_STEP_BYTES} bytes")));
        }
    }
    Ok(())
}

fn check_report(report: &str) -> Result<()> {
    if report.len() > MAX_REPORT_BYTES {
        return Err(StoreError::invalid("report", format!("is longer than {MAX_REPORT_BYTES} bytes")));
    }
    check_text("report", report, MAX_REPORT_BYTES)
}

// ---------------------------------------------------------------------------------------------
// Operations

fn u(v: i64, col: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::corrupt(col, format!("negative value {v}")))
}

fn i(v: u64, field: &'static str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::invalid(field, format!("{v} is out of range")))
}

fn ts(col: &'static str, v: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| StoreError::corrupt(col, e))
}

fn read_run(r: &dyn RowRead) -> Result<Run> {
    let state = r.text("state")?;
    let identities = r.text("identities")?;
    Ok(Run {
        id: RunId(r.uuid("id")?),
        tenant: TenantId::parse(&r.text("tenant")?).map_err(|e| StoreError::corrupt("tenant", e))?,
        request_key: r.text("request_key")?,
        kind: r.text("kind")?,
        identities: identities.lines().map(str::to_owned).collect(),
        scope: r.text("scope")?,
        plan_hash: r.text("plan_hash")?,
        state: RunState::parse(&state).ok_or_else(|| StoreError::corrupt("run state", format!("`{state}`")))?,
        report: r.text("report")?,
        created_at: ts("created_at", r.i64("created_at")?)?,
        finished_at: r.opt_i64("finished_at")?.map(|v| ts("finished_at", v)).transpose()?,
        steps: u32::try_from(r.i64("steps")?).map_err(|e| StoreError::corrupt("steps", e))?,
        applied: u32::try_from(r.i64("applied")?).map_err(|e| StoreError::corrupt("applied", e))?,
    })
}

fn read_step(r: &dyn RowRead) -> Result<Step> {
    let state = r.text("state")?;
    Ok(Step {
        run: RunId(r.uuid("run")?),
        seq: u32::try_from(r.i64("seq")?).map_err(|e| StoreError::corrupt("seq", e))?,
        dataset: r.text("dataset")?,
        ops: r.text("ops")?,
        ops_hash: r.text("ops_hash")?,
        op_count: u(r.i64("op_count")?, "op_count")?,
        state: match state.as_str() {
            "pending" => StepState::Pending,
            "applied" => StepState::Applied,
            other => return Err(StoreError::corrupt("step state", format!("`{other}`"))),
        },
        rows_changed: r.opt_i64("rows_changed")?.map(|v| u(v, "rows_changed")).transpose()?,
        applied_at: r.opt_i64("applied_at")?.map(|v| ts("applied_at", v)).transpose()?,
    })
}

async fn load_run<C: Conn>(c: &mut C, tenant: &TenantId, id: RunId) -> Result<Run> {
    c.row(
        "reading a request run",
        "SELECT r.id, r.tenant, r.request_key, r.kind, r.identities, r.scope, r.plan_hash, r.state, \
         r.report, r.created_at, r.finished_at, \
         (SELECT COUNT(*) FROM dsr_steps s WHERE s.tenant = r.tenant AND s.run = r.id) AS steps, \
         (SELECT COUNT(*) FROM dsr_steps s WHERE s.tenant = r.tenant AND s.run = r.id AND s.state = 'applied') AS applied \
         FROM dsr_runs r WHERE r.tenant = $1 AND r.id = $2",
        args![tenant.as_str(), id.0],
        read_run,
    )
    .await?
    .ok_or_else(|| StoreError::not_found("request run", id))
}

async fn create_run<C: Conn>(
    c: &mut C,
    r: NewRun,
    steps: Vec<NewStep>,
    draft: AuditDraft,
) -> Result<(Run, AuditEntryOf)> {
    let id = RunId(Uuid::now_v7());
    let created_at = truncate(r.created_at);
    let n = c
        .exec(
            "recording a request run",
            "INSERT INTO dsr_runs (tenant, id, request_key, kind, identities, scope, plan_hash, state, report, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9) \
             ON CONFLICT (tenant, request_key) WHERE state = 'open' DO NOTHING",
            args![
                r.tenant.as_str(),
                id.0,
                r.request_key.as_str(),
                r.kind.as_str(),
                r.identities.join("\n"),
                r.scope.as_str(),
                r.plan_hash.as_str(),
                r.report.as_str(),
                micros(created_at)
            ],
        )
        .await
        .map_err(|e| match &e {
            StoreError::Backend { source, .. }
                if source.as_database_error().is_some_and(|d| d.is_foreign_key_violation()) =>
            {
                StoreError::not_found("tenant", &r.tenant)
            }
            StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(f, _), .. }
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
            {
                StoreError::not_found("tenant", &r.tenant)
            }
            _ => e,
        })?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "request `{}` already has an open run; resume it or finish it first",
            r.request_key
        )));
    }
    for (k, s) in steps.iter().enumerate() {
        let seq = i64::try_from(k + 1).map_err(|_| StoreError::invalid("steps", "too many steps"))?;
        c.exec(
            "recording a request step",
            "INSERT INTO dsr_steps (tenant, run, seq, dataset, ops, ops_hash, op_count, state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')",
            args![
                r.tenant.as_str(),
                id.0,
                seq,
                s.dataset.as_str(),
                s.ops.as_str(),
                sha256_hex(&s.ops),
                i(s.op_count, "op_count")?
            ],
        )
        .await?;
    }
    let audit = append_audit(c, &r.tenant, draft).await?;
    let run = load_run(c, &r.tenant, id).await?;
    Ok((run, audit))
}

type AuditEntryOf = covenant_core::audit::AuditEntry;

async fn find_open_run<C: Conn>(c: &mut C, tenant: &TenantId, request_key: &str) -> Result<Option<Run>> {
    let id = c
        .row(
            "finding an open request run",
            "SELECT id FROM dsr_runs WHERE tenant = $1 AND request_key = $2 AND state = 'open'",
            args![tenant.as_str(), request_key],
            |r| r.uuid("id"),
        )
        .await?;
    match id {
        Some(id) => Ok(Some(load_run(c, tenant, RunId(id)).await?)),
        None => Ok(None),
    }
}

async fn list_runs<C: Conn>(c: &mut C, tenant: &TenantId, limit: u32) -> Result<Vec<Run>> {
    c.rows(
        "listing request runs",
        "SELECT r.id, r.tenant, r.request_key, r.kind, r.identities, r.scope, r.plan_hash, r.state, \
         r.report, r.created_at, r.finished_at, \
         (SELECT COUNT(*) FROM dsr_steps s WHERE s.tenant = r.tenant AND s.run = r.id) AS steps, \
         (SELECT COUNT(*) FROM dsr_steps s WHERE s.tenant = r.tenant AND s.run = r.id AND s.state = 'applied') AS applied \
         FROM dsr_runs r WHERE r.tenant = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT $2",
        args![tenant.as_str(), i64::from(limit)],
        read_run,
    )
    .await
}

async fn run_steps<C: Conn>(c: &mut C, tenant: &TenantId, id: RunId) -> Result<Vec<Step>> {
    load_run(c, tenant, id).await?;
    c.rows(
        "reading request steps",
        "SELECT run, seq, dataset, ops, ops_hash, op_count, state, rows_changed, applied_at FROM dsr_steps \
         WHERE tenant = $1 AND run = $2 ORDER BY seq",
        args![tenant.as_str(), id.0],
        read_step,
    )
    .await
}

async fn mark_step_applied<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RunId,
    seq: u32,
    rows_changed: u64,
    at: Timestamp,
    draft: AuditDraft,
) -> Result<(Step, AuditEntryOf)> {
    let run = load_run(c, tenant, id).await?;
    if run.state != RunState::Open {
        return Err(StoreError::Conflict(format!("request run `{id}` is {}, not open", run.state.as_str())));
    }
    let n = c
        .exec(
            "marking a request step applied",
            "UPDATE dsr_steps SET state = 'applied', rows_changed = $4, applied_at = $5 \
             WHERE tenant = $1 AND run = $2 AND seq = $3 AND state = 'pending'",
            args![tenant.as_str(), id.0, i64::from(seq), i(rows_changed, "rows changed")?, micros(truncate(at))],
        )
        .await?;
    let step = c
        .row(
            "reading a request step",
            "SELECT run, seq, dataset, ops, ops_hash, op_count, state, rows_changed, applied_at FROM dsr_steps \
             WHERE tenant = $1 AND run = $2 AND seq = $3",
            args![tenant.as_str(), id.0, i64::from(seq)],
            read_step,
        )
        .await?
        .ok_or_else(|| StoreError::not_found("request step", format!("{id}/{seq}")))?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("step {seq} of request run `{id}` is already applied")));
    }
    let audit = append_audit(c, tenant, draft).await?;
    Ok((step, audit))
}

async fn finish_run<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RunId,
    finish: FinishRun,
    draft: AuditDraft,
) -> Result<(Run, AuditEntryOf)> {
    let FinishRun { state, report, at, applied } = finish;
    if state == RunState::Open {
        return Err(StoreError::invalid("run state", "a run finishes as `done` or `failed`"));
    }
    let n = c
        .exec(
            "finishing a request run",
            "UPDATE dsr_runs SET state = $3, report = $4, finished_at = $5 \
             WHERE tenant = $1 AND id = $2 AND state = 'open'",
            args![tenant.as_str(), id.0, state.as_str(), report.as_str(), micros(truncate(at))],
        )
        .await?;
    if n == 0 {
        let run = load_run(c, tenant, id).await?;
        return Err(StoreError::Conflict(format!("request run `{id}` is {}, not open", run.state.as_str())));
    }
    for (seq, rows) in applied {
        c.exec(
            "marking a request step applied",
            "UPDATE dsr_steps SET state = 'applied', rows_changed = $4, applied_at = $5 \
             WHERE tenant = $1 AND run = $2 AND seq = $3 AND state = 'pending'",
            args![tenant.as_str(), id.0, i64::from(seq), i(rows, "rows changed")?, micros(truncate(at))],
        )
        .await?;
    }
    c.exec(
        "clearing the write sets of a finished run",
        "UPDATE dsr_steps SET ops = '' WHERE tenant = $1 AND run = $2",
        args![tenant.as_str(), id.0],
    )
    .await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((load_run(c, tenant, id).await?, audit))
}

impl JournalStore for SqlStore {
    async fn create_run(&self, run: NewRun, steps: Vec<NewStep>, audit: AuditDraft) -> Result<Written<Run>> {
        check_run(&run, &steps)?;
        check_draft(&audit)?;
        on!(self.write, |c| create_run(c, run, steps, audit).await.map(written))
    }

    async fn find_open_run(&self, tenant: &TenantId, request_key: &str) -> Result<Option<Run>> {
        let (tenant, key) = (tenant.clone(), request_key.to_owned());
        on!(self.read, |c| find_open_run(c, &tenant, &key).await)
    }

    async fn get_run(&self, tenant: &TenantId, id: RunId) -> Result<Run> {
        let tenant = tenant.clone();
        on!(self.read, |c| load_run(c, &tenant, id).await)
    }

    async fn list_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<Run>> {
        let tenant = tenant.clone();
        let limit = limit.clamp(1, crate::MAX_PAGE);
        on!(self.read, |c| list_runs(c, &tenant, limit).await)
    }

    async fn run_steps(&self, tenant: &TenantId, id: RunId) -> Result<Vec<Step>> {
        let tenant = tenant.clone();
        on!(self.read, |c| run_steps(c, &tenant, id).await)
    }

    async fn mark_step_applied(
        &self,
        tenant: &TenantId,
        id: RunId,
        seq: u32,
        rows_changed: u64,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Written<Step>> {
        check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| mark_step_applied(c, &tenant, id, seq, rows_changed, at, audit).await.map(written))
    }

    async fn finish_run(
        &self,
        tenant: &TenantId,
        id: RunId,
        finish: FinishRun,
        audit: AuditDraft,
    ) -> Result<Written<Run>> {
        check_report(&finish.report)?;
        check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| finish_run(c, &tenant, id, finish, audit).await.map(written))
    }
}
