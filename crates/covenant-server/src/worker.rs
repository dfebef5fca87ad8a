//! The worker: takes jobs from the store's queue and carries them out.
//!
//! - `request.fulfil`: runs the fulfillers ([`crate::fulfil`]) for a queued request, completes
//!   it with the merged answer, emails the answer and, in processor mode, informs the customer.
//! - `mail.send`: sends an email (acknowledgements, extension notices, answers, referrals).
//! - `answer.expire`: deletes the downloadable answer of an access or export request when it
//!   expires ([`crate::answers`]).
//! - `customer.notify`: tells a customer (a controller we process for) of a referral or a
//!   completed request: a webhook POST signed with HMAC-SHA256 of the body under the customer's
//!   secret (`Covenant-Signature: sha256=<hex>`), or an email.
//!
//! A worker that claims a `request.fulfil` job also claims up to [`WorkerOptions::batch`]` - 1`
//! more that are due, and carries them out together: each system fulfils them at once
//! ([`Fulfiller::fulfil_many`]; the application databases look the people up together and write
//! in one transaction per database), while each request is still started, journaled, answered,
//! audited and, if it fails, retried as its own.
//!
//! A failed attempt is noted in the request's history and retried with backoff; a job out of
//! attempts is kept as dead (`GET /v1/jobs?state=dead`). Several workers (threads or processes)
//! may run at once: the store leases each job to one of them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use covenant_core::audit::AuditDraft;
use covenant_core::{CustomerId, RequestEvent, RequestId, RequestKind, RequestState};
use covenant_store::{DataRequest, Job, NewJob, RequestSource, RequestStore as _, RequestUpdate, Retry, StoreError};
use futures_util::FutureExt as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::answers::ANSWER_TTL;
use crate::fulfil::{Format, FulfilError, FulfilRequest, Fulfiller, Outcome, chain};
use crate::mail::{Email, MailError, Mailer, Transport, texts};
use crate::secrets::{RequestKeys, SealError, sign_body};
use crate::state::{AppState, Shared};

pub const FULFIL: &str = "request.fulfil";
pub const MAIL: &str = "mail.send";
pub const NOTIFY: &str = "customer.notify";
pub const EXPIRE: &str = "answer.expire";

/// Attempts of each job before it is dead.
pub const MAX_ATTEMPTS: u32 = 8;

/// What the request machinery shares: mail, keys, fulfillers, the worker's wake-up and the
/// webhook client.
pub struct RequestsCtx {
    pub mailer: Mailer,
    pub keys: RequestKeys,
    /// Called after the built-in fulfiller, in order.
    pub fulfillers: Vec<Arc<dyn Fulfiller>>,
    /// Woken when a job is enqueued, so a worker need not wait for its next poll.
    pub wake: Notify,
    http: Result<reqwest::Client, String>,
}

impl std::fmt::Debug for RequestsCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestsCtx").field("mailer", &self.mailer).finish_non_exhaustive()
    }
}

impl RequestsCtx {
    /// Console mail, keys derived from the server secret, no extra fulfillers.
    pub fn new(secret: &[u8]) -> RequestsCtx {
        // One TLS provider for webhooks (and lettre's SMTP): ring. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string());
        let mailer = match Mailer::new(Transport::Console, "privacy@localhost") {
            Ok(m) => m,
            Err(e) => unreachable!("a fixed, valid address: {e}"),
        };
        RequestsCtx { mailer, keys: RequestKeys::new(secret), fulfillers: Vec::new(), wake: Notify::new(), http }
    }
}

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Names this worker in leases and the audit log.
    pub name: String,
    /// How long to sleep when the queue is empty (a new job wakes it sooner).
    pub poll: Duration,
    /// How long a job is leased; a worker that dies loses its jobs after this.
    pub lease: Duration,
    /// How many request fulfilments the worker claims and carries out together (at least 1):
    /// their people are looked up together and their writes share one transaction per
    /// application database, each request still journaled, answered and audited as its own.
    pub batch: usize,
    /// How many jobs (or batches of fulfilments) the worker carries out at the same time (at
    /// least 1): while one batch's requests are started or completed in Covenant's store,
    /// another's are carried out in the application databases.
    pub lanes: usize,
}

