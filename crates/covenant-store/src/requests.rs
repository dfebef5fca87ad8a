//! Data-subject requests in the store: the requests and their history, one-time verification
//! codes, encrypted proof of identity, the tenant's customers (processor mode) and the job queue
//! that carries requests out.
//!
//! Every write appends its audit entry in the same transaction, like the rest of the store.
//! Request states only move through [`covenant_core::request::transition`], checked inside the
//! write transaction, so two concurrent writers cannot both move a request out of one state.
//!
//! # Codes
//! A code is never stored: only HMAC-SHA256 under a server key of a random salt and the code
//! ([`hash_code`]), so a copy of the database alone does not give the codes away, not even by
//! trying all million six-digit values. A code expires ([`CODE_TTL`]), allows
//! [`CODE_ATTEMPTS`] wrong guesses, and at most [`CODES_PER_HOUR`] are sent per request per hour.
//!
//! # The job queue
//! [`RequestStore::claim_job`] leases the next due job to a worker until its lease runs out: on
//! PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same
//! job; on SQLite through the single writer. A job whose worker died is taken again once its lease
//! has run out. A failed attempt is retried after [`backoff`]; a job out of attempts is kept as
//! `dead`, visible through [`RequestStore::list_jobs`]. Leases are queue bookkeeping and change no
//! one's data, so they are not audited; what a job does, and how it ends, is.

use std::future::Future;
use std::time::Duration;

use covenant_core::audit::{AuditDraft, AuditEntry};
use covenant_core::request::transition;
use covenant_core::{
    CustomerId, Identity, Jurisdiction, RequestEvent, RequestId, RequestKind, RequestState, SubjectId, TenantId,
};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use uuid::Uuid;

use crate::ops::{append_audit, check_draft, check_line, check_text, micros, truncate};
use crate::sql::{Conn, Dialect, RowRead, args};
use crate::sqlite::SqliteBackend;
use crate::store::{Inner, SqlStore, on, written};
use crate::{StoreError, Written};

type Result<T> = std::result::Result<T, StoreError>;

/// How long a one-time code is valid.
pub const CODE_TTL: Duration = Duration::from_secs(15 * 60);
/// Wrong guesses a code allows; then a new code must be asked for.
pub const CODE_ATTEMPTS: u32 = 5;
/// Codes sent for one request in any hour.
pub const CODES_PER_HOUR: u32 = 5;
/// Proofs of identity one request may hold.
pub const MAX_ATTACHMENTS: usize = 5;
/// The largest proof of identity, encrypted, in bytes: 10 MiB of plaintext (a scan or photo of an
/// identity document) and the 16-byte authentication tag.
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024 + 16;
/// Files one answer may hold.
pub const MAX_ANSWER_FILES: usize = 8;
/// The largest file of an answer, encrypted, in bytes.
pub const MAX_ANSWER_FILE_BYTES: usize = 64 * 1024 * 1024;
/// The largest `details` or `response` JSON text, in bytes.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Who made a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestSource {
    /// The person the data is about (or someone acting for them).
    Requester,
    /// A customer of the tenant, as controller, instructing us as its processor (promise P7).
    Controller,
}

impl RequestSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestSource::Requester => "requester",
            RequestSource::Controller => "controller",
        }
    }

    fn parse(s: &str) -> Option<RequestSource> {
        match s {
            "requester" => Some(RequestSource::Requester),
            "controller" => Some(RequestSource::Controller),
            _ => None,
        }
    }
}

/// What to record a new request with. Its state starts at `received`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequest {
    pub tenant: TenantId,
    pub kind: RequestKind,
    pub source: RequestSource,
    pub identity: Identity,
    /// The email address answers go to.
    pub contact: Option<String>,
    pub subject: Option<SubjectId>,
    pub jurisdiction: Option<Jurisdiction>,
    pub customer: Option<CustomerId>,
    pub received_at: Timestamp,
    pub due_at: Timestamp,
    pub acknowledge_by: Option<Timestamp>,
    /// JSON text: what the request says (the field and value to correct, the instructions, …).
    pub details: String,
    /// Who recorded it, for the history.
    pub actor: String,
}

/// A request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataRequest {
    pub id: RequestId,
    pub tenant: TenantId,
    pub kind: RequestKind,
    pub state: RequestState,
    pub source: RequestSource,
    pub identity: Identity,
    pub contact: Option<String>,
    pub subject: Option<SubjectId>,
    pub jurisdiction: Option<Jurisdiction>,
    pub customer: Option<CustomerId>,
    pub received_at: Timestamp,
    /// The due date computed at receipt.
    pub due_at: Timestamp,
    pub acknowledge_by: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    pub extended_due_at: Option<Timestamp>,
    pub extension_reason: Option<String>,
    pub details: String,
    /// JSON text: the answer, once there is one.
    pub response: Option<String>,
    pub updated_at: Timestamp,
    /// When it reached a terminal state.
    pub closed_at: Option<Timestamp>,
}

impl DataRequest {
    /// The due date in force: the extended one if the deadline was extended.
    pub fn current_due(&self) -> Timestamp {
        self.extended_due_at.unwrap_or(self.due_at)
    }

    /// Still open after its due date.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        !self.state.is_terminal() && self.current_due() < now
    }
}

/// One line of a request's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub actor: String,
    /// An event's wire name (`verify`, `extend`, …) or a note (`acknowledged`, `code_failed`,
    /// `proof_added`, `proof_deleted`, `delivery_failed`, `controller_response`, …).
    pub event: String,
    /// The state after it.
    pub state: RequestState,
    /// JSON text.
    pub detail: String,
}

/// A change to a request: an event of the state machine (or only a note), what it sets, and the
/// jobs to enqueue with it, all in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestUpdate {
    /// `None`: a note for the history that leaves the state alone.
    pub event: Option<RequestEvent>,
    /// The history's name for a note (ignored with an event).
    pub note: &'static str,
    pub actor: String,
    pub at: Timestamp,
    /// JSON text for the history.
    pub detail: String,
    pub subject: Option<SubjectId>,
    /// JSON text.
    pub response: Option<String>,
    /// The new due date and the reason (with [`RequestEvent::Extend`]).
    pub extension: Option<(Timestamp, String)>,
    pub acknowledged_at: Option<Timestamp>,
    pub enqueue: Vec<NewJob>,
    /// A job this update finishes (deleted, if still leased to this worker).
    pub finish_job: Option<(JobId, String)>,
    /// An answer to keep with the request, for the person to download (replaces any earlier one).
    pub answer: Option<NewAnswer>,
    /// The token of the answer's download link, hashed (replaces any earlier one). A request
    /// without an answer is [`StoreError::NotFound`].
    pub answer_token: Option<AnswerToken>,
    /// Deletes the request's answer and its files, if any (it expired).
    pub delete_answer: bool,
}

impl RequestUpdate {
    /// An update that moves the request by `event`.
    pub fn event(event: RequestEvent, actor: &str, at: Timestamp, detail: impl Into<String>) -> RequestUpdate {
        RequestUpdate {
            event: Some(event),
            note: "",
            actor: actor.to_owned(),
            at,
            detail: detail.into(),
            subject: None,
            response: None,
            extension: None,
            acknowledged_at: None,
            enqueue: Vec::new(),
            finish_job: None,
            answer: None,
            answer_token: None,
            delete_answer: false,
        }
    }

    /// A note that leaves the state alone.
    pub fn note(note: &'static str, actor: &str, at: Timestamp, detail: impl Into<String>) -> RequestUpdate {
        RequestUpdate { event: None, note, ..RequestUpdate::event(RequestEvent::Extend, actor, at, detail) }
    }

    pub fn enqueue(mut self, job: NewJob) -> RequestUpdate {
        self.enqueue.push(job);
        self
    }
}

/// Which requests to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFilter {
    pub state: Option<RequestState>,
    /// Only open requests whose due date is before this time.
    pub overdue_at: Option<Timestamp>,
    /// At most this many (1 to 1000; default 100).
    pub limit: Option<u32>,
}

