//! The executor: runs a request's plan against the databases and answers it.
//!
//! Writes go through the journal (`covenant_store::journal`): the whole write set is computed
//! first (every hash, pseudonym and truncation), recorded as one step per database, then each
//! step is applied in one transaction of its database and marked. A run left open by a crash
//! is resumed by the next run of the same request: a step still pending is read back, and only
//! the operations whose effect is absent are applied, so nothing is applied twice.

use std::collections::HashMap;
use std::sync::Arc;

use covenant_connectors::{Connector, ConnectorOptions, Value, WriteOp};
use covenant_core::audit::AuditDraft;
use covenant_core::ledger::{CollectionMethod, sha256_hex};
use covenant_core::{Identity, RecordId, TenantId};
use covenant_policy::dataset::Dataset;
use covenant_policy::model::Policy;
use covenant_store::{
    FinishRun, FlagKind, JournalStore, NewRun, NewStep, NewSubject, NewTenant, RunId, RunState, StepState, Store,
    StoreError, SubjectFlag,
};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::config::{Config, load_or_create_key};
use crate::error::DsrError;
use crate::find::{Found, Source, discover, discover_many};
use crate::plan::{self, Plan, RequestKind, Scope};
use crate::report::{self, FlagReport, Outcome, StepReport, WriteReport};
use crate::writes::{self, Correction, Keys, Target};

/// A request to execute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    pub identities: Vec<Identity>,
    pub scope: Scope,
    /// Rectification: the corrections (at least one).
    pub corrections: Vec<Correction>,
    /// Objection: the activities objected to; empty means every direct-marketing activity.
    pub objections: Vec<String>,
    /// The request's id in a workflow, if any: runs of the same id resume each other. Without
    /// it, runs with the same kind, identities, scope and corrections do.
    pub request_id: Option<String>,
}

impl Request {
    pub fn new(kind: RequestKind, identities: Vec<Identity>) -> Request {
        Request {
            kind,
            identities,
            scope: Scope::Controller,
            corrections: Vec::new(),
            objections: Vec::new(),
            request_id: None,
        }
    }

    /// What identifies the request in the journal.
    pub fn key(&self) -> String {
        if let Some(id) = &self.request_id {
            return format!("request:{id}");
        }
        let mut ids: Vec<String> = self.identities.iter().map(Identity::key).collect();
        ids.sort();
        let mut h = Sha256::new();
        h.update(self.kind.as_str());
        h.update([0]);
        h.update(ids.join("\n"));
        h.update([0]);
        h.update(self.scope.key());
        h.update([0]);
        h.update(serde_json::to_string(&self.corrections).unwrap_or_default());
        h.update([0]);
        h.update(self.objections.join("\n"));
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("{}:{hex}", self.kind.as_str())
    }
}

/// Reports progress of a long run (a terminal progress bar, or nothing).
pub trait Progress: Send + Sync {
    /// A line to show: `resuming run …`, `applying crm (12000 rows)`.
    fn message(&self, _msg: &str) {}
    /// Steps to apply in this run.
    fn start(&self, _steps: u64) {}
    /// One step done.
    fn advance(&self) {}
}

/// Shows nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// Executes requests with the [`Executor`] of a configuration; the request workflow calls it.
pub trait RequestExecutor: Send + Sync {
    fn execute(
        &self,
        request: &Request,
        progress: &dyn Progress,
    ) -> impl std::future::Future<Output = Result<Outcome, DsrError>> + Send;
}

/// Runs requests against one configuration's databases, journaling into Covenant's store.
pub struct Executor<S> {
    policy: Arc<Policy>,
    datasets: Vec<Dataset>,
    connectors: Vec<Connector>,
    store: Arc<S>,
    tenant: TenantId,
    key: Option<[u8; 32]>,
    actor: String,
    notice_hash: String,
}

/// Opens every database of a configuration.
pub async fn connect_all(config: &Config) -> Result<Vec<Connector>, DsrError> {
    let mut out = Vec::new();
    for d in &config.datasets {
        let opts = ConnectorOptions { max_connections: d.max_connections, ..ConnectorOptions::default() };
        out.push(Connector::connect(&d.url, &opts).await.map_err(DsrError::db(&d.dataset.id))?);
    }
    Ok(out)
}