/// Request fulfilments a worker carries out together unless told otherwise.
pub const DEFAULT_BATCH: usize = 50;

/// Jobs a worker carries out at the same time unless told otherwise.
pub const DEFAULT_LANES: usize = 2;

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            name: format!("worker-{}", std::process::id()),
            poll: Duration::from_secs(2),
            lease: Duration::from_secs(300),
            batch: DEFAULT_BATCH,
            lanes: DEFAULT_LANES,
        }
    }
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the job's payload is unreadable: {0}")]
    Payload(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Fulfil(#[from] FulfilError),
    #[error("webhook: {0}")]
    Webhook(String),
    #[error(transparent)]
    Seal(#[from] SealError),
}

#[derive(Serialize, Deserialize)]
pub struct FulfilJob {
    pub request: String,
}

#[derive(Serialize, Deserialize)]
pub struct MailJob {
    pub email: Email,
    /// The request it is about; with `acknowledges`, sending it acknowledges the request.
    #[serde(default)]
    pub request: Option<String>,
    #[serde(default)]
    pub acknowledges: bool,
    /// The answer email of a request whose answer can be downloaded: the links are added when it
    /// is sent, with a token minted then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerLinks>,
}

/// The downloadable answer an email links to.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AnswerLinks {
    /// `html`, `json`, `csv`: the files kept.
    pub formats: Vec<String>,
    pub expires_at: String,
}

#[derive(Serialize, Deserialize)]
pub struct ExpireJob {
    pub request: String,
}

#[derive(Serialize, Deserialize)]
pub struct NotifyJob {
    pub request: String,
    pub customer: String,
    /// `request.referred`, `request.completed`.
    pub event: String,
    /// A customer's instruction (promise P7) whose answer can be downloaded: the links are
    /// added to the notification when it is sent, with a token minted then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerLinks>,
}

/// A job for the queue, due now.
pub fn job(tenant: &covenant_core::TenantId, kind: &str, payload: &impl Serialize) -> NewJob {
    NewJob {
        tenant: tenant.clone(),
        kind: kind.to_owned(),
        payload: serde_json::to_string(payload).unwrap_or_else(|_| "{}".to_owned()),
        run_at: Timestamp::now(),
        max_attempts: MAX_ATTEMPTS,
    }
}

/// Runs a worker until `shutdown` resolves, `opts.lanes` jobs at a time; the jobs in hand are
/// finished first.
pub async fn run(state: Shared, opts: WorkerOptions, shutdown: impl Future<Output = ()>) {
    let shutdown = shutdown.shared();
    futures_util::future::join_all((0..opts.lanes.max(1)).map(|_| lane(&state, &opts, shutdown.clone()))).await;
}

/// Takes jobs one after the other until no job is due, in `opts.lanes` lanes at the same time,
/// as the running worker would (for benchmarks and tests; the jobs' leases keep the lanes
/// apart, as they keep workers of several processes apart).
pub async fn drain(state: &Shared, opts: &WorkerOptions) -> Result<(), StoreError> {
    let lanes = (0..opts.lanes.max(1)).map(|_| async {
        while step(state, opts).await? {}
        Ok::<_, StoreError>(())
    });
    futures_util::future::try_join_all(lanes).await.map(|_| ())
}

/// One of a worker's lanes: a job after the other until `shutdown`.
async fn lane(state: &Shared, opts: &WorkerOptions, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        if (&mut shutdown).now_or_never().is_some() {
            break;
        }
        let worked = match step(state, opts).await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %crate::error::cause_chain(&e), "the job queue failed");
                false
            }
        };
        if !worked {
            tokio::select! {
                () = &mut shutdown => break,
                () = state.requests.wake.notified() => {}
                () = tokio::time::sleep(opts.poll) => {}
            }
        }
    }
}

/// Spawns a worker on the runtime.
pub fn spawn(
    state: Shared,
    opts: WorkerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state, opts, shutdown))
}

fn worker_draft(opts: &WorkerOptions, action: &str, job: &Job, detail: Value) -> AuditDraft {
    AuditDraft::new(&format!("worker:{}", opts.name), action, &format!("job:{}", job.id), detail.to_string())
}