/// A one-time code to record: its salt and keyed hash ([`hash_code`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCode {
    pub salt: [u8; 16],
    pub hash: [u8; 32],
    pub issued_at: Timestamp,
}

/// Why no code was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeRefused {
    /// [`CODES_PER_HOUR`] were sent in the last hour; the next may be sent at `retry_at`.
    TooMany { retry_at: Timestamp },
}

/// The outcome of a guess.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right: the request is verified, and its proofs of identity deleted.
    Verified(Box<Written<DataRequest>>),
    /// Wrong; `attempts_left` more guesses (0: a new code must be asked for).
    Wrong { attempts_left: u32 },
    /// The code was right or not, but it had expired; ask for a new one.
    Expired,
    /// Every guess of this code was used up; ask for a new one.
    Exhausted,
    /// No code was sent (or it was used).
    NoCode,
}

/// HMAC-SHA256 under `key` of the salt and the code.
pub fn hash_code(key: &[u8; 32], salt: &[u8; 16], code: &str) -> [u8; 32] {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(b"covenant-request-code-v1\0");
    mac.update(salt);
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().into()
}

/// A proof of identity to keep, already encrypted by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttachment {
    pub name: String,
    pub content_type: String,
    /// The size of the plaintext.
    pub size: u64,
    pub nonce: [u8; 12],
    pub ciphertext: Vec<u8>,
    pub added_at: Timestamp,
}

/// A stored proof of identity (encrypted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub id: Uuid,
    pub request: RequestId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub nonce: [u8; 12],
    pub ciphertext: Vec<u8>,
    pub added_at: Timestamp,
}

/// A file of an answer, encrypted by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerFile {
    /// `html`, `json`, `csv`, …: one file per format.
    pub format: String,
    pub content_type: String,
    /// The size of the plaintext.
    pub size: u64,
    pub nonce: [u8; 12],
    pub ciphertext: Vec<u8>,
}

/// The answer to an access or export request, rendered for the person to download until
/// `expires_at` (with [`RequestUpdate::answer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAnswer {
    pub expires_at: Timestamp,
    pub files: Vec<AnswerFile>,
}

/// A download link's token as kept: HMAC-SHA256 under a server key of a random salt and the
/// token, like the one-time codes (see [`hash_code`]); the token itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerToken {
    pub salt: [u8; 16],
    pub hash: [u8; 32],
}

/// A kept answer: what it holds (not the files' content) and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub tenant: TenantId,
    pub request: RequestId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// `None` until a download link was issued.
    pub token: Option<AnswerToken>,
    /// The formats of its files, in alphabetical order.
    pub formats: Vec<String>,
}

/// A customer to register: a controller the tenant processes data for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCustomer {
    pub tenant: TenantId,
    pub name: String,
    pub email: Option<String>,
    pub webhook_url: Option<String>,
    /// The webhook signing secret, sealed by the caller.
    pub webhook_secret: Option<Vec<u8>>,
    pub created_at: Timestamp,
}

/// A customer as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Customer {
    pub id: CustomerId,
    pub tenant: TenantId,
    pub name: String,
    pub email: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Vec<u8>>,
    pub created_at: Timestamp,
}

/// The id of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub Uuid);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobState {
    Pending,
    Running,
    /// Out of attempts; kept for people to look at.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        match s {
            "pending" => Some(JobState::Pending),
            "running" => Some(JobState::Running),
            "dead" => Some(JobState::Dead),
            _ => None,
        }
    }
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    pub tenant: TenantId,
    /// What to do: `request.fulfil`, `mail.send`, `referral.notify`, …
    pub kind: String,
    /// JSON text.
    pub payload: String,
    pub run_at: Timestamp,
    pub max_attempts: u32,
}

/// A job as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub tenant: TenantId,
    pub kind: String,
    pub payload: String,
    pub state: JobState,
    pub run_at: Timestamp,
    /// Attempts begun, this one included.
    pub attempts: u32,
    pub max_attempts: u32,
    pub locked_by: Option<String>,
    pub locked_until: Option<Timestamp>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// How a failed attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Tried again at this time.
    At(Timestamp),
    /// Out of attempts: the job is dead.
    Dead,
}

/// How long to wait before attempt `attempts + 1`: 5 s, 10 s, 20 s, … doubling, at most an hour.
pub fn backoff(attempts: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    Duration::from_secs(secs.min(3600))
}

