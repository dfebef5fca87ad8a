//! The dataset fulfiller: carries verified requests out in the company's own application
//! databases, through covenant-dsr's journaled executor (see `docs/requests-execution.md`).
//!
//! Access, export and confirmation read the person's rows; the answer to access and export is
//! also rendered, by covenant-dsr's `export` module, as the readable HTML report, the JSON
//! document and the CSV archive, for the person to download. Erasure and rectification write them,
//! journaled under the request's id so that a retried job resumes its run instead of starting
//! another. Restriction, objection and post-death instructions are Covenant's own records and
//! are left to the built-in fulfiller.

use std::sync::Arc;

use covenant_core::RequestKind;
use covenant_dsr::{Correction, DsrError, Executor, Quiet, Request, Scope};
use covenant_store::SqlStore;
use futures_util::future::BoxFuture;

use crate::fulfil::{ActionTaken, Document, Format, FulfilError, FulfilRequest, Fulfiller, Kept, Outcome};

/// The name reports and errors give the application databases.
pub const SYSTEM: &str = "datasets";

/// Fulfils requests in the annotated application databases of one configuration.
pub struct DatasetFulfiller {
    exec: Arc<Executor<SqlStore>>,
}

impl DatasetFulfiller {
    pub fn new(exec: Arc<Executor<SqlStore>>) -> DatasetFulfiller {
        DatasetFulfiller { exec }
    }

    /// The executor's request for a workflow request, or `None` when there is nothing to do in
    /// the application databases.
    fn request(&self, req: &FulfilRequest) -> Result<Option<Request>, FulfilError> {
        use covenant_dsr::RequestKind as K;
        // The databases belong to one tenant: another tenant's requests never reach them.
        if &req.tenant != self.exec.tenant() {
            return Ok(None);
        }
        let kind = match req.kind {
            RequestKind::Access => K::Access,
            RequestKind::Export => K::Export,
            RequestKind::Confirm => K::Confirm,
            RequestKind::Erasure => K::Erasure,
            RequestKind::Rectification => K::Rectification,
            RequestKind::Restriction | RequestKind::Objection | RequestKind::PostDeath => return Ok(None),
        };
        let mut request = Request::new(kind, vec![req.identity.clone()]);
        request.request_id = Some(req.id.to_string());
        // A customer's instruction, or a request we handle for a customer (promise W9), acts on
        // that customer's rows (promises O3, P7); the customer id is the value of the tables'
        // `controller` column.
        if let Some(customer) = &req.customer {
            request.scope = Scope::Customer(customer.to_string());
        }
        if kind == K::Rectification {
            let field = req.details.get("field").and_then(|v| v.as_str());
            let value = req.details.get("value").and_then(|v| v.as_str());
            let (Some(field), Some(value)) = (field, value) else {
                return Err(FulfilError::new(
                    SYSTEM,
                    "a rectification needs `details.field` (an identity kind or a category) and `details.value`",
                ));
            };
            let correction = Correction::parse(&format!("{field}={value}"), self.exec.datasets())
                .map_err(|e| FulfilError::new(SYSTEM, e))?;
            request.corrections.push(correction);
        }
        Ok(Some(request))
    }
}

impl Fulfiller for DatasetFulfiller {
    fn name(&self) -> &str {
        SYSTEM
    }

    fn fulfil<'a>(&'a self, req: &'a FulfilRequest) -> BoxFuture<'a, Result<Outcome, FulfilError>> {
        Box::pin(async move {
            let Some(request) = self.request(req)? else {
                return Ok(Outcome::default());
            };
            answer(self.exec.run(&request, &Quiet).await)
        })
    }

    /// The requests' people are looked up together and their writes applied in one
    /// transaction per database and chunk of [`CHUNK`] (`Executor::run_batches`), each request
    /// journaled as its own run.
    fn fulfil_many<'a>(&'a self, reqs: &'a [FulfilRequest]) -> BoxFuture<'a, Vec<Result<Outcome, FulfilError>>> {
        Box::pin(async move {
            let mut out: Vec<Option<Result<Outcome, FulfilError>>> = reqs.iter().map(|_| None).collect();
            let (mut batch, mut at) = (Vec::new(), Vec::new());
            for (i, r) in reqs.iter().enumerate() {
                match self.request(r) {
                    Err(e) => out[i] = Some(Err(e)),
                    Ok(None) => out[i] = Some(Ok(Outcome::default())),
                    Ok(Some(request)) => {
                        at.push(i);
                        batch.push(request);
                    }
                }
            }
            if !batch.is_empty() {
                let done = self.exec.run_batches(&batch, CHUNK, LOOKUP_PARTS, &Quiet).await;
                for (i, d) in at.into_iter().zip(done) {
                    out[i] = Some(answer(d));
                }
            }
            out.into_iter()
                .map(|o| {
                    o.unwrap_or_else(|| Err(FulfilError::new(SYSTEM, "the executor gave no result for a request")))
                })
                .collect()
        })
    }
}