/// Takes one due job and carries it out; `false` when there was none. A request fulfilment is
/// carried out together with up to `batch - 1` more that are due.
pub async fn step(state: &Shared, opts: &WorkerOptions) -> Result<bool, StoreError> {
    let Some(job) = state.store.claim_job(&opts.name, Timestamp::now(), opts.lease).await? else {
        return Ok(false);
    };
    if job.kind == FULFIL && opts.batch > 1 {
        let more = state.store.claim_jobs(&opts.name, FULFIL, Timestamp::now(), opts.lease, opts.batch - 1).await;
        let mut jobs = vec![job];
        match more {
            Ok(more) => jobs.extend(more),
            // The job in hand is carried out anyway.
            Err(e) => tracing::warn!(error = %crate::error::cause_chain(&e), "could not claim more fulfilments"),
        }
        fulfil_batch(state, opts, &jobs).await?;
        return Ok(true);
    }
    let result = match job.kind.as_str() {
        FULFIL => fulfil(state, opts, &job).await,
        MAIL => mail(state, opts, &job).await,
        NOTIFY => notify(state, opts, &job).await,
        EXPIRE => expire(state, opts, &job).await,
        other => Err(JobError::Payload(format!("unknown job kind `{other}`"))),
    };
    if let Err(e) = result {
        failed(state, opts, &job, e).await?;
    }
    Ok(true)
}

/// Records a failed attempt of `job`, and notes it in the history of its request.
async fn failed(state: &Shared, opts: &WorkerOptions, job: &Job, e: JobError) -> Result<(), StoreError> {
    let error = crate::error::cause_chain(&e);
    tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, %error, "a job failed");
    let detail = json!({"kind": job.kind, "attempt": job.attempts, "error": error});
    let w = state
        .store
        .fail_job(job.id, &opts.name, &error, Timestamp::now(), worker_draft(opts, "job.failed", job, detail))
        .await?;
    if let Some(id) = request_of(job) {
        let (event, note) = match (&job.kind[..], &w.value) {
            (FULFIL, _) => (Some(RequestEvent::Requeue), "attempt_failed"),
            (_, Retry::Dead) => (None, "delivery_abandoned"),
            _ => (None, "delivery_failed"),
        };
        let retry = match w.value {
            Retry::At(t) => Some(t.to_string()),
            Retry::Dead => None,
        };
        let detail = json!({"job": job.kind, "attempt": job.attempts, "error": error, "retry_at": retry});
        let mut u = RequestUpdate::note(note, &format!("worker:{}", opts.name), Timestamp::now(), detail.to_string());
        u.event = event;
        let audit = worker_draft(opts, "request.attempt_failed", job, json!({"request": id.to_string()}));
        // The request may have moved on (withdrawn meanwhile): the failure is in the job anyway.
        if let Err(e) = state.store.update_request(&job.tenant, id, vec![u], audit).await {
            tracing::warn!(error = %e, "could not note a failed attempt in the request's history");
        }
    }
    Ok(())
}

fn request_of(job: &Job) -> Option<RequestId> {
    let v: Value = serde_json::from_str(&job.payload).ok()?;
    RequestId::parse(v["request"].as_str()?).ok()
}

fn payload<T: for<'de> Deserialize<'de>>(job: &Job) -> Result<T, JobError> {
    serde_json::from_str(&job.payload).map_err(|e| JobError::Payload(e.to_string()))
}

fn parse_request_id(s: &str) -> Result<RequestId, JobError> {
    RequestId::parse(s).map_err(|e| JobError::Payload(e.to_string()))
}

/// The answer, as stored and sent.
fn response_json(req: &DataRequest, outcome: &Outcome, at: Timestamp) -> Value {
    json!({
        "kind": req.kind,
        "completed_at": at.to_string(),
        "actions": outcome.actions,
        "kept": outcome.kept,
        "report": outcome.report,
    })
}