/// The store of data-subject requests, customers and jobs. Conventions as for [`crate::Store`].
pub trait RequestStore: Send + Sync {
    /// Records a request in state `received`, with its first history entry and `jobs` enqueued.
    fn create_request(
        &self,
        request: NewRequest,
        jobs: Vec<NewJob>,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<DataRequest>>> + Send;

    fn get_request(&self, tenant: &TenantId, id: RequestId) -> impl Future<Output = Result<DataRequest>> + Send;

    /// Requests by due date (the extended one, if any), earliest first.
    fn list_requests(
        &self,
        tenant: &TenantId,
        filter: RequestFilter,
    ) -> impl Future<Output = Result<Vec<DataRequest>>> + Send;

    fn request_history(
        &self,
        tenant: &TenantId,
        id: RequestId,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>>> + Send;

    /// Applies updates in order, in one transaction: each event must be allowed in the state the
    /// previous left ([`StoreError::Conflict`] otherwise, and nothing is written). A
    /// [`RequestEvent::Verify`] deletes the request's proofs of identity (promise W10).
    fn update_request(
        &self,
        tenant: &TenantId,
        id: RequestId,
        updates: Vec<RequestUpdate>,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<DataRequest>>> + Send;

    /// Records a new code for a request (superseding any earlier one) with `update` (usually
    /// [`RequestEvent::SendCode`]); refused, writing nothing, past [`CODES_PER_HOUR`].
    fn issue_code(
        &self,
        tenant: &TenantId,
        id: RequestId,
        code: NewCode,
        update: RequestUpdate,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<std::result::Result<Written<DataRequest>, CodeRefused>>> + Send;

    /// Checks a guess against the request's active code. Right: applies `then` (which must start
    /// with [`RequestEvent::Verify`]) with `on_success`. Wrong: one guess fewer, with `on_failure`.
    #[allow(clippy::too_many_arguments)]
    fn check_code(
        &self,
        tenant: &TenantId,
        id: RequestId,
        guess: &str,
        key: &[u8; 32],
        now: Timestamp,
        then: Vec<RequestUpdate>,
        on_success: AuditDraft,
        on_failure: AuditDraft,
    ) -> impl Future<Output = Result<CodeCheck>> + Send;

    /// Keeps a proof of identity for a request that is not yet verified.
    fn add_attachment(
        &self,
        tenant: &TenantId,
        id: RequestId,
        attachment: NewAttachment,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Attachment>>> + Send;

    /// A request's proofs of identity (encrypted), oldest first.
    fn attachments(&self, tenant: &TenantId, id: RequestId) -> impl Future<Output = Result<Vec<Attachment>>> + Send;

    /// The answer kept with a request ([`RequestUpdate::answer`]), if any: its formats and
    /// expiry, not its files.
    fn answer(&self, tenant: &TenantId, id: RequestId) -> impl Future<Output = Result<Option<Answer>>> + Send;

    /// The answers kept under a request id, whatever their tenant: for a download link, which
    /// names the request and carries a token but no tenant. Request ids are drawn by the store
    /// (UUIDv7), so there is at most one; the caller checks the token against each.
    fn find_answers(&self, id: RequestId) -> impl Future<Output = Result<Vec<Answer>>> + Send;

    /// Reads one file of a request's answer (encrypted), notes the download in the request's
    /// history, and appends `audit`, in one transaction; `None` (writing nothing) when no answer
    /// or no file of that format is kept.
    fn read_answer_file(
        &self,
        tenant: &TenantId,
        id: RequestId,
        format: &str,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Option<AnswerFile>>> + Send;

    fn create_customer(
        &self,
        customer: NewCustomer,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Customer>>> + Send;

    fn get_customer(&self, tenant: &TenantId, id: CustomerId) -> impl Future<Output = Result<Customer>> + Send;

    fn list_customers(&self, tenant: &TenantId) -> impl Future<Output = Result<Vec<Customer>>> + Send;

    fn enqueue_job(&self, job: NewJob, audit: AuditDraft) -> impl Future<Output = Result<Written<Job>>> + Send;

    /// Leases the next due job (of any tenant) to `worker` until `now + lease`, counting the
    /// attempt. Jobs whose lease ran out after their last attempt are marked dead first.
    fn claim_job(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
    ) -> impl Future<Output = Result<Option<Job>>> + Send;

    /// Leases up to `limit` due jobs of `kind` (of any tenant) to `worker` until `now + lease`,
    /// counting each attempt, in queue order (due time, then id): what a worker that carries
    /// out several jobs together claims. On PostgreSQL, jobs other processes are claiming at the
    /// same moment are skipped (`FOR UPDATE SKIP LOCKED`), never waited for nor shared. Jobs
    /// whose lease ran out after their last attempt are marked dead first, as by
    /// [`RequestStore::claim_job`].
    fn claim_jobs(
        &self,
        worker: &str,
        kind: &str,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Job>>> + Send;

    /// Finishes a job leased to `worker` (it is deleted). A job no longer leased to it (its lease
    /// ran out and another worker took it) is a [`StoreError::Conflict`].
    fn finish_job(&self, id: JobId, worker: &str, audit: AuditDraft)
    -> impl Future<Output = Result<AuditEntry>> + Send;

    /// Records a failed attempt: retried after [`backoff`], or dead when out of attempts.
    fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        now: Timestamp,
        audit: AuditDraft,
    ) -> impl Future<Output = Result<Written<Retry>>> + Send;

    /// A tenant's jobs, by when they run.
    fn list_jobs(
        &self,
        tenant: &TenantId,
        state: Option<JobState>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Job>>> + Send;
}

// ---------------------------------------------------------------------------------------------
// Representations

fn ts(col: &'static str, v: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| StoreError::corrupt(col, e))
}

fn opt_ts(col: &'static str, v: Option<i64>) -> Result<Option<Timestamp>> {
    v.map(|v| ts(col, v)).transpose()
}

fn count(col: &'static str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::corrupt(col, format!("{v} is out of range")))
}

fn parse_col<T: std::str::FromStr>(r: &dyn RowRead, col: &'static str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    r.text(col)?.parse().map_err(|e: T::Err| StoreError::corrupt(col, e))
}

fn fixed<const N: usize>(col: &'static str, v: Vec<u8>) -> Result<[u8; N]> {
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| StoreError::corrupt(col, format!("{} bytes, not {N}", v.len())))
}

fn read_request(r: &dyn RowRead) -> Result<DataRequest> {
    let source = r.text("source")?;
    Ok(DataRequest {
        tenant: TenantId::parse(&r.text("tenant")?).map_err(|e| StoreError::corrupt("tenant", e))?,
        id: RequestId::from_uuid(r.uuid("id")?),
        kind: parse_col(r, "kind")?,
        state: parse_col(r, "state")?,
        source: RequestSource::parse(&source)
            .ok_or_else(|| StoreError::corrupt("source", format!("unknown source `{source}`")))?,
        identity: Identity::from_key(&r.text("identity")?).map_err(|e| StoreError::corrupt("identity", e))?,
        contact: r.opt_text("contact")?,
        subject: opt_uuid(r, "subject")?.map(SubjectId::from_uuid),
        jurisdiction: match r.opt_text("jurisdiction")? {
            Some(j) => Some(Jurisdiction::parse(&j).map_err(|e| StoreError::corrupt("jurisdiction", e))?),
            None => None,
        },
        customer: opt_uuid(r, "customer")?.map(CustomerId::from_uuid),
        received_at: ts("received_at", r.i64("received_at")?)?,
        due_at: ts("due_at", r.i64("due_at")?)?,
        acknowledge_by: opt_ts("acknowledge_by", r.opt_i64("acknowledge_by")?)?,
        acknowledged_at: opt_ts("acknowledged_at", r.opt_i64("acknowledged_at")?)?,
        extended_due_at: opt_ts("extended_due_at", r.opt_i64("extended_due_at")?)?,
        extension_reason: r.opt_text("extension_reason")?,
        details: r.text("details")?,
        response: r.opt_text("response")?,
        updated_at: ts("updated_at", r.i64("updated_at")?)?,
        closed_at: opt_ts("closed_at", r.opt_i64("closed_at")?)?,
    })
}

/// A nullable UUID column. Nulls are read as text on both backends; the value as a UUID.
fn opt_uuid(r: &dyn RowRead, col: &'static str) -> Result<Option<Uuid>> {
    match r.uuid(col) {
        Ok(u) => Ok(Some(u)),
        Err(e) => match r.opt_text(col) {
            Ok(None) => Ok(None),
            _ => Err(e),
        },
    }
}

/// Sets a UUID column of a request, if there is a value: the statements bind no null UUIDs,
/// whose type PostgreSQL could not tell.
async fn set_uuid<C: Conn>(
    c: &mut C,
    sql: &'static str,
    tenant: &TenantId,
    id: RequestId,
    value: Option<Uuid>,
) -> Result<()> {
    if let Some(v) = value {
        c.exec("updating a request", sql, args![tenant.as_str(), id.as_uuid(), v]).await?;
    }
    Ok(())
}

const SET_SUBJECT: &str = "UPDATE requests SET subject = $3 WHERE tenant = $1 AND id = $2";
const SET_CUSTOMER: &str = "UPDATE requests SET customer = $3 WHERE tenant = $1 AND id = $2";

// ---------------------------------------------------------------------------------------------
// Checks

fn check_json(field: &'static str, v: &str) -> Result<()> {
    if v.len() > MAX_JSON_BYTES {
        return Err(StoreError::invalid(field, format!("is longer than {MAX_JSON_BYTES} bytes")));
    }
    if !v.trim_start().starts_with('{') {
        return Err(StoreError::invalid(field, "must be a JSON object"));
    }
    Ok(())
}

fn check_email(field: &'static str, v: &str) -> Result<()> {
    check_line(field, v, 254)?;
    Identity::email(v).map(|_| ()).map_err(|e| StoreError::invalid(field, e.to_string()))
}

fn check_new_request(r: &NewRequest) -> Result<()> {
    check_json("details", &r.details)?;
    check_line("actor", &r.actor, 200)?;
    if let Some(c) = &r.contact {
        check_email("contact", c)?;
    }
    if r.due_at < r.received_at {
        return Err(StoreError::invalid("due date", "is before the request was received"));
    }
    Ok(())
}

fn check_update(u: &RequestUpdate) -> Result<()> {
    check_line("actor", &u.actor, 200)?;
    check_json("detail", &u.detail)?;
    if let Some(r) = &u.response {
        check_json("response", r)?;
    }
    if let Some((_, reason)) = &u.extension {
        check_line("extension reason", reason, 2000)?;
        if u.event != Some(RequestEvent::Extend) {
            return Err(StoreError::invalid("extension", "only an `extend` event moves the due date"));
        }
    }
    if u.event.is_none() && u.note.is_empty() {
        return Err(StoreError::invalid("note", "a note needs a name"));
    }
    if let Some(a) = &u.answer {
        check_answer(a)?;
    }
    u.enqueue.iter().try_for_each(check_job)
}

fn check_format(v: &str) -> Result<()> {
    if v.is_empty() || v.len() > 16 || !v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
        return Err(StoreError::invalid("answer format", format!("`{v}` is not 1 to 16 lowercase letters or digits")));
    }
    Ok(())
}

fn check_answer(a: &NewAnswer) -> Result<()> {
    if a.files.is_empty() || a.files.len() > MAX_ANSWER_FILES {
        return Err(StoreError::invalid("answer", format!("holds 1 to {MAX_ANSWER_FILES} files")));
    }
    for (i, f) in a.files.iter().enumerate() {
        check_format(&f.format)?;
        check_line("content type", &f.content_type, 200)?;
        if f.ciphertext.is_empty() || f.ciphertext.len() > MAX_ANSWER_FILE_BYTES {
            return Err(StoreError::invalid("answer file", format!("must be 1 byte to {MAX_ANSWER_FILE_BYTES} bytes")));
        }
        if a.files[..i].iter().any(|g| g.format == f.format) {
            return Err(StoreError::invalid("answer", format!("holds two files of format `{}`", f.format)));
        }
    }
    Ok(())
}

fn check_job(j: &NewJob) -> Result<()> {
    check_line("job kind", &j.kind, 64)?;
    check_text("job payload", &j.payload, MAX_JSON_BYTES)?;
    if !(1..=100).contains(&j.max_attempts) {
        return Err(StoreError::invalid("max attempts", "must be between 1 and 100"));
    }
    Ok(())
}

fn check_customer(c: &NewCustomer) -> Result<()> {
    check_line("customer name", &c.name, 200)?;
    if let Some(e) = &c.email {
        check_email("customer email", e)?;
    }
    if let Some(u) = &c.webhook_url {
        check_line("webhook url", u, 2000)?;
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            return Err(StoreError::invalid("webhook url", format!("`{u}` is not an http or https URL")));
        }
    }
    if c.email.is_none() && c.webhook_url.is_none() {
        return Err(StoreError::invalid("customer", "give a contact email, a webhook URL or both"));
    }
    Ok(())
}

fn check_attachment(a: &NewAttachment) -> Result<()> {
    check_line("attachment name", &a.name, 200)?;
    check_line("content type", &a.content_type, 200)?;
    if a.ciphertext.is_empty() || a.ciphertext.len() > MAX_ATTACHMENT_BYTES {
        return Err(StoreError::invalid("attachment", format!("must be 1 byte to {MAX_ATTACHMENT_BYTES} bytes")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Operations

async fn require_tenant<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<()> {
    c.row("reading a tenant", "SELECT id FROM tenants WHERE id = $1", args![tenant.as_str()], |r| r.text("id"))
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("tenant", tenant))
}

async fn insert_job<C: Conn>(c: &mut C, j: &NewJob, now: Timestamp) -> Result<Job> {
    let job = Job {
        id: JobId(Uuid::now_v7()),
        tenant: j.tenant.clone(),
        kind: j.kind.clone(),
        payload: j.payload.clone(),
        state: JobState::Pending,
        run_at: truncate(j.run_at),
        attempts: 0,
        max_attempts: j.max_attempts,
        locked_by: None,
        locked_until: None,
        last_error: None,
        created_at: truncate(now),
        finished_at: None,
    };
    c.exec(
        "enqueueing a job",
        "INSERT INTO jobs (id, tenant, kind, payload, state, run_at, attempts, max_attempts, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, 0, $6, $7)",
        args![
            job.id.0,
            job.tenant.as_str(),
            job.kind.as_str(),
            job.payload.as_str(),
            micros(job.run_at),
            i64::from(job.max_attempts),
            micros(job.created_at)
        ],
    )
    .await?;
    Ok(job)
}

async fn load_request<C: Conn>(c: &mut C, tenant: &TenantId, id: RequestId) -> Result<DataRequest> {
    let sql = match C::DIALECT {
        Dialect::Sqlite => {
            "SELECT tenant, id, kind, state, source, identity, contact, subject, jurisdiction, customer, \
             received_at, due_at, acknowledge_by, acknowledged_at, extended_due_at, extension_reason, details, \
             response, updated_at, closed_at FROM requests WHERE tenant = $1 AND id = $2"
        }
        // Locked, so that concurrent updates of one request queue up.
        Dialect::Postgres => {
            "SELECT tenant, id, kind, state, source, identity, contact, subject, jurisdiction, customer, \
             received_at, due_at, acknowledge_by, acknowledged_at, extended_due_at, extension_reason, details, \
             response, updated_at, closed_at FROM requests WHERE tenant = $1 AND id = $2 FOR UPDATE"
        }
    };
    c.row("reading a request", sql, args![tenant.as_str(), id.as_uuid()], read_request)
        .await?
        .ok_or_else(|| StoreError::not_found("request", id))
}

#[allow(clippy::too_many_arguments)]
async fn add_history<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RequestId,
    at: Timestamp,
    actor: &str,
    event: &str,
    state: RequestState,
    detail: &str,
) -> Result<()> {
    c.exec(
        "recording a request event",
        "INSERT INTO request_events (tenant, request, at, actor, event, state, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![tenant.as_str(), id.as_uuid(), micros(truncate(at)), actor, event, state.as_str(), detail],
    )
    .await?;
    Ok(())
}

async fn create_request<C: Conn>(
    c: &mut C,
    r: NewRequest,
    jobs: Vec<NewJob>,
    draft: AuditDraft,
) -> Result<(DataRequest, AuditEntry)> {
    require_tenant(c, &r.tenant).await?;
    if let Some(customer) = r.customer {
        get_customer(c, &r.tenant, customer).await?;
    }
    let id = RequestId::from_uuid(Uuid::now_v7());
    let received_at = truncate(r.received_at);
    c.exec(
        "recording a request",
        "INSERT INTO requests (tenant, id, kind, state, source, identity, contact, jurisdiction, received_at, \
         due_at, acknowledge_by, details, updated_at) \
         VALUES ($1, $2, $3, 'received', $4, $5, $6, $7, $8, $9, $10, $11, $8)",
        args![
            r.tenant.as_str(),
            id.as_uuid(),
            r.kind.as_str(),
            r.source.as_str(),
            r.identity.key(),
            r.contact.clone(),
            r.jurisdiction.as_ref().map(|j| j.as_str().to_owned()),
            micros(received_at),
            micros(truncate(r.due_at)),
            r.acknowledge_by.map(|t| micros(truncate(t))),
            r.details.as_str()
        ],
    )
    .await?;
    set_uuid(c, SET_SUBJECT, &r.tenant, id, r.subject.map(|s| s.as_uuid())).await?;
    set_uuid(c, SET_CUSTOMER, &r.tenant, id, r.customer.map(|c| c.as_uuid())).await?;
    let detail = format!("{{\"kind\":\"{}\",\"source\":\"{}\"}}", r.kind, r.source.as_str());
    add_history(c, &r.tenant, id, received_at, &r.actor, "receive", RequestState::Received, &detail).await?;
    for j in &jobs {
        insert_job(c, j, received_at).await?;
    }
    let audit = append_audit(c, &r.tenant, draft).await?;
    Ok((load_request(c, &r.tenant, id).await?, audit))
}

async fn apply_update<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    req: DataRequest,
    u: RequestUpdate,
) -> Result<DataRequest> {
    let state = match u.event {
        Some(e) => transition(req.state, e).map_err(|e| StoreError::Conflict(e.to_string()))?,
        None => req.state,
    };
    if u.event == Some(RequestEvent::Extend) {
        if req.extended_due_at.is_some() {
            return Err(StoreError::Conflict("the deadline has already been extended once".to_owned()));
        }
        if u.extension.is_none() {
            return Err(StoreError::invalid("extension", "an extension needs its new due date and reason"));
        }
    }
    let at = truncate(u.at);
    let closed_at = if state.is_terminal() { Some(micros(at)) } else { None };
    let (extended, reason) = match &u.extension {
        Some((until, reason)) => (Some(micros(truncate(*until))), Some(reason.clone())),
        None => (None, None),
    };
    c.exec(
        "updating a request",
        "UPDATE requests SET state = $3, updated_at = $4, closed_at = COALESCE($5, closed_at), \
         response = COALESCE($6, response), extended_due_at = COALESCE($7, extended_due_at), \
         extension_reason = COALESCE($8, extension_reason), acknowledged_at = COALESCE($9, acknowledged_at) \
         WHERE tenant = $1 AND id = $2",
        args![
            tenant.as_str(),
            req.id.as_uuid(),
            state.as_str(),
            micros(at),
            closed_at,
            u.response.clone(),
            extended,
            reason,
            u.acknowledged_at.map(|t| micros(truncate(t)))
        ],
    )
    .await?;
    set_uuid(c, SET_SUBJECT, tenant, req.id, u.subject.map(|s| s.as_uuid())).await?;
    let name = u.event.map_or(u.note, RequestEvent::as_str);
    add_history(c, tenant, req.id, at, &u.actor, name, state, &u.detail).await?;
    if u.event == Some(RequestEvent::Verify) {
        // promise W10: proof of identity is deleted as soon as verification is done.
        let n = c
            .exec(
                "deleting proofs of identity",
                "DELETE FROM request_attachments WHERE tenant = $1 AND request = $2",
                args![tenant.as_str(), req.id.as_uuid()],
            )
            .await?;
        if n > 0 {
            let detail = format!("{{\"deleted\":{n}}}");
            add_history(c, tenant, req.id, at, &u.actor, "proof_deleted", state, &detail).await?;
        }
    }
    if u.delete_answer || u.answer.is_some() {
        delete_answer(c, tenant, req.id).await?;
    }
    if let Some(a) = &u.answer {
        insert_answer(c, tenant, req.id, at, a).await?;
    }
    if let Some(t) = &u.answer_token {
        let n = c
            .exec(
                "keeping a download token",
                "UPDATE request_answers SET token_salt = $3, token_hash = $4 WHERE tenant = $1 AND request = $2",
                vec![
                    tenant.as_str().into(),
                    req.id.as_uuid().into(),
                    crate::sql::Arg::Blob(t.salt.to_vec()),
                    (&t.hash).into(),
                ],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::not_found("answer", req.id));
        }
    }
    for j in &u.enqueue {
        insert_job(c, j, at).await?;
    }
    if let Some((job, worker)) = &u.finish_job {
        delete_leased_job(c, *job, worker).await?;
    }
    load_request(c, tenant, req.id).await
}

async fn delete_answer<C: Conn>(c: &mut C, tenant: &TenantId, id: RequestId) -> Result<()> {
    c.exec(
        "deleting an answer's files",
        "DELETE FROM request_answer_files WHERE tenant = $1 AND request = $2",
        args![tenant.as_str(), id.as_uuid()],
    )
    .await?;
    c.exec(
        "deleting an answer",
        "DELETE FROM request_answers WHERE tenant = $1 AND request = $2",
        args![tenant.as_str(), id.as_uuid()],
    )
    .await?;
    Ok(())
}

async fn insert_answer<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RequestId,
    at: Timestamp,
    a: &NewAnswer,
) -> Result<()> {
    c.exec(
        "keeping an answer",
        "INSERT INTO request_answers (tenant, request, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        args![tenant.as_str(), id.as_uuid(), micros(at), micros(truncate(a.expires_at))],
    )
    .await?;
    for f in &a.files {
        let size = i64::try_from(f.size).map_err(|_| StoreError::invalid("answer file", "is too large"))?;
        c.exec(
            "keeping an answer's file",
            "INSERT INTO request_answer_files (tenant, request, format, content_type, size, nonce, ciphertext) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                tenant.as_str().into(),
                id.as_uuid().into(),
                f.format.as_str().into(),
                f.content_type.as_str().into(),
                size.into(),
                crate::sql::Arg::Blob(f.nonce.to_vec()),
                crate::sql::Arg::Blob(f.ciphertext.clone()),
            ],
        )
        .await?;
    }
    Ok(())
}

fn read_answer(r: &dyn RowRead) -> Result<Answer> {
    let salt = r.opt_blob("token_salt")?;
    let hash = r.opt_blob("token_hash")?;
    let token = match (salt, hash) {
        (Some(salt), Some(hash)) => {
            Some(AnswerToken { salt: fixed("token_salt", salt)?, hash: fixed("token_hash", hash)? })
        }
        _ => None,
    };
    Ok(Answer {
        tenant: TenantId::parse(&r.text("tenant")?).map_err(|e| StoreError::corrupt("tenant", e))?,
        request: RequestId::from_uuid(r.uuid("request")?),
        created_at: ts("created_at", r.i64("created_at")?)?,
        expires_at: ts("expires_at", r.i64("expires_at")?)?,
        token,
        formats: Vec::new(),
    })
}

/// The answers under a request id (of one tenant, or of any), with their formats.
async fn answers<C: Conn>(c: &mut C, tenant: Option<&TenantId>, id: RequestId) -> Result<Vec<Answer>> {
    let mut found = c
        .rows(
            "reading answers",
            "SELECT tenant, request, created_at, expires_at, token_salt, token_hash FROM request_answers \
             WHERE request = $1 AND ($2 IS NULL OR tenant = $2) ORDER BY tenant",
            args![id.as_uuid(), tenant.map(|t| t.as_str().to_owned())],
            read_answer,
        )
        .await?;
    for a in &mut found {
        a.formats = c
            .rows(
                "reading an answer's formats",
                "SELECT format FROM request_answer_files WHERE tenant = $1 AND request = $2 ORDER BY format",
                args![a.tenant.as_str(), id.as_uuid()],
                |r| r.text("format"),
            )
            .await?;
    }
    Ok(found)
}

async fn read_answer_file<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RequestId,
    format: String,
    draft: AuditDraft,
) -> Result<Option<AnswerFile>> {
    let file = c
        .row(
            "reading an answer's file",
            "SELECT format, content_type, size, nonce, ciphertext FROM request_answer_files \
             WHERE tenant = $1 AND request = $2 AND format = $3",
            args![tenant.as_str(), id.as_uuid(), format.as_str()],
            |r| {
                Ok(AnswerFile {
                    format: r.text("format")?,
                    content_type: r.text("content_type")?,
                    size: u64::try_from(r.i64("size")?).map_err(|e| StoreError::corrupt("size", e))?,
                    nonce: fixed("nonce", r.blob("nonce")?)?,
                    ciphertext: r.blob("ciphertext")?,
                })
            },
        )
        .await?;
    let Some(file) = file else { return Ok(None) };
    let req = load_request(c, tenant, id).await?;
    let detail = format!("{{\"format\":\"{format}\"}}");
    add_history(c, tenant, id, Timestamp::now(), &draft.actor, "answer_downloaded", req.state, &detail).await?;
    append_audit(c, tenant, draft).await?;
    Ok(Some(file))
}

async fn update_request<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RequestId,
    updates: Vec<RequestUpdate>,
    draft: AuditDraft,
) -> Result<(DataRequest, AuditEntry)> {
    let mut req = load_request(c, tenant, id).await?;
    for u in updates {
        req = apply_update(c, tenant, req, u).await?;
    }
    let audit = append_audit(c, tenant, draft).await?;
    Ok((req, audit))
}

async fn issue_code<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RequestId,
    code: NewCode,
    update: RequestUpdate,
    draft: AuditDraft,
) -> Result<std::result::Result<(DataRequest, AuditEntry), CodeRefused>> {
    let req = load_request(c, tenant, id).await?;
    let now = truncate(code.issued_at);
    let hour_ago = micros(now) - 3_600_000_000;
    let recent = c
        .rows(
            "counting codes",
            "SELECT issued_at FROM request_codes WHERE tenant = $1 AND request = $2 AND issued_at > $3 \
             ORDER BY issued_at",
            args![tenant.as_str(), id.as_uuid(), hour_ago],
            |r| r.i64("issued_at"),
        )
        .await?;
    if recent.len() >= CODES_PER_HOUR as usize {
        let first = recent.first().copied().unwrap_or(hour_ago);
        return Ok(Err(CodeRefused::TooMany { retry_at: ts("issued_at", first + 3_600_000_000)? }));
    }
    c.exec(
        "superseding earlier codes",
        "UPDATE request_codes SET status = 'superseded' WHERE tenant = $1 AND request = $2 AND status = 'active'",
        args![tenant.as_str(), id.as_uuid()],
    )
    .await?;
    let expires = now
        .checked_add(jiff::SignedDuration::try_from(CODE_TTL).unwrap_or_default())
        .map_err(|e| StoreError::invalid("code expiry", e.to_string()))?;
    c.exec(
        "recording a code",
        "INSERT INTO request_codes (tenant, request, salt, hash, issued_at, expires_at, attempts_left, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active')",
        vec![
            tenant.as_str().into(),
            id.as_uuid().into(),
            crate::sql::Arg::Blob(code.salt.to_vec()),
            (&code.hash).into(),
            micros(now).into(),
            micros(expires).into(),
            i64::from(CODE_ATTEMPTS).into(),
        ],
    )
    .await?;
    let req = apply_update(c, tenant, req, update).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok(Ok((req, audit)))
}