/// How many parts of a batch's people are looked up at the same time (on as many connections).
const LOOKUP_PARTS: usize = 4;

/// Requests written in one transaction per database; a larger batch is written in chunks, the
/// next chunk's people looked up while one is written (`Executor::run_batches`).
const CHUNK: usize = 50;

/// The workflow's outcome of an executor's result, with the answer's files for access and export.
fn answer(done: Result<covenant_dsr::Outcome, DsrError>) -> Result<Outcome, FulfilError> {
    let done = done.map_err(|e| FulfilError::new(SYSTEM, e))?;
    let documents = documents(&done).map_err(|e| FulfilError::new(SYSTEM, e))?;
    Ok(Outcome { documents, ..outcome(done) })
}

/// The workflow's outcome for the executor's: counts per table, what was kept and why (T5),
/// data held for customers (T7), and the report itself.
pub fn outcome(done: covenant_dsr::Outcome) -> Outcome {
    use covenant_dsr::Outcome as O;
    let report = serde_json::to_value(&done).ok();
    let mut out = Outcome { report, ..Outcome::default() };
    match done {
        O::Access(r) | O::Export(r) => {
            let rows: usize = r.tables.iter().map(|t| t.rows.len()).sum();
            out.actions.push(ActionTaken {
                system: SYSTEM.into(),
                table: None,
                action: "exported".into(),
                count: rows as u64,
            });
            for referral in &r.referred {
                out.kept.push(referred(referral));
            }
        }
        O::Confirm(c) => {
            for referral in &c.referred {
                out.kept.push(referred(referral));
            }
        }
        O::Erasure(w) | O::Rectification(w) => {
            let rectified = w.correction.is_some();
            for step in &w.steps {
                let c = &step.counts;
                for (table, n) in &c.deleted {
                    out.actions.push(action(&step.dataset, table, "erased", *n));
                }
                for (table, n) in &c.updated {
                    out.actions.push(action(
                        &step.dataset,
                        table,
                        if rectified { "rectified" } else { "anonymised" },
                        *n,
                    ));
                }
                for (table, n) in &c.mentions_cut {
                    out.actions.push(action(&step.dataset, table, "mention_removed", *n));
                }
            }
            for k in &w.kept {
                let what = if k.columns.is_empty() {
                    format!("{} rows of {}", k.rows, k.table)
                } else {
                    format!("{} of {} rows of {}", k.columns.join(", "), k.rows, k.table)
                };
                out.kept.push(Kept {
                    what,
                    basis: format!("{}: {} (kept {})", k.hold.name, k.hold.basis, k.hold.period),
                    system: Some(k.dataset.clone()),
                });
            }
            for referral in &w.referred {
                out.kept.push(referred(referral));
            }
        }
        O::Restriction(_) | O::Objection(_) => {}
    }
    out
}

/// The answer to an access or export request as files for the person (promises W6, P6): the
/// readable HTML report, the JSON document and the CSV archive, rendered by covenant-dsr's
/// `export` module from the access report. Other kinds have none.
pub fn documents(done: &covenant_dsr::Outcome) -> Result<Vec<Document>, DsrError> {
    use covenant_dsr::Outcome as O;
    let (O::Access(r) | O::Export(r)) = done else { return Ok(Vec::new()) };
    let doc = |format, bytes| Document { system: SYSTEM.to_owned(), format, bytes };
    Ok(vec![
        doc(Format::Html, covenant_dsr::export::html(r)?.into_bytes()),
        doc(Format::Json, covenant_dsr::export::json(r).into_bytes()),
        doc(Format::Csv, covenant_dsr::export::csv_zip(r)?),
    ])
}

fn action(dataset: &str, table: &str, action: &str, count: u64) -> ActionTaken {
    ActionTaken { system: dataset.to_owned(), table: Some(table.to_owned()), action: action.to_owned(), count }
}

/// Data we process for customers is theirs to answer for (promise T7).
fn referred(r: &covenant_dsr::report::ReferralReport) -> Kept {
    let rows: u64 = r.customers.values().sum();
    let controllers = if r.controllers.is_empty() { "our customer".to_owned() } else { r.controllers.join("; ") };
    Kept {
        what: format!("{rows} rows of {} held for {} customer(s)", r.table, r.customers.len()),
        basis: format!("processed on behalf of {controllers}, the controller, to whom the request is referred"),
        system: Some(r.dataset.clone()),
    }
}