/// The answer as stored, within the store's limit ([`covenant_store::MAX_JSON_BYTES`]): when
/// the whole is too long (a person with thousands of rows), a system whose data is in the
/// answer's files keeps only a note saying so, and if that is not enough the report is
/// replaced by a note. The files, the email and the counts are unchanged.
fn fitted_response(mut response: Value, outcome: &Outcome) -> Value {
    let fits = |r: &Value| r.to_string().len() <= covenant_store::MAX_JSON_BYTES;
    if fits(&response) {
        return response;
    }
    if let Some(map) = response["report"].as_object_mut() {
        for d in &outcome.documents {
            if let Some(r) = map.get_mut(&d.system) {
                *r = json!({"in_answer_files": true, "note": "too long to keep here: the data is in the answer's files"});
            }
        }
    }
    if !fits(&response) {
        response["report"] = json!({"too_long": true, "note": "the report is too long to keep here"});
    }
    response
}

/// The answer in words, for the email (promise T5: the action taken, and what was kept and why).
pub fn summary(kind: RequestKind, outcome: &Outcome) -> String {
    let mut s = String::new();
    if kind == RequestKind::Confirm {
        let held = outcome
            .report
            .as_ref()
            .map(|r| r.as_object().map(|m| m.values().any(|v| v["held"] == true)).unwrap_or(false))
            .unwrap_or(false);
        s.push_str(if held {
            "Yes: we hold personal data about you.\n"
        } else {
            "No: we hold no personal data about you.\n"
        });
    }
    if outcome.actions.is_empty() {
        s.push_str("What we did: nothing needed changing.\n");
    } else {
        s.push_str("What we did:\n");
        for a in &outcome.actions {
            let place = match &a.table {
                Some(t) => format!("{} ({t})", a.system),
                None => a.system.clone(),
            };
            s.push_str(&format!("  - {}: {} record(s), in {place}\n", a.action.replace('_', " "), a.count));
        }
    }
    if !outcome.kept.is_empty() {
        s.push_str("\nWhat we kept, and why:\n");
        for k in &outcome.kept {
            s.push_str(&format!("  - {}: {}\n", k.what, k.basis));
        }
    }
    if let Some(report) = &outcome.report
        && matches!(kind, RequestKind::Access | RequestKind::Export)
    {
        // What a system rendered as files is in the files, not in the email.
        let mut shown = report.clone();
        if let Some(map) = shown.as_object_mut() {
            map.retain(|system, _| !outcome.documents.iter().any(|d| &d.system == system));
        }
        if !outcome.documents.is_empty() {
            s.push_str(
                "\nYour data held in our application databases, and why we hold it, for how long and who receives \
                 it, is in the files at the links above.\n",
            );
        }
        if shown.as_object().is_none_or(|m| !m.is_empty()) {
            s.push_str("\nYour data, in a structured, machine-readable format (JSON):\n\n");
            s.push_str(&serde_json::to_string_pretty(&shown).unwrap_or_default());
            s.push('\n');
        }
    }
    s
}

async fn fulfil(state: &Shared, opts: &WorkerOptions, job: &Job) -> Result<(), JobError> {
    let Some((req, freq)) = begin(state, opts, job).await? else { return Ok(()) };
    let mut outcome = Outcome::default();
    for f in chain(state) {
        let o = f.fulfil(&freq).await?;
        outcome.merge(f.name(), o);
    }
    complete(state, opts, job, &req, &outcome).await
}