/// Compares two hashes in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[allow(clippy::too_many_arguments)]
async fn check_code<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RequestId,
    guess: String,
    key: [u8; 32],
    now: Timestamp,
    then: Vec<RequestUpdate>,
    on_success: AuditDraft,
    on_failure: AuditDraft,
) -> Result<CodeCheck> {
    let req = load_request(c, tenant, id).await?;
    let code = c
        .row(
            "reading the active code",
            "SELECT pos, salt, hash, expires_at, attempts_left FROM request_codes \
             WHERE tenant = $1 AND request = $2 AND status = 'active' ORDER BY pos DESC LIMIT 1",
            args![tenant.as_str(), id.as_uuid()],
            |r| {
                Ok((
                    r.i64("pos")?,
                    fixed::<16>("salt", r.blob("salt")?)?,
                    r.hash("hash")?,
                    ts("expires_at", r.i64("expires_at")?)?,
                    count("attempts_left", r.i64("attempts_left")?)?,
                ))
            },
        )
        .await?;
    let Some((pos, salt, hash, expires_at, attempts_left)) = code else { return Ok(CodeCheck::NoCode) };
    if attempts_left == 0 {
        return Ok(CodeCheck::Exhausted);
    }
    if now >= expires_at {
        return Ok(CodeCheck::Expired);
    }
    if !same(&hash_code(&key, &salt, guess.trim()), &hash) {
        let left = attempts_left - 1;
        c.exec(
            "counting a wrong code",
            "UPDATE request_codes SET attempts_left = $2 WHERE pos = $1",
            args![pos, i64::from(left)],
        )
        .await?;
        let detail = format!("{{\"attempts_left\":{left}}}");
        add_history(c, tenant, id, now, "requester", "code_failed", req.state, &detail).await?;
        append_audit(c, tenant, on_failure).await?;
        return Ok(CodeCheck::Wrong { attempts_left: left });
    }
    if then.first().and_then(|u| u.event) != Some(RequestEvent::Verify) {
        return Err(StoreError::invalid("updates", "a right code must verify the request"));
    }
    c.exec("using a code", "UPDATE request_codes SET status = 'used' WHERE pos = $1", args![pos]).await?;
    let mut req = req;
    for u in then {
        req = apply_update(c, tenant, req, u).await?;
    }
    let audit = append_audit(c, tenant, on_success).await?;
    Ok(CodeCheck::Verified(Box::new(Written { value: req, audit })))
}