impl<S: Store + JournalStore + 'static> Executor<S> {
    /// An executor for a loaded configuration: connects to every dataset, reads (or creates)
    /// the pseudonym key when one is configured, and makes sure the tenant exists.
    pub async fn open(config: &Config, store: Arc<S>) -> Result<Executor<S>, DsrError> {
        let connectors = connect_all(config).await?;
        let key = match &config.pseudonym_key_file {
            Some(f) => Some(load_or_create_key(f)?),
            None => None,
        };
        let exec =
            Executor::new(config.policy.clone(), config.dataset_list(), connectors, store, config.tenant.clone(), key);
        exec.ensure_tenant().await?;
        Ok(exec)
    }

    pub fn new(
        policy: Policy,
        datasets: Vec<Dataset>,
        connectors: Vec<Connector>,
        store: Arc<S>,
        tenant: TenantId,
        key: Option<[u8; 32]>,
    ) -> Executor<S> {
        let notice = covenant_policy::notice::html(&policy).unwrap_or_default();
        Executor {
            policy: Arc::new(policy),
            datasets,
            connectors,
            store,
            tenant,
            key,
            actor: "covenant-dsr".to_owned(),
            notice_hash: sha256_hex(notice.as_bytes()),
        }
    }

    /// Who the audit log names as acting (default `covenant-dsr`).
    pub fn with_actor(mut self, actor: &str) -> Executor<S> {
        actor.clone_into(&mut self.actor);
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn datasets(&self) -> &[Dataset] {
        &self.datasets
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Creates the tenant in the store if it does not exist.
    pub async fn ensure_tenant(&self) -> Result<(), DsrError> {
        match self.store.get_tenant(&self.tenant).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound { .. }) => {
                let new = NewTenant {
                    id: self.tenant.clone(),
                    name: self.tenant.as_str().to_owned(),
                    created_at: Timestamp::now(),
                };
                let draft = AuditDraft::new(&self.actor, "tenant.create", &format!("tenant:{}", self.tenant), "{}");
                match self.store.create_tenant(new, draft).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Closes the database pools.
    pub async fn close(&self) {
        for c in &self.connectors {
            c.close().await;
        }
    }

    /// The plan of a request (pure).
    pub fn plan(&self, request: &Request) -> Result<Plan, DsrError> {
        plan::build(&self.policy, &self.datasets, request.kind, &request.identities, &request.scope)
            .map_err(|e| DsrError::Invalid(e.to_string()))
    }

    fn sources<'a>(&'a self, plan: &'a Plan) -> Vec<Source<'a>> {
        self.datasets
            .iter()
            .zip(&self.connectors)
            .filter_map(|(d, c)| plan.dataset(&d.id).map(|p| Source { dataset: d, plan: p, connector: c }))
            .collect()
    }

    /// Finds everything about the person (no writes).
    pub async fn discover(&self, request: &Request, plan: &Plan) -> Result<Found, DsrError> {
        discover(plan, &self.sources(plan), &request.identities).await
    }

    /// What `plan`'s lookups find about each of several people, looked up together (see
    /// [`discover_many`]): the same as each person's own [`Executor::discover`].
    pub async fn discover_many(&self, plan: &Plan, people: &[Vec<Identity>]) -> Result<Vec<Found>, DsrError> {
        discover_many(plan, &self.sources(plan), people).await
    }

    fn draft(&self, action: &str, target: &str, detail: serde_json::Value) -> AuditDraft {
        AuditDraft::new(&self.actor, action, target, detail.to_string())
    }

    /// Runs a request to its end (resuming an interrupted run of the same request).
    pub async fn run(&self, request: &Request, progress: &dyn Progress) -> Result<Outcome, DsrError> {
        check_request(request)?;
        let plan = self.plan(request)?;
        match request.kind {
            RequestKind::Access | RequestKind::Export | RequestKind::Confirm => self.read(request, &plan).await,
            RequestKind::Erasure | RequestKind::Rectification => self.write(request, &plan, progress).await,
            RequestKind::Restriction | RequestKind::Objection => self.flag(request, &plan).await,
        }
    }

    async fn read(&self, request: &Request, plan: &Plan) -> Result<Outcome, DsrError> {
        // Reading personal data leaves an audit entry; it is written while the data is read.
        let detail = serde_json::json!({ "request": request.key(), "kind": request.kind.as_str() });
        let audit =
            self.store.record_read(&self.tenant, self.draft(&format!("dsr.{}", request.kind), "request", detail));
        let (found, audit) = futures_util::future::join(self.discover(request, plan), audit).await;
        audit?;
        let found = found?;
        let datasets: Vec<&Dataset> = self.datasets.iter().collect();
        let now = Timestamp::now();
        let outcome = match request.kind {
            RequestKind::Confirm => Outcome::Confirm(report::confirmation(&self.policy, &datasets, &found)),
            kind => {
                let r = report::access(&self.policy, &datasets, &found, &now.to_string());
                if kind == RequestKind::Export { Outcome::Export(r) } else { Outcome::Access(r) }
            }
        };
        Ok(outcome)
    }

    fn keys_needed(&self, plan: &Plan) -> Option<String> {
        for d in &plan.datasets {
            for a in &d.actions {
                let columns = match a {
                    plan::Action::CutMentions { columns, .. }
                    | plan::Action::Update { columns, .. }
                    | plan::Action::Keep { cut: columns, .. } => columns.as_slice(),
                    plan::Action::Delete { .. } => &[],
                };
                for c in columns {
                    use covenant_policy::dataset::Strategy;
                    if matches!(c.strategy, Strategy::Hash | Strategy::Pseudonym) {
                        return Some(format!("{}.{}", a.table(), c.column));
                    }
                }
            }
        }
        None
    }

    async fn write(&self, request: &Request, plan: &Plan, progress: &dyn Progress) -> Result<Outcome, DsrError> {
        let report = match self.prepare_plan(request, plan).await? {
            Prepared::Fresh(fresh) => self.apply_fresh(*fresh, progress).await?,
            Prepared::Open(run) => {
                progress.message(&format!("resuming run {run}"));
                self.resume(run, progress).await?
            }
        };
        Ok(wrap(request.kind, report))
    }

    /// Records a fresh run in the journal and applies its steps, one transaction per database,
    /// the databases at the same time. Each transaction's statements run while the run is
    /// recorded, and it commits only once the record is durable: a crash at any point leaves
    /// either nothing written or an open run whose steps are read back when it is resumed.
    /// Every step is then marked applied by the run's finish.
    async fn apply_fresh(&self, fresh: Fresh, progress: &dyn Progress) -> Result<WriteReport, DsrError> {
        use futures_util::FutureExt;
        let Fresh { key, run: new, steps, pending, mut report } = fresh;
        let detail = serde_json::json!({ "request": key, "steps": steps.len() });
        let journal = self
            .store
            .create_run(new, steps, self.draft("dsr.run.create", "request", detail))
            .map(|r| r.map(|w| w.value.id).map_err(Arc::new))
            .shared();
        progress.start(pending.len() as u64);
        let applies = futures_util::future::join_all(pending.iter().map(|step| {
            let gate = journal.clone().map(|r| r.map(|_| ()));
            async move {
                let Some(connector) = self.connector(&step.dataset) else {
                    return Err(DsrError::Internal(format!("no dataset `{}`", step.dataset)));
                };
                let rows: usize = step.ops.iter().map(WriteOp::rows).sum();
                progress.message(&format!("applying {} ({rows} rows)", step.dataset));
                let applied = connector
                    .apply_groups_when(&[step.ops.as_slice()], gate)
                    .await
                    .map_err(DsrError::db(&step.dataset))?;
                progress.advance();
                Ok((step.seq, applied.ok().map(|c| c.iter().sum::<u64>())))
            }
        }));
        let (recorded, applied) = futures_util::future::join(journal, applies).await;
        let run = match recorded {
            Ok(run) => run,
            // Another process prepared the same request meanwhile: nothing was committed
            // here; that run is resumed.
            Err(e) if matches!(*e, StoreError::Conflict(_)) => {
                let run = self.open_run_of(&key).await?;
                return self.resume(run, progress).await;
            }
            Err(e) => return Err(shared_error(e)),
        };
        let mut marks = Vec::new();
        for a in applied {
            match a? {
                (seq, Some(rows)) => marks.push((seq, rows)),
                (_, None) => {
                    return Err(DsrError::Internal(format!("run `{run}` was recorded but its writes were not")));
                }
            }
        }
        report.run = run.to_string();
        self.finish(run, &report, marks).await?;
        Ok(report)
    }

    /// Prepares an erasure or rectification without applying it: computes the write set and
    /// records the run and its steps in the journal. Returns the run, or the open run of the
    /// same request. [`Executor::run`] with the same request then applies it (as a resume).
    pub async fn prepare(&self, request: &Request) -> Result<RunId, DsrError> {
        check_request(request)?;
        if !request.kind.writes_databases() {
            return Err(DsrError::Invalid(format!("a `{}` request writes nothing to prepare", request.kind)));
        }
        let plan = self.plan(request)?;
        match self.prepare_plan(request, &plan).await? {
            Prepared::Fresh(fresh) => self.record(*fresh).await,
            Prepared::Open(run) => Ok(run),
        }
    }

    /// Records a fresh run in the journal without applying it; the open run of the same
    /// request if another process recorded one meanwhile.
    async fn record(&self, fresh: Fresh) -> Result<RunId, DsrError> {
        let Fresh { key, run, steps, .. } = fresh;
        let detail = serde_json::json!({ "request": key, "steps": steps.len() });
        match self.store.create_run(run, steps, self.draft("dsr.run.create", "request", detail)).await {
            Ok(w) => Ok(w.value.id),
            Err(StoreError::Conflict(_)) => self.open_run_of(&key).await,
            Err(e) => Err(e.into()),
        }
    }

    /// The open run of a request that another process recorded while this one prepared it.
    async fn open_run_of(&self, key: &str) -> Result<RunId, DsrError> {
        match self.store.find_open_run(&self.tenant, key).await? {
            Some(run) => Ok(run.id),
            None => Err(DsrError::Resume("the request's run changed while preparing it; run it again".into())),
        }
    }

    /// Reads the person's data and computes the run: its write set, steps and report (nothing
    /// is recorded yet); or finds the open run of the same request.
    async fn prepare_plan(&self, request: &Request, plan: &Plan) -> Result<Prepared, DsrError> {
        self.check_keys(plan)?;
        // An open run of the same request is looked for while the person's data is read; when
        // there is one, what was read is dropped and that run is resumed.
        let (open, found) = futures_util::future::join(
            self.store.find_open_run(&self.tenant, &request.key()),
            self.discover(request, plan),
        )
        .await;
        self.prepared(request, (plan, plan.hash()), open?, found)
    }

    /// A keyed erasure strategy needs the pseudonym key.
    fn check_keys(&self, plan: &Plan) -> Result<(), DsrError> {
        if let Some(at) = self.keys_needed(plan)
            && self.key.is_none()
        {
            return Err(DsrError::Config(format!(
                "column `{at}` is erased with a keyed strategy (`hash` or `pseudonym`): set `[secrets] pseudonym_key_file` in the configuration"
            )));
        }
        Ok(())
    }

    /// A request prepared from its open run, if any (resumed), or else from what discovery
    /// found (a fresh run).
    fn prepared(
        &self,
        request: &Request,
        (plan, plan_hash): (&Plan, String),
        open: Option<covenant_store::Run>,
        found: Result<Found, DsrError>,
    ) -> Result<Prepared, DsrError> {
        let key = request.key();
        if let Some(run) = open {
            if run.plan_hash != plan_hash {
                return Err(DsrError::Resume(format!(
                    "run `{}` of this request was prepared from another plan (the policy or the annotations changed since); restore them to finish it",
                    run.id
                )));
            }
            return Ok(Prepared::Open(run.id));
        }
        let found = found?;
        let salt = self.key.as_ref().map(|k| writes::hash_salt(k, &key));
        let keys = Keys { pseudonym: self.key.as_ref(), salt: salt.as_ref() };

        let mut steps = Vec::new();
        let mut pending = Vec::new();
        let mut step_reports = Vec::new();
        let mut kept = Vec::new();
        let correction = request.corrections.first().cloned();
        for (ds, fd) in self.datasets.iter().zip(&found.datasets) {
            let Some(dp) = plan.dataset(&ds.id) else { continue };
            let (ops, counts) = match request.kind {
                RequestKind::Erasure => {
                    kept.extend(report::kept(&self.policy, ds, fd));
                    writes::erasure(ds, dp, fd, keys)?
                }
                _ => {
                    let mut all_ops = Vec::new();
                    let mut all = writes::Counts::default();
                    for c in &request.corrections {
                        let old = self.old_values(request, &found, c)?;
                        let (ops, counts) = writes::rectification(ds, fd, c, &old);
                        all_ops.extend(ops);
                        for (t, n) in counts.updated {
                            *all.updated.entry(t).or_default() += n;
                        }
                    }
                    (all_ops, all)
                }
            };
            if ops.is_empty() {
                continue;
            }
            let json = serde_json::to_string(&ops).map_err(|e| DsrError::Internal(e.to_string()))?;
            steps.push(NewStep { dataset: ds.id.clone(), ops: json, op_count: ops.len() as u64 });
            // Numbered from 1 in the order given, as the journal numbers them.
            pending.push(PendingStep { seq: steps.len() as u32, dataset: ds.id.clone(), ops });
            step_reports.push(StepReport { dataset: ds.id.clone(), counts });
        }
        let summary = summary(request.kind, &step_reports, &kept, &found);
        let report = WriteReport {
            run: String::new(),
            resumed: false,
            plan_hash: plan_hash.clone(),
            steps: step_reports,
            kept,
            referred: found.referred.iter().map(report::ReferralReport::from).collect(),
            correction,
            summary,
        };
        let report_json = serde_json::to_string(&report).map_err(|e| DsrError::Internal(e.to_string()))?;
        let new = NewRun {
            tenant: self.tenant.clone(),
            request_key: key.clone(),
            kind: request.kind.as_str().to_owned(),
            identities: request.identities.iter().map(Identity::key).collect(),
            scope: request.scope.key(),
            plan_hash,
            report: report_json,
            created_at: Timestamp::now(),
        };
        Ok(Prepared::Fresh(Box::new(Fresh { key, run: new, steps, pending, report })))
    }

    /// Runs many requests together, as one batch: see [`Executor::run_batches`].
    pub async fn run_batch(
        &self,
        requests: &[Request],
        concurrency: usize,
        progress: &dyn Progress,
    ) -> Vec<Result<Outcome, DsrError>> {
        self.run_batches(requests, requests.len().max(1), concurrency, progress).await
    }

    /// Runs many requests in batches of `chunk`. In a batch, the erasures and rectifications
    /// are prepared `concurrency` at a time (discovery on several connections); their writes
    /// are applied in one transaction per database for the whole batch (the databases at the
    /// same time, each request's operations in its own order), whose statements run while
    /// the batch's runs are recorded in the journal and which commits once they are. The next
    /// batch's people are looked up meanwhile, and the previous batch's runs closed in the
    /// journal (see [`Executor::run_batches_with`]). If a batch's transaction fails, each request's
    /// writes are applied alone, so one bad request fails alone. Other kinds of request, and
    /// requests with an open run, run one after the other after their batch. Returns one result
    /// per request, in order. Every run is journaled as by [`Executor::run`]: requests
    /// interrupted at any point are finished by running them again.
    pub async fn run_batches(
        &self,
        requests: &[Request],
        chunk: usize,
        concurrency: usize,
        progress: &dyn Progress,
    ) -> Vec<Result<Outcome, DsrError>> {
        let mut results = Vec::with_capacity(requests.len());
        self.run_batches_with(requests, chunk, concurrency, progress, |_, done| {
            results.extend(done);
            true
        })
        .await;
        results
    }

    /// [`Executor::run_batches`], handing each batch's results to `each` as soon as the batch
    /// is done, with the index of its first request. Batches are pipelined: while one batch is
    /// written, the next one's people are looked up and the previous one's runs are closed in
    /// the journal (unless it has requests that run alone: those run, in order, before the next
    /// batch is written). `each` returning `false` stops: the batch written meanwhile has its
    /// runs closed, and nothing after it is recorded or written.
    pub async fn run_batches_with(
        &self,
        requests: &[Request],
        chunk: usize,
        concurrency: usize,
        progress: &dyn Progress,
        mut each: impl FnMut(usize, Vec<Result<Outcome, DsrError>>) -> bool,
    ) {
        progress.start(requests.len() as u64);
        let chunk = chunk.max(1);
        let chunks: Vec<&[Request]> = requests.chunks(chunk).collect();
        let Some(first) = chunks.first() else { return };
        let mut prepared = self.prepare_batch(first, concurrency).await;
        // The batch written last (the index of its first request, its requests), not done yet.
        let mut written: Option<(usize, &[Request], Written)> = None;
        for (k, batch) in chunks.iter().enumerate() {
            if let Some((at, reqs, w)) = written.take_if(|(_, _, w)| !w.alone.is_empty())
                && !each(at, self.finish_batch(reqs, w, progress).await)
            {
                return;
            }
            let next = async {
                match chunks.get(k + 1) {
                    Some(c) => self.prepare_batch(c, concurrency).await,
                    None => Vec::new(),
                }
            };
            let previous = written.take();
            let finish_previous = async {
                match previous {
                    Some((at, reqs, w)) => Some((at, self.finish_batch(reqs, w, progress).await)),
                    None => None,
                }
            };
            let (w, next, finished) =
                futures_util::future::join3(self.write_batch(batch, prepared, progress), next, finish_previous).await;
            if let Some((at, done)) = finished
                && !each(at, done)
            {
                self.close_runs(batch, w.closing, progress).await;
                return;
            }
            written = Some((k * chunk, batch, w));
            prepared = next;
        }
        if let Some((at, reqs, w)) = written {
            each(at, self.finish_batch(reqs, w, progress).await);
        }
    }

    /// Checks, plans and prepares every request of a batch: `None` for a request that writes no
    /// database. The people of requests whose plans look up the same way are looked up
    /// together ([`discover_many`]), in `concurrency` parts at the same time (each on its own
    /// connections); if a part's lookups fail, its requests are prepared one by one, so that
    /// each gets its own error.
    async fn prepare_batch(&self, requests: &[Request], concurrency: usize) -> Vec<Result<Option<Prepared>, DsrError>> {
        let mut out: Vec<Option<Result<Option<Prepared>, DsrError>>> = requests.iter().map(|_| None).collect();
        // A plan depends on the request's kind and scope besides its identities (see
        // `plan::check_identities`): each kind and scope is planned once, as an index in
        // `shapes`, or `None` when it cannot be planned.
        let mut planned: HashMap<(RequestKind, String), Option<usize>> = HashMap::new();
        let mut shapes: Vec<Plan> = Vec::new();
        // Each request's plan (an index in `shapes`) and plan hash.
        let mut plans: Vec<Option<(usize, String)>> = requests.iter().map(|_| None).collect();
        // Requests whose plans look up the same way, in order of first appearance.
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut by_lookups: HashMap<String, usize> = HashMap::new();
        let mut group_of: Vec<usize> = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            let checked = check_request(r).and_then(|()| {
                if !r.kind.writes_databases() {
                    return Ok(None);
                }
                plan::check_identities(&self.datasets, &r.identities).map_err(|e| DsrError::Invalid(e.to_string()))?;
                let plan_of = || self.plan(r).and_then(|p| self.check_keys(&p).map(|()| p));
                let shape = planned.entry((r.kind, r.scope.key())).or_insert_with(|| {
                    let plan = plan_of().ok()?;
                    let g = *by_lookups.entry(lookup_key(&plan)).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    shapes.push(plan);
                    group_of.push(g);
                    Some(shapes.len() - 1)
                });
                match *shape {
                    Some(si) => Ok(Some(si)),
                    // Planned again for this request's own error.
                    None => plan_of().and(Err(DsrError::Internal("a plan failed once and not again".into()))),
                }
            });
            match checked {
                Err(e) => out[i] = Some(Err(e)),
                Ok(None) => out[i] = Some(Ok(None)),
                Ok(Some(si)) => {
                    groups[group_of[si]].push(i);
                    let keys: Vec<String> = r.identities.iter().map(Identity::key).collect();
                    plans[i] = Some((si, shapes[si].hash_with(&keys)));
                }
            }
        }
        let parts: Vec<Vec<usize>> = groups
            .iter()
            .flat_map(|g| {
                let size = g.len().div_ceil(concurrency.max(1)).max(1);
                g.chunks(size).map(<[usize]>::to_vec).collect::<Vec<_>>()
            })
            .collect();
        let (plans, shapes) = (&plans, &shapes);
        let looked_up = futures_util::future::join_all(parts.into_iter().map(|part| async move {
            let Some(plan) = part.first().and_then(|i| plans[*i].as_ref()).map(|(si, _)| &shapes[*si]) else {
                return (part, Err(DsrError::Internal("a batch request lost its plan".into())));
            };
            let people: Vec<Vec<Identity>> = part.iter().map(|i| requests[*i].identities.clone()).collect();
            let open = futures_util::future::join_all(
                part.iter().map(|i| async move { self.store.find_open_run(&self.tenant, &requests[*i].key()).await }),
            );
            let (open, found) =
                futures_util::future::join(open, discover_many(plan, &self.sources(plan), &people)).await;
            (part, found.map(|found| (open, found)))
        }))
        .await;
        for (part, r) in looked_up {
            match r {
                Ok((open, found)) => {
                    for ((i, open), found) in part.into_iter().zip(open).zip(found) {
                        let (Some((si, hash)), r) = (&plans[i], &requests[i]) else { continue };
                        let plan = (&shapes[*si], hash.clone());
                        out[i] = Some(
                            open.map_err(DsrError::from).and_then(|o| self.prepared(r, plan, o, Ok(found))).map(Some),
                        );
                    }
                }
                Err(_) => {
                    for i in part {
                        let (Some(_), r) = (&plans[i], &requests[i]) else { continue };
                        // Planned again with the request's own identities.
                        let prepared = match self.plan(r) {
                            Ok(plan) => self.prepare_plan(r, &plan).await,
                            Err(e) => Err(e),
                        };
                        out[i] = Some(prepared.map(Some));
                    }
                }
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(DsrError::Internal("a batch request was not prepared".into()))))
            .collect()
    }

    /// Records and applies a prepared batch (see [`Executor::run_batches`]); its runs are
    /// closed and its requests that run alone are run by [`Executor::finish_batch`].
    async fn write_batch(
        &self,
        requests: &[Request],
        prepared: Vec<Result<Option<Prepared>, DsrError>>,
        progress: &dyn Progress,
    ) -> Written {
        use futures_util::FutureExt;
        let mut results: Vec<Option<Result<Outcome, DsrError>>> = requests.iter().map(|_| None).collect();
        let mut fresh: Vec<(usize, Fresh)> = Vec::new();
        let mut alone: Vec<(usize, Option<RunId>)> = Vec::new();
        for (i, p) in prepared.into_iter().enumerate() {
            match p {
                Err(e) => results[i] = Some(Err(e)),
                Ok(None) => alone.push((i, None)),
                Ok(Some(Prepared::Open(run))) => alone.push((i, Some(run))),
                Ok(Some(Prepared::Fresh(f))) => fresh.push((i, *f)),
            }
        }

        // The runs are recorded (the store commits concurrent writes together) while the
        // statements of every database run; each database's transaction commits once all
        // runs are recorded.
        let records: Vec<_> = fresh
            .iter_mut()
            .map(|(_, f)| {
                let detail = serde_json::json!({ "request": f.key, "steps": f.steps.len() });
                let draft = self.draft("dsr.run.create", "request", detail);
                self.store.create_run(f.run.clone(), std::mem::take(&mut f.steps), draft)
            })
            .collect();
        let journal = futures_util::future::join_all(records)
            .map(|all| all.into_iter().map(|r| r.map(|w| w.value.id).map_err(Arc::new)).collect::<Vec<_>>())
            .shared();
        let gate = journal.clone().map(|all| match all.iter().find_map(|r| r.as_ref().err()) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        });
        let gate = gate.shared();
        let per_dataset = futures_util::future::join_all(self.datasets.iter().zip(&self.connectors).map(|(ds, c)| {
            let members: Vec<(usize, &PendingStep)> = fresh
                .iter()
                .enumerate()
                .filter_map(|(fi, (_, f))| f.pending.iter().find(|s| s.dataset == ds.id).map(|s| (fi, s)))
                .collect();
            let gate = gate.clone();
            async move {
                if members.is_empty() {
                    return (members, Ok(Ok(Vec::new())));
                }
                let groups: Vec<&[WriteOp]> = members.iter().map(|(_, s)| s.ops.as_slice()).collect();
                let applied = c.apply_groups_when(&groups, gate).await;
                (members, applied)
            }
        }));
        let (recorded, per_dataset) = futures_util::future::join(journal, per_dataset).await;

        // A run not recorded (another process prepared the same request, or the store failed):
        // the batch's transactions were rolled back; the recorded runs are applied one by one
        // as resumed runs, the others resume the other process's run or fail.
        if recorded.iter().any(Result::is_err) {
            drop(per_dataset);
            for ((i, f), r) in fresh.into_iter().zip(recorded) {
                let r = match r {
                    Ok(run) => self.resume(run, &Quiet).await,
                    Err(e) if matches!(*e, StoreError::Conflict(_)) => match self.open_run_of(&f.key).await {
                        Ok(run) => self.resume(run, &Quiet).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(DsrError::Internal(format!("the run could not be recorded: {e}"))),
                };
                results[i] = Some(r.map(|report| wrap(requests[i].kind, report)));
                progress.advance();
            }
            return Written { results, closing: Vec::new(), alone };
        }
        let runs: Vec<RunId> = recorded.into_iter().flatten().collect();

        // Rows changed per request and step; a database whose batch transaction failed has
        // each request's writes applied alone.
        let mut marks: Vec<Vec<(u32, u64)>> = fresh.iter().map(|_| Vec::new()).collect();
        let mut failed: Vec<Option<DsrError>> = fresh.iter().map(|_| None).collect();
        for ((ds, connector), (members, applied)) in self.datasets.iter().zip(&self.connectors).zip(per_dataset) {
            let changed: Vec<Result<u64, DsrError>> = match applied {
                Ok(Ok(counts)) => counts.into_iter().map(Ok).collect(),
                _ => {
                    let mut out = Vec::new();
                    for (_, step) in &members {
                        out.push(connector.apply(&step.ops).await.map_err(DsrError::db(&ds.id)));
                    }
                    out
                }
            };
            for ((fi, step), rows) in members.iter().zip(changed) {
                match rows {
                    Ok(rows) => marks[*fi].push((step.seq, rows)),
                    Err(e) => failed[*fi] = Some(e),
                }
            }
        }
        let closing = fresh
            .into_iter()
            .zip(runs)
            .zip(marks)
            .zip(failed)
            .map(|((((i, f), run), marks), failed)| Closing { index: i, run, report: f.report, marks, failed })
            .collect();
        Written { results, closing, alone }
    }

    /// Finishes a written batch: closes its runs in the journal, then runs its requests that
    /// are not written with it, and returns every result of the batch in order.
    async fn finish_batch(
        &self,
        requests: &[Request],
        mut w: Written,
        progress: &dyn Progress,
    ) -> Vec<Result<Outcome, DsrError>> {
        for (i, r) in self.close_runs(requests, w.closing, progress).await {
            w.results[i] = Some(r);
        }
        self.run_alone(requests, w.results, w.alone, progress).await
    }

    /// Closes the runs of a written batch in the journal (the store commits them together),
    /// with the rows each step changed: the result of each request.
    async fn close_runs(
        &self,
        requests: &[Request],
        closing: Vec<Closing>,
        progress: &dyn Progress,
    ) -> Vec<(usize, Result<Outcome, DsrError>)> {
        let closed = futures_util::future::join_all(closing.into_iter().map(|c| async move {
            if let Some(e) = c.failed {
                // The run stays open: its other steps may be applied; the next run of the
                // request resumes it.
                return (c.index, Err(e));
            }
            let mut report = c.report;
            report.run = c.run.to_string();
            (c.index, self.finish(c.run, &report, c.marks).await.map(|()| report))
        }))
        .await;
        closed
            .into_iter()
            .map(|(i, r)| {
                progress.advance();
                (i, r.map(|report| wrap(requests[i].kind, report)))
            })
            .collect()
    }

    /// Runs the requests of a batch that are not written with it (other kinds, open runs), one
    /// after the other, and returns every result of the batch in order.
    async fn run_alone(
        &self,
        requests: &[Request],
        mut results: Vec<Option<Result<Outcome, DsrError>>>,
        alone: Vec<(usize, Option<RunId>)>,
        progress: &dyn Progress,
    ) -> Vec<Result<Outcome, DsrError>> {
        for (i, open) in alone {
            let r = match open {
                Some(run) => self.resume(run, &Quiet).await.map(|r| wrap(requests[i].kind, r)),
                None => self.run(&requests[i], &Quiet).await,
            };
            results[i] = Some(r);
            progress.advance();
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(DsrError::Internal("a request of the batch was not run".into()))))
            .collect()
    }

    fn connector(&self, dataset: &str) -> Option<&Connector> {
        self.datasets.iter().position(|d| d.id == dataset).map(|i| &self.connectors[i])
    }

    /// The values a correction replaces.
    fn old_values(&self, request: &Request, found: &Found, c: &Correction) -> Result<Vec<String>, DsrError> {
        if let Some(old) = &c.old {
            return Ok(vec![old.clone()]);
        }
        match &c.target {
            Target::Identity(kind) => {
                let given: Vec<String> = request
                    .identities
                    .iter()
                    .filter(|i| &i.kind_name() == kind)
                    .map(|i| i.value().to_owned())
                    .collect();
                if !given.is_empty() {
                    return Ok(given);
                }
                Ok(found.identities.iter().filter(|i| &i.kind_name() == kind).map(|i| i.value().to_owned()).collect())
            }
            Target::Category(cat) => {
                let mut values = std::collections::BTreeSet::new();
                for (ds, fd) in self.datasets.iter().zip(&found.datasets) {
                    for (name, rows) in &fd.tables {
                        let Some(t) = ds.table(name) else { continue };
                        for c in t.columns.iter().filter(|c| c.category.as_ref() == Some(cat)) {
                            for row in rows.rows.values() {
                                if let Some(v) =
                                    rows.get(row, &c.name).filter(|v| !v.is_empty()).and_then(Value::as_text)
                                {
                                    values.insert(v);
                                }
                            }
                        }
                    }
                }
                if values.len() > 1 {
                    return Err(DsrError::Invalid(format!(
                        "the person's rows hold {} different values of category `{cat}`; say which one to correct",
                        values.len()
                    )));
                }
                Ok(values.into_iter().collect())
            }
        }
    }

    /// The pending steps of a run, as the journal has them.
    async fn pending_steps(&self, run: RunId) -> Result<Vec<PendingStep>, DsrError> {
        let steps = self.store.run_steps(&self.tenant, run).await?;
        steps
            .into_iter()
            .filter(|s| s.state == StepState::Pending)
            .map(|step| {
                let ops: Vec<WriteOp> = serde_json::from_str(&step.ops)
                    .map_err(|e| DsrError::Internal(format!("step {} of run `{run}` is unreadable: {e}", step.seq)))?;
                Ok(PendingStep { seq: step.seq, dataset: step.dataset, ops })
            })
            .collect()
    }

    /// Applies the pending steps of a run in order; `in_doubt`: read back first and apply only
    /// what is missing. Each step is marked applied in the journal while the next one is
    /// applied; the last step's mark is returned, left to [`Self::finish`] (same transaction).
    async fn apply_steps(
        &self,
        run: RunId,
        steps: Vec<PendingStep>,
        in_doubt: bool,
        progress: &dyn Progress,
    ) -> Result<Vec<(u32, u64)>, DsrError> {
        progress.start(steps.len() as u64);
        let mut previous: Option<(u32, String, u64)> = None;
        for step in steps {
            let Some(i) = self.datasets.iter().position(|d| d.id == step.dataset) else {
                return Err(DsrError::Resume(format!(
                    "run `{run}` has a step for dataset `{}`, which the configuration no longer has",
                    step.dataset
                )));
            };
            let connector = &self.connectors[i];
            let apply = async {
                let ops = if in_doubt { missing_ops(connector, &step.dataset, step.ops).await? } else { step.ops };
                let rows: usize = ops.iter().map(WriteOp::rows).sum();
                progress.message(&format!("applying {} ({rows} rows)", step.dataset));
                if ops.is_empty() { Ok(0) } else { connector.apply(&ops).await.map_err(DsrError::db(&step.dataset)) }
            };
            let changed = match previous.take() {
                Some((seq, dataset, rows)) => {
                    let (marked, applied) =
                        futures_util::future::join(self.mark(run, seq, &dataset, rows), apply).await;
                    marked?;
                    applied?
                }
                None => apply.await?,
            };
            progress.advance();
            previous = Some((step.seq, step.dataset, changed));
        }
        Ok(previous.map(|(seq, _, rows)| (seq, rows)).into_iter().collect())
    }

    /// Marks a step applied in the journal.
    async fn mark(&self, run: RunId, seq: u32, dataset: &str, rows: u64) -> Result<(), DsrError> {
        let detail = serde_json::json!({ "run": run.to_string(), "step": seq, "dataset": dataset, "rows": rows });
        match self
            .store
            .mark_step_applied(
                &self.tenant,
                run,
                seq,
                rows,
                Timestamp::now(),
                self.draft("dsr.step.applied", &format!("run:{run}"), detail),
            )
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn resume(&self, id: RunId, progress: &dyn Progress) -> Result<WriteReport, DsrError> {
        let run = self.store.get_run(&self.tenant, id).await?;
        let steps = self.pending_steps(id).await?;
        let applied = self.apply_steps(id, steps, true, progress).await?;
        let mut report: WriteReport = serde_json::from_str(&run.report)
            .map_err(|e| DsrError::Internal(format!("the report of run `{id}` is unreadable: {e}")))?;
        report.run = id.to_string();
        report.resumed = true;
        self.finish(id, &report, applied).await?;
        Ok(report)
    }

    async fn finish(&self, id: RunId, report: &WriteReport, applied: Vec<(u32, u64)>) -> Result<(), DsrError> {
        let json = serde_json::to_string(report).map_err(|e| DsrError::Internal(e.to_string()))?;
        let detail = serde_json::json!({ "run": id.to_string(), "state": "done" });
        match self
            .store
            .finish_run(
                &self.tenant,
                id,
                FinishRun { state: RunState::Done, report: json, at: Timestamp::now(), applied },
                self.draft("dsr.run.finish", &format!("run:{id}"), detail),
            )
            .await
        {
            Ok(_) => Ok(()),
            // Finished by another process that resumed the same run.
            Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn flag(&self, request: &Request, plan: &Plan) -> Result<Outcome, DsrError> {
        let found = self.discover(request, plan).await?;
        // The activities objected to: those named, or every direct-marketing one (Art. 21(3)).
        let purposes: Vec<String> = if request.kind == RequestKind::Objection {
            if request.objections.is_empty() {
                self.policy.activities.iter().filter(|a| a.direct_marketing).map(|a| a.id.clone()).collect()
            } else {
                request.objections.clone()
            }
        } else {
            Vec::new()
        };
        if request.kind == RequestKind::Objection && purposes.is_empty() {
            return Err(DsrError::Invalid(
                "the policy has no direct-marketing activity; name the activities objected to (`--purpose ID`)".into(),
            ));
        }
        let key = request.key();
        let tenant = &self.tenant;
        let mut subject = None;
        let mut candidates: Vec<&Identity> = request.identities.iter().collect();
        candidates.extend(found.identities.iter().filter(|i| !request.identities.contains(i)));
        for i in candidates {
            if let Some(s) = self.store.find_subject_by_identity(tenant, i).await? {
                subject = Some(s);
                break;
            }
        }
        let registered = subject.is_none();
        let subject = match subject {
            Some(s) => s,
            None => {
                let kind = found
                    .datasets
                    .iter()
                    .zip(&self.datasets)
                    .flat_map(|(fd, ds)| {
                        fd.tables
                            .iter()
                            .filter(|(_, r)| !r.rows.is_empty())
                            .filter_map(|(t, _)| ds.table(t)?.subject_type.clone())
                    })
                    .next()
                    .unwrap_or_else(|| "person".to_owned());
                let new = NewSubject {
                    tenant: tenant.clone(),
                    kind,
                    identities: request.identities.clone(),
                    birth_date: None,
                    jurisdiction: None,
                    created_at: Timestamp::now(),
                };
                let detail = serde_json::json!({ "request": key });
                self.store.register_subject(new, self.draft("subject.register", "request", detail)).await?.value
            }
        };
        let now = Timestamp::now();
        let new_run = NewRun {
            tenant: tenant.clone(),
            request_key: key.clone(),
            kind: request.kind.as_str().to_owned(),
            identities: request.identities.iter().map(Identity::key).collect(),
            scope: request.scope.key(),
            plan_hash: plan.hash(),
            report: "{}".into(),
            created_at: now,
        };
        let run = match self
            .store
            .create_run(
                new_run,
                Vec::new(),
                self.draft("dsr.run.create", "request", serde_json::json!({ "request": key })),
            )
            .await
        {
            Ok(w) => w.value,
            Err(StoreError::Conflict(_)) => match self.store.find_open_run(tenant, &key).await? {
                Some(r) => r,
                None => {
                    return Err(DsrError::Resume("the request's run changed while preparing it; run it again".into()));
                }
            },
            Err(e) => return Err(e.into()),
        };
        let mut flags = Vec::new();
        let target = format!("subject:{}", subject.id);
        if request.kind == RequestKind::Restriction {
            let flag = SubjectFlag {
                kind: FlagKind::Restricted,
                set_at: now,
                due: None,
                detail: Some(format!("restriction request (GDPR Art. 18), run {}", run.id)),
            };
            self.store
                .set_flag(
                    tenant,
                    subject.id,
                    flag,
                    self.draft("subject.flag", &target, serde_json::json!({ "flag": "restricted" })),
                )
                .await?;
            flags.push(FlagKind::Restricted.name());
        } else {
            for p in &purposes {
                let kind = FlagKind::Objection(p.clone());
                let flag = SubjectFlag {
                    kind: kind.clone(),
                    set_at: now,
                    due: None,
                    detail: Some(format!("objection (GDPR Art. 21), run {}", run.id)),
                };
                self.store
                    .set_flag(
                        tenant,
                        subject.id,
                        flag,
                        self.draft("subject.flag", &target, serde_json::json!({ "flag": kind.name() })),
                    )
                    .await?;
                flags.push(kind.name());
            }
            // The decision engine reads objections from the consent ledger: record them there
            // too, so that decisions deny the purposes at once.
            let index = covenant_engine::PolicyIndex::compile(&self.policy);
            let direct_marketing_all = request.objections.is_empty();
            let actions: Vec<covenant_engine::ledger::Action<'_>> = if direct_marketing_all {
                vec![covenant_engine::ledger::Action::ObjectToDirectMarketing]
            } else {
                purposes.iter().map(|p| covenant_engine::ledger::Action::Object(p)).collect()
            };
            for action in actions {
                let meta = covenant_engine::ledger::RecordMeta {
                    id: RecordId::from_uuid(uuid_v7()),
                    tenant: tenant.clone(),
                    subject: subject.id,
                    notice_hash: self.notice_hash.clone(),
                    method: CollectionMethod::Admin,
                    at: now,
                    actor: self.actor.clone(),
                    evidence: Some(format!("data-subject request run {}", run.id)),
                };
                let record = covenant_engine::ledger::record(&index, action, meta)
                    .map_err(|e| DsrError::Invalid(e.to_string()))?;
                self.store
                    .append_consent(
                        record,
                        self.draft("consent.append", &target, serde_json::json!({ "objection": true })),
                    )
                    .await?;
            }
        }
        let summary = match request.kind {
            RequestKind::Restriction => "Processing of your data is restricted: we keep it and use it for nothing else without your consent (GDPR Art. 18).".to_owned(),
            _ => format!("Your objection is recorded: we no longer process your data for {}.", purposes.join(", ")),
        };
        let report =
            FlagReport { run: run.id.to_string(), subject: subject.id.to_string(), registered, flags, summary };
        let json = serde_json::to_string(&report).map_err(|e| DsrError::Internal(e.to_string()))?;
        let detail = serde_json::json!({ "run": run.id.to_string(), "state": "done" });
        match self
            .store
            .finish_run(
                tenant,
                run.id,
                FinishRun { state: RunState::Done, report: json, at: now, applied: Vec::new() },
                self.draft("dsr.run.finish", &format!("run:{}", run.id), detail),
            )
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(match request.kind {
            RequestKind::Restriction => Outcome::Restriction(report),
            _ => Outcome::Objection(report),
        })
    }
}

enum Prepared {
    /// A new run: its record, steps and report, not in the journal yet.
    Fresh(Box<Fresh>),
    /// The open run of the same request.
    Open(RunId),
}

/// A run computed from what discovery found, to record in the journal and apply.
struct Fresh {
    /// The request's key in the journal.
    key: String,
    run: NewRun,
    /// The steps as the journal records them.
    steps: Vec<NewStep>,
    /// The same steps, to apply.
    pending: Vec<PendingStep>,
    /// The report the run gives once done (without the run's id).
    report: WriteReport,
}

/// A batch whose writes are committed (or failed): what is left is to close its runs in the
/// journal and to run its requests that are not written with it.
struct Written {
    /// The results known already (requests that failed, or were applied one by one).
    results: Vec<Option<Result<Outcome, DsrError>>>,
    closing: Vec<Closing>,
    /// Requests that run alone (other kinds, open runs), with their open run.
    alone: Vec<(usize, Option<RunId>)>,
}

/// A run of a written batch, to be closed in the journal.
struct Closing {
    /// The request's index in its batch.
    index: usize,
    run: RunId,
    report: WriteReport,
    /// Rows changed per step.
    marks: Vec<(u32, u64)>,
    /// The error of a database whose write failed for this request: the run stays open.
    failed: Option<DsrError>,
}

/// A store error shared by several waiters, back as the error of one.
/// What a plan's discovery depends on: requests with the same key look up people the same way
/// and can be looked up together.
fn lookup_key(plan: &Plan) -> String {
    let datasets: Vec<_> =
        plan.datasets.iter().map(|d| serde_json::json!([d.id, d.lookups, d.mentions, d.referred, d.tables])).collect();
    serde_json::json!([plan.scope, datasets]).to_string()
}

fn shared_error(e: Arc<StoreError>) -> DsrError {
    match Arc::try_unwrap(e) {
        Ok(e) => e.into(),
        Err(e) => DsrError::Internal(e.to_string()),
    }
}

/// A step to apply: its number in the run, its database and its operations.
struct PendingStep {
    seq: u32,
    dataset: String,
    ops: Vec<WriteOp>,
}

fn uuid_v7() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

fn wrap(kind: RequestKind, r: WriteReport) -> Outcome {
    match kind {
        RequestKind::Rectification => Outcome::Rectification(r),
        _ => Outcome::Erasure(r),
    }
}

fn summary(kind: RequestKind, steps: &[StepReport], kept: &[report::KeptReport], found: &Found) -> String {
    let deleted: u64 = steps.iter().flat_map(|s| s.counts.deleted.values()).sum();
    let updated: u64 = steps.iter().flat_map(|s| s.counts.updated.values()).sum();
    let mut s = match kind {
        RequestKind::Rectification => format!("Corrected {updated} record(s)."),
        _ => format!("Deleted {deleted} record(s) and erased personal data in {updated} more."),
    };
    if !kept.is_empty() {
        let holds: std::collections::BTreeSet<String> =
            kept.iter().map(|k| format!("{} ({})", k.hold.name, k.hold.basis)).collect();
        s.push_str(&format!(
            " Some records are kept because the law requires it: {}.",
            holds.into_iter().collect::<Vec<_>>().join("; ")
        ));
    }
    if !found.referred.is_empty() {
        s.push_str(" Some data is held for our customers, who decide about it: please contact them.");
    }
    s
}

/// The operations of a step in doubt whose effect is not in the database yet: rows still
/// present for a delete; rows whose values differ from the new ones for an update (rows gone
/// need nothing). A mention cut by reference is addressed by the reference it nulls: once
/// applied, no row holds its key any more, and it is left out.
async fn missing_ops(connector: &Connector, dataset: &str, ops: Vec<WriteOp>) -> Result<Vec<WriteOp>, DsrError> {
    let mut out = Vec::new();
    for op in ops {
        let key_len = op.key_columns().len();
        let (columns, wanted): (Vec<String>, Vec<Value>) = match &op {
            WriteOp::Update { set, .. } => set.iter().cloned().unzip(),
            WriteOp::Delete { .. } => (Vec::new(), Vec::new()),
        };
        let current = connector
            .read_back(op.table(), op.key_columns(), op.keys(), &columns)
            .await
            .map_err(DsrError::db(dataset))?;
        let mut needed = Vec::new();
        for row in current {
            let (key, values) = row.split_at(key_len.min(row.len()));
            let done = match &op {
                WriteOp::Delete { .. } => false,
                WriteOp::Update { .. } => values.iter().zip(&wanted).all(|(a, b)| a.same(b)),
            };
            if !done {
                // The key as the journal has it, so the same statement shapes are used.
                let k = op.keys().iter().find(|k| k.iter().zip(key).all(|(a, b)| a.same(b))).cloned();
                let k = k.unwrap_or_else(|| key.to_vec());
                // Mentions cut by reference: many rows hold one key.
                if !needed.contains(&k) {
                    needed.push(k);
                }
            }
        }
        if !needed.is_empty() {
            out.push(op.with_keys(needed));
        }
    }
    Ok(out)
}

fn check_request(r: &Request) -> Result<(), DsrError> {
    if r.identities.is_empty() {
        return Err(DsrError::Invalid(
            "a request needs at least one identity (`--identity email=ada@example.com`)".into(),
        ));
    }
    if r.identities.len() > 100 {
        return Err(DsrError::Invalid("a request may name at most 100 identities".into()));
    }
    match r.kind {
        RequestKind::Rectification if r.corrections.is_empty() => Err(DsrError::Invalid(
            "a rectification needs the corrected value: `--set email=new@example.com` (an identity kind or a category)"
                .into(),
        )),
        RequestKind::Rectification => Ok(()),
        _ if !r.corrections.is_empty() => {
            Err(DsrError::Invalid(format!("`--set` is for rectification, not for `{}`", r.kind)))
        }
        RequestKind::Objection => Ok(()),
        _ if !r.objections.is_empty() => {
            Err(DsrError::Invalid(format!("`--purpose` is for objection, not for `{}`", r.kind)))
        }
        _ => Ok(()),
    }
}

impl<S: Store + JournalStore + 'static> RequestExecutor for Executor<S> {
    async fn execute(&self, request: &Request, progress: &dyn Progress) -> Result<Outcome, DsrError> {
        self.run(request, progress).await
    }
}