/// Several fulfilments together: each system of the chain fulfils every request still standing
/// at once ([`Fulfiller::fulfil_many`]); a request one system fails drops out, and its job fails
/// alone, as it would have on its own.
async fn fulfil_batch(state: &Shared, opts: &WorkerOptions, jobs: &[Job]) -> Result<(), StoreError> {
    // The jobs' store writes are made concurrently: the store commits them together.
    let begun = futures_util::future::join_all(jobs.iter().map(|job| begin(state, opts, job))).await;
    let mut live: Vec<(&Job, DataRequest, FulfilRequest)> = Vec::new();
    let mut failures = Vec::new();
    for (job, b) in jobs.iter().zip(begun) {
        match b {
            Ok(Some((req, freq))) => live.push((job, req, freq)),
            Ok(None) => {}
            Err(e) => failures.push((job, e)),
        }
    }
    let mut results: Vec<Result<Outcome, JobError>> = live.iter().map(|_| Ok(Outcome::default())).collect();
    for f in chain(state) {
        let standing: Vec<usize> = (0..live.len()).filter(|i| results[*i].is_ok()).collect();
        if standing.is_empty() {
            break;
        }
        let reqs: Vec<FulfilRequest> = standing.iter().map(|i| live[*i].2.clone()).collect();
        let mut done = f.fulfil_many(&reqs).await;
        if done.len() != reqs.len() {
            let e = format!("gave {} results for {} requests", done.len(), reqs.len());
            done = reqs.iter().map(|_| Err(FulfilError::new(f.name(), &e))).collect();
        }
        for (i, d) in standing.into_iter().zip(done) {
            match (d, &mut results[i]) {
                (Ok(o), Ok(outcome)) => outcome.merge(f.name(), o),
                (Err(e), r) => *r = Err(e.into()),
                (Ok(_), Err(_)) => {}
            }
        }
    }
    let completed =
        futures_util::future::join_all(live.iter().zip(results).map(|((job, req, _), result)| async move {
            let result = match result {
                Ok(outcome) => complete(state, opts, job, req, &outcome).await,
                Err(e) => Err(e),
            };
            result.err().map(|e| (*job, e))
        }))
        .await;
    failures.extend(completed.into_iter().flatten());
    let noted = futures_util::future::join_all(failures.into_iter().map(|(job, e)| failed(state, opts, job, e))).await;
    noted.into_iter().collect()
}

/// Starts a fulfilment job's request: `None` when there is nothing to do (withdrawn or
/// rejected meanwhile; the job is finished).
async fn begin(
    state: &Shared,
    opts: &WorkerOptions,
    job: &Job,
) -> Result<Option<(DataRequest, FulfilRequest)>, JobError> {
    let p: FulfilJob = payload(job)?;
    let id = parse_request_id(&p.request)?;
    let actor = format!("worker:{}", opts.name);
    let mut req = state.store.get_request(&job.tenant, id).await?;
    if !matches!(req.state, RequestState::Queued | RequestState::InProgress) {
        // Withdrawn or rejected meanwhile: nothing to do.
        let audit = worker_draft(opts, "job.done", job, json!({"skipped": req.state}));
        state.store.finish_job(job.id, &opts.name, audit).await?;
        return Ok(None);
    }
    if req.state == RequestState::Queued {
        let u = RequestUpdate::event(
            RequestEvent::Start,
            &actor,
            Timestamp::now(),
            json!({"attempt": job.attempts}).to_string(),
        );
        let audit = worker_draft(opts, "request.start", job, json!({"request": id.to_string()}));
        req = state.store.update_request(&job.tenant, id, vec![u], audit).await?.value;
    }
    let details: Value = serde_json::from_str(&req.details).unwrap_or_else(|_| json!({}));
    let freq = FulfilRequest {
        tenant: req.tenant.clone(),
        id,
        kind: req.kind,
        identity: req.identity.clone(),
        subject: req.subject,
        jurisdiction: req.jurisdiction.clone(),
        customer: req.customer,
        instructed_by_controller: req.source == RequestSource::Controller,
        details,
    };
    Ok(Some((req, freq)))
}