fn read_attachment(r: &dyn RowRead) -> Result<Attachment> {
    Ok(Attachment {
        id: r.uuid("id")?,
        request: RequestId::from_uuid(r.uuid("request")?),
        name: r.text("name")?,
        content_type: r.text("content_type")?,
        size: u64::try_from(r.i64("size")?).map_err(|e| StoreError::corrupt("size", e))?,
        nonce: fixed::<12>("nonce", r.blob("nonce")?)?,
        ciphertext: r.blob("ciphertext")?,
        added_at: ts("added_at", r.i64("added_at")?)?,
    })
}

async fn attachments<C: Conn>(c: &mut C, tenant: &TenantId, id: RequestId) -> Result<Vec<Attachment>> {
    c.rows(
        "reading proofs of identity",
        "SELECT id, request, name, content_type, size, nonce, ciphertext, added_at FROM request_attachments \
         WHERE tenant = $1 AND request = $2 ORDER BY added_at, id",
        args![tenant.as_str(), id.as_uuid()],
        read_attachment,
    )
    .await
}

async fn add_attachment<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: RequestId,
    a: NewAttachment,
    draft: AuditDraft,
) -> Result<(Attachment, AuditEntry)> {
    let req = load_request(c, tenant, id).await?;
    if !matches!(req.state, RequestState::Received | RequestState::AwaitingVerification) {
        return Err(StoreError::Conflict(format!(
            "a request that is `{}` takes no proof of identity; proof is only needed before verification",
            req.state
        )));
    }
    let n = c
        .rows(
            "counting proofs of identity",
            "SELECT id FROM request_attachments WHERE tenant = $1 AND request = $2",
            args![tenant.as_str(), id.as_uuid()],
            |r| r.uuid("id"),
        )
        .await?
        .len();
    if n >= MAX_ATTACHMENTS {
        return Err(StoreError::Conflict(format!("a request holds at most {MAX_ATTACHMENTS} proofs of identity")));
    }
    let att = Attachment {
        id: Uuid::now_v7(),
        request: id,
        name: a.name,
        content_type: a.content_type,
        size: a.size,
        nonce: a.nonce,
        ciphertext: a.ciphertext,
        added_at: truncate(a.added_at),
    };
    c.exec(
        "keeping a proof of identity",
        "INSERT INTO request_attachments (tenant, id, request, name, content_type, size, nonce, ciphertext, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        vec![
            tenant.as_str().into(),
            att.id.into(),
            id.as_uuid().into(),
            att.name.as_str().into(),
            att.content_type.as_str().into(),
            i64::try_from(att.size).unwrap_or(i64::MAX).into(),
            crate::sql::Arg::Blob(att.nonce.to_vec()),
            crate::sql::Arg::Blob(att.ciphertext.clone()),
            micros(att.added_at).into(),
        ],
    )
    .await?;
    let detail = format!("{{\"attachment\":\"{}\",\"size\":{}}}", att.id, att.size);
    add_history(c, tenant, id, att.added_at, "requester", "proof_added", req.state, &detail).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((att, audit))
}

fn read_customer(r: &dyn RowRead) -> Result<Customer> {
    Ok(Customer {
        id: CustomerId::from_uuid(r.uuid("id")?),
        tenant: TenantId::parse(&r.text("tenant")?).map_err(|e| StoreError::corrupt("tenant", e))?,
        name: r.text("name")?,
        email: r.opt_text("email")?,
        webhook_url: r.opt_text("webhook_url")?,
        // Null when the customer has no webhook.
        webhook_secret: r.blob("webhook_secret").ok(),
        created_at: ts("created_at", r.i64("created_at")?)?,
    })
}

async fn get_customer<C: Conn>(c: &mut C, tenant: &TenantId, id: CustomerId) -> Result<Customer> {
    c.row(
        "reading a customer",
        "SELECT tenant, id, name, email, webhook_url, webhook_secret, created_at FROM customers \
         WHERE tenant = $1 AND id = $2",
        args![tenant.as_str(), id.as_uuid()],
        read_customer,
    )
    .await?
    .ok_or_else(|| StoreError::not_found("customer", id))
}

async fn create_customer<C: Conn>(c: &mut C, n: NewCustomer, draft: AuditDraft) -> Result<(Customer, AuditEntry)> {
    require_tenant(c, &n.tenant).await?;
    let id = CustomerId::from_uuid(Uuid::now_v7());
    c.exec(
        "registering a customer",
        "INSERT INTO customers (tenant, id, name, email, webhook_url, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            n.tenant.as_str(),
            id.as_uuid(),
            n.name.as_str(),
            n.email.clone(),
            n.webhook_url.clone(),
            micros(truncate(n.created_at))
        ],
    )
    .await?;
    // Set apart: a null bound as a blob would not be typed for PostgreSQL.
    if let Some(secret) = &n.webhook_secret {
        c.exec(
            "registering a customer",
            "UPDATE customers SET webhook_secret = $3 WHERE tenant = $1 AND id = $2",
            vec![n.tenant.as_str().into(), id.as_uuid().into(), crate::sql::Arg::Blob(secret.clone())],
        )
        .await?;
    }
    let audit = append_audit(c, &n.tenant, draft).await?;
    Ok((get_customer(c, &n.tenant, id).await?, audit))
}