/// Completes a fulfilled request: its response, the answer's files, the emails and
/// notifications it owes, and the job finished, in one store transaction.
async fn complete(
    state: &Shared,
    opts: &WorkerOptions,
    job: &Job,
    req: &DataRequest,
    outcome: &Outcome,
) -> Result<(), JobError> {
    let (id, actor) = (req.id, format!("worker:{}", opts.name));
    let now = Timestamp::now();
    let response = fitted_response(response_json(req, outcome, now), outcome);
    // promises W6, P6: the answer as files to download, kept encrypted until it expires.
    let kept = match (&outcome.documents[..], req.kind) {
        ([_, ..], RequestKind::Access | RequestKind::Export) => {
            let expires_at = now.checked_add(ANSWER_TTL).map_err(|e| JobError::Payload(e.to_string()))?;
            Some((crate::answers::seal(&state.requests.keys, id, &outcome.documents, expires_at)?, expires_at))
        }
        _ => None,
    };
    let mut detail = json!({"actions": outcome.actions.len(), "kept": outcome.kept.len()});
    if let Some((answer, expires_at)) = &kept {
        let formats: Vec<&str> = answer.files.iter().map(|f| f.format.as_str()).collect();
        detail["answer"] = json!({"formats": formats, "expires_at": expires_at.to_string()});
    }
    let mut done = RequestUpdate::event(RequestEvent::Complete, &actor, now, detail.to_string());
    done.response = Some(response.to_string());
    done.finish_job = Some((job.id, opts.name.clone()));
    let controller = state.policy.policy.controller_name().to_owned();
    let links = kept.as_ref().map(|(a, expires_at)| AnswerLinks {
        formats: a.files.iter().map(|f| f.format.clone()).collect(),
        expires_at: expires_at.to_string(),
    });
    if req.source == RequestSource::Requester
        && let Some(to) = &req.contact
    {
        let email = texts::response(to, &controller, req.kind, &id.to_string(), &summary(req.kind, outcome));
        done.enqueue.push(self::job(
            &req.tenant,
            MAIL,
            &MailJob { email, request: Some(id.to_string()), acknowledges: false, answer: links.clone() },
        ));
    }
    if let Some((answer, expires_at)) = kept {
        let mut expiry = self::job(&req.tenant, EXPIRE, &ExpireJob { request: id.to_string() });
        expiry.run_at = expires_at;
        done.enqueue.push(expiry);
        done.answer = Some(answer);
    }
    // promise W9 (handle and inform the controller) and P7 (a controller's instruction).
    let inform = req.source == RequestSource::Controller || details_flag(req, "inform_controller");
    if let (Some(customer), true) = (req.customer, inform) {
        // promise P7: the customer that instructed access or export downloads the answer; a
        // person's own request keeps its link to the person alone.
        let answer = if req.source == RequestSource::Controller { links } else { None };
        done.enqueue.push(notify_job(req, customer, "request.completed", answer));
    }
    let audit = worker_draft(opts, "request.complete", job, json!({"request": id.to_string(), "kind": req.kind}));
    state.store.update_request(&job.tenant, id, vec![done], audit).await?;
    state.requests.wake.notify_one();
    Ok(())
}

fn details_flag(req: &DataRequest, name: &str) -> bool {
    serde_json::from_str::<Value>(&req.details).ok().and_then(|v| v[name].as_bool()).unwrap_or(false)
}

/// A `mail.send` job about a request.
pub fn job_for_mail(req: &DataRequest, email: Email, acknowledges: bool) -> NewJob {
    job(&req.tenant, MAIL, &MailJob { email, request: Some(req.id.to_string()), acknowledges, answer: None })
}

/// A `customer.notify` job; `answer`: the download links to give (a customer's instruction).
pub fn notify_job(req: &DataRequest, customer: CustomerId, event: &str, answer: Option<AnswerLinks>) -> NewJob {
    job(
        &req.tenant,
        NOTIFY,
        &NotifyJob { request: req.id.to_string(), customer: customer.to_string(), event: event.to_owned(), answer },
    )
}

async fn mail(state: &Shared, opts: &WorkerOptions, job: &Job) -> Result<(), JobError> {
    let p: MailJob = payload(job)?;
    let request = p.request.as_deref().map(parse_request_id).transpose()?;
    let mut email = p.email;
    if let (Some(links), Some(id)) = (&p.answer, request) {
        email.body = texts::with_section(&email.body, &answer_links(state, opts, job, id, links).await?);
    }
    state.requests.mailer.send(&email).await?;
    let now = Timestamp::now();
    match request {
        Some(id) => {
            let (note, ack) = if p.acknowledges { ("acknowledged", Some(now)) } else { ("email_sent", None) };
            let detail = json!({"subject": email.subject}).to_string();
            let mut u = RequestUpdate::note(note, &format!("worker:{}", opts.name), now, detail);
            u.acknowledged_at = ack;
            u.finish_job = Some((job.id, opts.name.clone()));
            let audit = worker_draft(opts, "request.email", job, json!({"request": id.to_string(), "note": note}));
            state.store.update_request(&job.tenant, id, vec![u], audit).await?;
        }
        None => {
            state.store.finish_job(job.id, &opts.name, worker_draft(opts, "job.done", job, json!({}))).await?;
        }
    }
    Ok(())
}

/// Mints the token of an answer's download links, keeps its hash (replacing the token of an
/// earlier attempt, whose email may not have gone), and writes the paragraph with the links.
async fn answer_links(
    state: &Shared,
    opts: &WorkerOptions,
    job: &Job,
    id: RequestId,
    links: &AnswerLinks,
) -> Result<String, JobError> {
    let (urls, until) = answer_urls(state, opts, job, id, links).await?;
    let urls: Vec<(&str, String)> = urls.into_iter().map(|(f, u)| (f.label(), u)).collect();
    Ok(texts::downloads(&urls, until))
}

/// Mints the token of an answer's download links and keeps its hash (replacing the token of an
/// earlier attempt); returns each format's link and when they stop working.
async fn answer_urls(
    state: &Shared,
    opts: &WorkerOptions,
    job: &Job,
    id: RequestId,
    links: &AnswerLinks,
) -> Result<(Vec<(Format, String)>, Timestamp), JobError> {
    let until: Timestamp = links.expires_at.parse().map_err(|e: jiff::Error| JobError::Payload(e.to_string()))?;
    let (token, kept) = crate::answers::mint(&state.requests.keys)?;
    let detail = json!({"formats": links.formats, "expires_at": links.expires_at});
    let mut u = RequestUpdate::note(
        "answer_link_issued",
        &format!("worker:{}", opts.name),
        Timestamp::now(),
        detail.to_string(),
    );
    u.answer_token = Some(kept);
    let audit = worker_draft(opts, "request.answer.link", job, json!({"request": id.to_string()}));
    state.store.update_request(&job.tenant, id, vec![u], audit).await?;
    let formats: Vec<Format> = links.formats.iter().filter_map(|f| Format::parse(f)).collect();
    let urls = Format::ALL
        .into_iter()
        .filter(|f| formats.contains(f))
        .map(|f| (f, crate::answers::link(&state.public_url, id, &token, f)))
        .collect();
    Ok((urls, until))
}

/// Deletes an expired answer, files and all.
async fn expire(state: &Shared, opts: &WorkerOptions, job: &Job) -> Result<(), JobError> {
    let p: ExpireJob = payload(job)?;
    let id = parse_request_id(&p.request)?;
    let mut u = RequestUpdate::note(
        "answer_deleted",
        &format!("worker:{}", opts.name),
        Timestamp::now(),
        json!({"reason": "expired"}).to_string(),
    );
    u.delete_answer = true;
    u.finish_job = Some((job.id, opts.name.clone()));
    let audit = worker_draft(opts, "request.answer.expire", job, json!({"request": id.to_string()}));
    state.store.update_request(&job.tenant, id, vec![u], audit).await?;
    Ok(())
}

/// The webhook body for a request.
fn webhook_body(state: &AppState, req: &DataRequest, event: &str) -> Value {
    let details: Value = serde_json::from_str(&req.details).unwrap_or_else(|_| json!({}));
    let response: Value = req.response.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or(Value::Null);
    json!({
        "event": event,
        "sent_at": Timestamp::now().to_string(),
        "tenant": req.tenant.as_str(),
        "processor": state.policy.policy.controller_name(),
        "request": {
            "id": req.id.to_string(),
            "kind": req.kind,
            "state": req.state,
            "identity": {"kind": req.identity.kind_name(), "value": req.identity.value()},
            "received_at": req.received_at.to_string(),
            "due_at": req.current_due().to_string(),
            "details": details,
            "response": response,
        }
    })
}