fn read_job(r: &dyn RowRead) -> Result<Job> {
    let state = r.text("state")?;
    Ok(Job {
        id: JobId(r.uuid("id")?),
        tenant: TenantId::parse(&r.text("tenant")?).map_err(|e| StoreError::corrupt("tenant", e))?,
        kind: r.text("kind")?,
        payload: r.text("payload")?,
        state: JobState::parse(&state).ok_or_else(|| StoreError::corrupt("job state", state))?,
        run_at: ts("run_at", r.i64("run_at")?)?,
        attempts: count("attempts", r.i64("attempts")?)?,
        max_attempts: count("max_attempts", r.i64("max_attempts")?)?,
        locked_by: r.opt_text("locked_by")?,
        locked_until: opt_ts("locked_until", r.opt_i64("locked_until")?)?,
        last_error: r.opt_text("last_error")?,
        created_at: ts("created_at", r.i64("created_at")?)?,
        finished_at: opt_ts("finished_at", r.opt_i64("finished_at")?)?,
    })
}

async fn claim_job<C: Conn>(c: &mut C, worker: String, now: Timestamp, lease: Duration) -> Result<Option<Job>> {
    Ok(claim_jobs(c, worker, None, now, lease, 1).await?.into_iter().next())
}

/// Leases up to `limit` due jobs (of `kind`, or of any kind), in queue order.
async fn claim_jobs<C: Conn>(
    c: &mut C,
    worker: String,
    kind: Option<String>,
    now: Timestamp,
    lease: Duration,
    limit: usize,
) -> Result<Vec<Job>> {
    let now_us = micros(truncate(now));
    let until = now_us.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
    c.exec(
        "burying jobs out of attempts",
        "UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until = NULL, finished_at = $1, \
         last_error = COALESCE(last_error, 'the worker stopped during the last attempt') \
         WHERE state = 'running' AND locked_until < $1 AND attempts >= max_attempts",
        args![now_us],
    )
    .await?;
    // `$4` is the kind, or NULL for any kind.
    let sql = match C::DIALECT {
        Dialect::Sqlite => {
            "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE ((state = 'pending' AND run_at <= $3) \
             OR (state = 'running' AND locked_until < $3)) AND ($4 IS NULL OR kind = $4) \
             ORDER BY run_at, id LIMIT $5) \
             RETURNING id, tenant, kind, payload, state, run_at, attempts, max_attempts, locked_by, locked_until, \
             last_error, created_at, finished_at"
        }
        Dialect::Postgres => {
            "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE ((state = 'pending' AND run_at <= $3) \
             OR (state = 'running' AND locked_until < $3)) AND ($4::text IS NULL OR kind = $4) \
             ORDER BY run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) \
             RETURNING id, tenant, kind, payload, state, run_at, attempts, max_attempts, locked_by, locked_until, \
             last_error, created_at, finished_at"
        }
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut jobs = c.rows("claiming jobs", sql, args![worker, until, now_us, kind, limit], read_job).await?;
    // RETURNING follows no order: the queue's is restored.
    jobs.sort_by_key(|j| (j.run_at, j.id));
    Ok(jobs)
}

async fn delete_leased_job<C: Conn>(c: &mut C, id: JobId, worker: &str) -> Result<()> {
    let n = c
        .exec(
            "finishing a job",
            "DELETE FROM jobs WHERE id = $1 AND locked_by = $2 AND state = 'running'",
            args![id.0, worker],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("job `{id}` is no longer leased to worker `{worker}`")));
    }
    Ok(())
}

async fn job_tenant<C: Conn>(c: &mut C, id: JobId) -> Result<(TenantId, u32, u32)> {
    c.row("reading a job", "SELECT tenant, attempts, max_attempts FROM jobs WHERE id = $1", args![id.0], |r| {
        Ok((
            TenantId::parse(&r.text("tenant")?).map_err(|e| StoreError::corrupt("tenant", e))?,
            count("attempts", r.i64("attempts")?)?,
            count("max_attempts", r.i64("max_attempts")?)?,
        ))
    })
    .await?
    .ok_or_else(|| StoreError::not_found("job", id))
}

async fn finish_job<C: Conn>(c: &mut C, id: JobId, worker: String, draft: AuditDraft) -> Result<AuditEntry> {
    let (tenant, _, _) = job_tenant(c, id).await?;
    delete_leased_job(c, id, &worker).await?;
    append_audit(c, &tenant, draft).await
}

async fn fail_job<C: Conn>(
    c: &mut C,
    id: JobId,
    worker: String,
    error: String,
    now: Timestamp,
    draft: AuditDraft,
) -> Result<(Retry, AuditEntry)> {
    let (tenant, attempts, max) = job_tenant(c, id).await?;
    let now = truncate(now);
    let retry = if attempts >= max {
        Retry::Dead
    } else {
        let wait = jiff::SignedDuration::try_from(backoff(attempts)).unwrap_or_default();
        Retry::At(now.checked_add(wait).map_err(|e| StoreError::invalid("retry time", e.to_string()))?)
    };
    let (state, run_at, finished) = match &retry {
        Retry::Dead => ("dead", None, Some(micros(now))),
        Retry::At(t) => ("pending", Some(micros(*t)), None),
    };
    let n = c
        .exec(
            "recording a failed attempt",
            "UPDATE jobs SET state = $3, run_at = COALESCE($4, run_at), finished_at = $5, last_error = $6, \
             locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2 AND state = 'running'",
            args![id.0, worker.as_str(), state, run_at, finished, error],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("job `{id}` is no longer leased to worker `{worker}`")));
    }
    let audit = append_audit(c, &tenant, draft).await?;
    Ok((retry, audit))
}

impl RequestStore for SqlStore {
    async fn create_request(
        &self,
        request: NewRequest,
        jobs: Vec<NewJob>,
        audit: AuditDraft,
    ) -> Result<Written<DataRequest>> {
        check_new_request(&request)?;
        jobs.iter().try_for_each(check_job)?;
        check_draft(&audit)?;
        on!(self.write, |c| create_request(c, request, jobs, audit).await.map(written))
    }

    async fn get_request(&self, tenant: &TenantId, id: RequestId) -> Result<DataRequest> {
        let tenant = tenant.clone();
        on!(self.read, |c| {
            c.row(
                "reading a request",
                "SELECT tenant, id, kind, state, source, identity, contact, subject, jurisdiction, customer, \
                 received_at, due_at, acknowledge_by, acknowledged_at, extended_due_at, extension_reason, details, \
                 response, updated_at, closed_at FROM requests WHERE tenant = $1 AND id = $2",
                args![tenant.as_str(), id.as_uuid()],
                read_request,
            )
            .await?
            .ok_or_else(|| StoreError::not_found("request", id))
        })
    }