async fn notify(state: &Shared, opts: &WorkerOptions, job: &Job) -> Result<(), JobError> {
    let p: NotifyJob = payload(job)?;
    let id = parse_request_id(&p.request)?;
    let cid = CustomerId::parse(&p.customer).map_err(|e| JobError::Payload(e.to_string()))?;
    let req = state.store.get_request(&job.tenant, id).await?;
    let customer = state.store.get_customer(&job.tenant, cid).await?;
    let mut body = webhook_body(state, &req, &p.event);
    if let (Some(links), RequestSource::Controller) = (&p.answer, req.source) {
        let (urls, until) = answer_urls(state, opts, job, id, links).await?;
        let urls: serde_json::Map<String, Value> =
            urls.into_iter().map(|(f, u)| (f.as_str().to_owned(), Value::String(u))).collect();
        body["request"]["answer"] = json!({"links": urls, "expires_at": until.to_string()});
    }
    let via = match (&customer.webhook_url, &customer.webhook_secret, &customer.email) {
        (Some(url), Some(sealed), _) => {
            let secret = state.requests.keys.open_value(&crate::secrets::webhook_context(&job.tenant), sealed)?;
            let bytes = serde_json::to_vec(&body).map_err(|e| JobError::Payload(e.to_string()))?;
            let client = state.requests.http.as_ref().map_err(|e| JobError::Webhook(e.clone()))?;
            let res = client
                .post(url)
                .header("content-type", "application/json")
                .header("covenant-event", &p.event)
                .header("covenant-signature", format!("sha256={}", sign_body(&secret, &bytes)))
                .body(bytes)
                .send()
                .await
                .map_err(|e| JobError::Webhook(crate::error::cause_chain(&e)))?;
            if !res.status().is_success() {
                return Err(JobError::Webhook(format!("the customer's endpoint answered {}", res.status())));
            }
            "webhook"
        }
        (_, _, Some(email)) => {
            let controller = state.policy.policy.controller_name();
            let subject = match p.event.as_str() {
                "request.referred" => format!("A data-subject request for you to answer ({id})"),
                _ => format!("A data-subject request was carried out ({id})"),
            };
            let text = format!(
                "As your processor, {controller} received or carried out the request below.\n\n{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
            state.requests.mailer.send(&texts::to_customer(email, controller, &subject, &text)).await?;
            "email"
        }
        _ => return Err(JobError::Webhook("the customer has no webhook and no email address".to_owned())),
    };
    let detail = json!({"event": p.event, "customer": cid.to_string(), "via": via, "attempt": job.attempts});
    let mut u = RequestUpdate::note(
        "customer_notified",
        &format!("worker:{}", opts.name),
        Timestamp::now(),
        detail.to_string(),
    );
    u.finish_job = Some((job.id, opts.name.clone()));
    let audit = worker_draft(opts, "request.customer_notified", job, json!({"request": id.to_string(), "via": via}));
    state.store.update_request(&job.tenant, id, vec![u], audit).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fulfil::Document;

    #[test]
    fn what_was_rendered_as_files_is_left_out_of_the_email() {
        let mut o = Outcome::default();
        o.merge("covenant", Outcome { report: Some(json!({"subject": {"id": "s-1"}})), ..Outcome::default() });
        let files = Outcome {
            report: Some(json!({"kind": "access", "result": {"tables": ["ada's rows"]}})),
            documents: vec![Document { system: String::new(), format: Format::Html, bytes: b"<p>".to_vec() }],
            ..Outcome::default()
        };
        o.merge("datasets", files);
        let text = summary(RequestKind::Access, &o);
        assert!(text.contains("is in the files at the links above"), "{text}");
        assert!(text.contains("\"covenant\"") && text.contains("s-1"), "{text}");
        assert!(!text.contains("ada's rows") && !text.contains("\"datasets\""), "{text}");
        // Without files, every report is in the email.
        o.documents.clear();
        let text = summary(RequestKind::Access, &o);
        assert!(text.contains("ada's rows") && !text.contains("links above"), "{text}");
        // Only files: no JSON at all.
        let only = Outcome {
            report: Some(json!({"datasets": {"kind": "access"}})),
            documents: vec![Document { system: "datasets".into(), format: Format::Json, bytes: vec![] }],
            ..Outcome::default()
        };
        let text = summary(RequestKind::Access, &only);
        assert!(!text.contains("structured, machine-readable format (JSON)"), "{text}");
    }
}