    async fn list_requests(&self, tenant: &TenantId, filter: RequestFilter) -> Result<Vec<DataRequest>> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(StoreError::invalid("limit", format!("{limit} is not between 1 and 1000")));
        }
        let tenant = tenant.clone();
        on!(self.read, |c| {
            c.rows(
                "listing requests",
                "SELECT tenant, id, kind, state, source, identity, contact, subject, jurisdiction, customer, \
                 received_at, due_at, acknowledge_by, acknowledged_at, extended_due_at, extension_reason, details, \
                 response, updated_at, closed_at FROM requests WHERE tenant = $1 \
                 AND ($2 IS NULL OR state = $2) \
                 AND ($3 IS NULL OR (closed_at IS NULL AND COALESCE(extended_due_at, due_at) < $3)) \
                 ORDER BY COALESCE(extended_due_at, due_at), id LIMIT $4",
                args![
                    tenant.as_str(),
                    filter.state.map(|s| s.as_str().to_owned()),
                    filter.overdue_at.map(|t| micros(truncate(t))),
                    i64::from(limit)
                ],
                read_request,
            )
            .await
        })
    }

    async fn request_history(&self, tenant: &TenantId, id: RequestId) -> Result<Vec<HistoryEntry>> {
        let tenant = tenant.clone();
        on!(self.read, |c| {
            c.rows(
                "reading a request's history",
                "SELECT at, actor, event, state, detail FROM request_events WHERE tenant = $1 AND request = $2 \
                 ORDER BY pos",
                args![tenant.as_str(), id.as_uuid()],
                |r| {
                    Ok(HistoryEntry {
                        at: ts("at", r.i64("at")?)?,
                        actor: r.text("actor")?,
                        event: r.text("event")?,
                        state: parse_col(r, "state")?,
                        detail: r.text("detail")?,
                    })
                },
            )
            .await
        })
    }

    async fn update_request(
        &self,
        tenant: &TenantId,
        id: RequestId,
        updates: Vec<RequestUpdate>,
        audit: AuditDraft,
    ) -> Result<Written<DataRequest>> {
        updates.iter().try_for_each(check_update)?;
        check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| update_request(c, &tenant, id, updates, audit).await.map(written))
    }

    async fn issue_code(
        &self,
        tenant: &TenantId,
        id: RequestId,
        code: NewCode,
        update: RequestUpdate,
        audit: AuditDraft,
    ) -> Result<std::result::Result<Written<DataRequest>, CodeRefused>> {
        check_update(&update)?;
        check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| issue_code(c, &tenant, id, code, update, audit).await.map(|r| r.map(written)))
    }

    async fn check_code(
        &self,
        tenant: &TenantId,
        id: RequestId,
        guess: &str,
        key: &[u8; 32],
        now: Timestamp,
        then: Vec<RequestUpdate>,
        on_success: AuditDraft,
        on_failure: AuditDraft,
    ) -> Result<CodeCheck> {
        then.iter().try_for_each(check_update)?;
        check_draft(&on_success)?;
        check_draft(&on_failure)?;
        if guess.len() > 64 {
            return Err(StoreError::invalid("code", "is longer than 64 characters"));
        }
        let (tenant, guess, key) = (tenant.clone(), guess.to_owned(), *key);
        on!(self.write, |c| check_code(c, &tenant, id, guess, key, now, then, on_success, on_failure).await)
    }

    async fn add_attachment(
        &self,
        tenant: &TenantId,
        id: RequestId,
        attachment: NewAttachment,
        audit: AuditDraft,
    ) -> Result<Written<Attachment>> {
        check_attachment(&attachment)?;
        check_draft(&audit)?;
        let tenant = tenant.clone();
        on!(self.write, |c| add_attachment(c, &tenant, id, attachment, audit).await.map(written))
    }

    async fn attachments(&self, tenant: &TenantId, id: RequestId) -> Result<Vec<Attachment>> {
        let tenant = tenant.clone();
        on!(self.read, |c| attachments(c, &tenant, id).await)
    }

    async fn answer(&self, tenant: &TenantId, id: RequestId) -> Result<Option<Answer>> {
        let tenant = tenant.clone();
        on!(self.read, |c| Ok(answers(c, Some(&tenant), id).await?.into_iter().next()))
    }

    async fn find_answers(&self, id: RequestId) -> Result<Vec<Answer>> {
        on!(self.read, |c| answers(c, None, id).await)
    }

    async fn read_answer_file(
        &self,
        tenant: &TenantId,
        id: RequestId,
        format: &str,
        audit: AuditDraft,
    ) -> Result<Option<AnswerFile>> {
        check_format(format)?;
        check_draft(&audit)?;
        let (tenant, format) = (tenant.clone(), format.to_owned());
        on!(self.write, |c| read_answer_file(c, &tenant, id, format, audit).await)
    }

    async fn create_customer(&self, customer: NewCustomer, audit: AuditDraft) -> Result<Written<Customer>> {
        check_customer(&customer)?;
        check_draft(&audit)?;
        on!(self.write, |c| create_customer(c, customer, audit).await.map(written))
    }

    async fn get_customer(&self, tenant: &TenantId, id: CustomerId) -> Result<Customer> {
        let tenant = tenant.clone();
        on!(self.read, |c| get_customer(c, &tenant, id).await)
    }

    async fn list_customers(&self, tenant: &TenantId) -> Result<Vec<Customer>> {
        let tenant = tenant.clone();
        on!(self.read, |c| {
            c.rows(
                "listing customers",
                "SELECT tenant, id, name, email, webhook_url, webhook_secret, created_at FROM customers \
                 WHERE tenant = $1 ORDER BY created_at, id",
                args![tenant.as_str()],
                read_customer,
            )
            .await
        })
    }

    async fn enqueue_job(&self, job: NewJob, audit: AuditDraft) -> Result<Written<Job>> {
        check_job(&job)?;
        check_draft(&audit)?;
        on!(self.write, |c| {
            require_tenant(c, &job.tenant).await?;
            let j = insert_job(c, &job, Timestamp::now()).await?;
            let a = append_audit(c, &job.tenant, audit).await?;
            Ok(Written { value: j, audit: a })
        })
    }

    async fn claim_job(&self, worker: &str, now: Timestamp, lease: Duration) -> Result<Option<Job>> {
        check_line("worker", worker, 200)?;
        let worker = worker.to_owned();
        on!(self.write, |c| claim_job(c, worker, now, lease).await)
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        kind: &str,
        now: Timestamp,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<Job>> {
        check_line("worker", worker, 200)?;
        check_line("job kind", kind, 200)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (worker, kind) = (worker.to_owned(), kind.to_owned());
        on!(self.write, |c| claim_jobs(c, worker, Some(kind), now, lease, limit).await)
    }

    async fn finish_job(&self, id: JobId, worker: &str, audit: AuditDraft) -> Result<AuditEntry> {
        check_draft(&audit)?;
        let worker = worker.to_owned();
        on!(self.write, |c| finish_job(c, id, worker, audit).await)
    }

    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        now: Timestamp,
        audit: AuditDraft,
    ) -> Result<Written<Retry>> {
        check_draft(&audit)?;
        let error: String = error.chars().take(2000).collect();
        let worker = worker.to_owned();
        on!(self.write, |c| fail_job(c, id, worker, error, now, audit).await.map(written))
    }

    async fn list_jobs(&self, tenant: &TenantId, state: Option<JobState>, limit: u32) -> Result<Vec<Job>> {
        if !(1..=1000).contains(&limit) {
            return Err(StoreError::invalid("limit", format!("{limit} is not between 1 and 1000")));
        }
        let tenant = tenant.clone();
        on!(self.read, |c| {
            c.rows(
                "listing jobs",
                "SELECT id, tenant, kind, payload, state, run_at, attempts, max_attempts, locked_by, locked_until, \
                 last_error, created_at, finished_at FROM jobs WHERE tenant = $1 AND ($2 IS NULL OR state = $2) \
                 ORDER BY run_at, id LIMIT $3",
                args![tenant.as_str(), state.map(|s| s.as_str().to_owned()), i64::from(limit)],
                read_job,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let secs: Vec<u64> = (1..=12).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]);
        assert_eq!(backoff(0).as_secs(), 5);
        assert_eq!(backoff(u32::MAX).as_secs(), 3600);
    }

    #[test]
    fn codes_hash_with_key_and_salt() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let (s1, s2) = ([1u8; 16], [2u8; 16]);
        let h = hash_code(&k1, &s1, "123456");
        assert_eq!(h, hash_code(&k1, &s1, "123456"));
        assert_ne!(h, hash_code(&k2, &s1, "123456"));
        assert_ne!(h, hash_code(&k1, &s2, "123456"));
        assert_ne!(h, hash_code(&k1, &s1, "123457"));
        assert!(same(&h, &h) && !same(&h, &hash_code(&k1, &s1, "000000")));
    }
}
