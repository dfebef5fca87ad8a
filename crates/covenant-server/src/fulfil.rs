//! The fulfilment seam: what carries a verified, approved request out.
//!
//! The worker claims a `request.fulfil` job and calls each [`Fulfiller`] in order: first the
//! built-in [`CovenantFulfiller`], which acts on Covenant's own store, then those the server was
//! given ([`crate::state::AppState::with_fulfillers`]), such as one that reads, erases or corrects
//! data in the company's application databases. Their [`Outcome`]s are merged into the answer:
//! what was done (per system and table, with counts), what was kept and on what legal basis, and a
//! report (for access and export, the data itself). A fulfiller may also render the answer as
//! [`Document`]s (the readable HTML report, the JSON document, the CSV archive): the worker keeps
//! them, encrypted, for the person to download (see [`crate::answers`]).
//!
//! A fulfiller must be idempotent: a failed attempt is retried (with backoff) from the start.

use std::sync::Arc;

use covenant_core::audit::AuditDraft;
use covenant_core::ledger::CollectionMethod;
use covenant_core::{CustomerId, Identity, Jurisdiction, RequestId, RequestKind, SubjectId, TenantId};
use covenant_engine::ledger::{Action, RecordMeta, record};
use covenant_store::{FlagKind, Store as _, StoreError, SubjectFlag};
use futures_util::future::BoxFuture;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::convert::{event_out, flag_out, identity_out, record_out};
use crate::routes::record_id;
use crate::state::Shared;

/// A request as a fulfiller sees it.
#[derive(Clone, Debug)]
pub struct FulfilRequest {
    pub tenant: TenantId,
    pub id: RequestId,
    pub kind: RequestKind,
    pub identity: Identity,
    /// The subject in Covenant's store, when the identity is known there.
    pub subject: Option<SubjectId>,
    pub jurisdiction: Option<Jurisdiction>,
    /// The controller we process for, in processor mode.
    pub customer: Option<CustomerId>,
    /// A controller's instruction (promise P7) rather than the person's own request.
    pub instructed_by_controller: bool,
    /// What the request says: `field` and `value` (rectification), `instructions` (post_death),
    /// `activities` and `direct_marketing` (objection), `note`.
    pub details: Value,
}

/// Something done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionTaken {
    /// `covenant`, or the application system (`billing-db`).
    pub system: String,
    pub table: Option<String>,
    /// `restricted`, `objection_recorded`, `exported`, `erased`, `rectified`, …
    pub action: String,
    pub count: u64,
}

/// Something kept, and why (GDPR Art. 17(3); promise T5: "some records may be kept for legal
/// obligations").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub what: String,
    /// The legal basis for keeping it.
    pub basis: String,
    pub system: Option<String>,
}

/// The formats an answer is rendered in for the person to download.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// The readable report, to read or print.
    Html,
    /// The JSON document (`export.json`, schema in `docs/exports.md`).
    Json,
    /// One CSV file per table and a README, zipped.
    Csv,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Html, Format::Json, Format::Csv];

    /// The wire name: `html`, `json`, `csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
            Format::Csv => "application/zip",
        }
    }

    /// The file's name, as `covenant dsr run --out` writes it.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Html => "report.html",
            Format::Json => "export.json",
            Format::Csv => "export-csv.zip",
        }
    }

    /// What the file is, for a person.
    pub fn label(self) -> &'static str {
        match self {
            Format::Html => "A readable report (HTML, to read or print)",
            Format::Json => "Your data as JSON (machine-readable)",
            Format::Csv => "Your data as CSV files, one per table (zip)",
        }
    }
}

/// An answer rendered as a file for the person to download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// The system that rendered it (set by [`Outcome::merge`]).
    pub system: String,
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// What a fulfiller did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub actions: Vec<ActionTaken>,
    pub kept: Vec<Kept>,
    /// For access and export: the data; for confirm: whether any is held.
    pub report: Option<Value>,
    /// For access and export: the answer rendered for download, at most one file per format.
    #[serde(skip)]
    pub documents: Vec<Document>,
}

impl Outcome {
    /// Adds another fulfiller's outcome; reports are gathered under each system's name. Of two
    /// documents of one format, the first is kept.
    pub fn merge(&mut self, system: &str, other: Outcome) {
        self.actions.extend(other.actions);
        self.kept.extend(other.kept);
        if let Some(r) = other.report {
            let report = self.report.get_or_insert_with(|| json!({}));
            if let Some(map) = report.as_object_mut() {
                map.insert(system.to_owned(), r);
            }
        }
        for mut d in other.documents {
            if self.documents.iter().any(|x| x.format == d.format) {
                tracing::warn!(
                    system,
                    format = d.format.as_str(),
                    "a second answer of this format was rendered; the first is kept"
                );
                continue;
            }
            d.system = system.to_owned();
            self.documents.push(d);
        }
    }
}

/// Why a fulfiller could not finish. Every failure is retried, up to the job's attempts.
#[derive(Debug, thiserror::Error)]
#[error("{system}: {message}")]
pub struct FulfilError {
    pub system: String,
    pub message: String,
}

impl FulfilError {
    pub fn new(system: &str, message: impl std::fmt::Display) -> FulfilError {
        FulfilError { system: system.to_owned(), message: message.to_string() }
    }
}

/// Carries out requests in one system.
pub trait Fulfiller: Send + Sync + 'static {
    /// The system's name, for reports and errors (`covenant`, `app-db`).
    fn name(&self) -> &str;
    fn fulfil<'a>(&'a self, req: &'a FulfilRequest) -> BoxFuture<'a, Result<Outcome, FulfilError>>;

    /// Fulfils several requests together, as a worker that claimed several jobs does: one result
    /// per request, in their order, each as [`Fulfiller::fulfil`] would have given it. The
    /// default fulfils them one after the other; a system that does better in batches (the
    /// application databases: one lookup and one transaction for many people) overrides it.
    fn fulfil_many<'a>(&'a self, reqs: &'a [FulfilRequest]) -> BoxFuture<'a, Vec<Result<Outcome, FulfilError>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(reqs.len());
            for r in reqs {
                out.push(self.fulfil(r).await);
            }
            out
        })
    }
}

/// The built-in fulfiller: acts on Covenant's own store and decision cache.
///
/// - restriction: sets the `restricted` flag; decisions deny from then on (GDPR Art. 18).
/// - objection: records the objection in the ledger and sets `objection:<activity>` flags; an
///   objection to direct marketing covers every direct-marketing activity and is absolute
///   (Art. 21(3)).
/// - confirm: whether Covenant holds the person (promise O4).
/// - access and export: the person's identities, flags, lifecycle events and consent ledger.
/// - erasure: Covenant's records of the person's choices are kept as evidence (promise W10);
///   application data is for the fulfillers of the application's databases.
/// - post_death: the instructions are kept with the request (promise W6).
pub struct CovenantFulfiller {
    state: Shared,
}

impl CovenantFulfiller {
    pub fn new(state: Shared) -> CovenantFulfiller {
        CovenantFulfiller { state }
    }
}

impl Fulfiller for CovenantFulfiller {
    fn name(&self) -> &str {
        "covenant"
    }

    fn fulfil<'a>(&'a self, req: &'a FulfilRequest) -> BoxFuture<'a, Result<Outcome, FulfilError>> {
        Box::pin(async move { builtin(&self.state, req).await.map_err(|e| FulfilError::new("covenant", e)) })
    }

    /// A few at a time: mostly store reads (is the person known?), whose writes the store
    /// commits together.
    fn fulfil_many<'a>(&'a self, reqs: &'a [FulfilRequest]) -> BoxFuture<'a, Vec<Result<Outcome, FulfilError>>> {
        use futures_util::StreamExt as _;
        Box::pin(futures_util::stream::iter(reqs).map(|r| self.fulfil(r)).buffered(8).collect())
    }
}

/// All the fulfillers, the built-in one first.
pub fn chain(state: &Shared) -> Vec<Arc<dyn Fulfiller>> {
    let mut v: Vec<Arc<dyn Fulfiller>> = vec![Arc::new(CovenantFulfiller::new(state.clone()))];
    v.extend(state.requests.fulfillers.iter().cloned());
    v
}

fn act(table: &str, action: &str, count: u64) -> ActionTaken {
    ActionTaken { system: "covenant".into(), table: Some(table.into()), action: action.into(), count }
}

fn evidence_basis(state: &Shared) -> String {
    // The policy's own legal hold for the records of people's choices, when it has one.
    let policy = &state.policy.policy;
    policy
        .legal_holds
        .iter()
        .find(|h| h.activities.iter().any(|a| a == "privacy_requests"))
        .map(|h| format!("{} ({}, {})", h.basis, h.name, h.period))
        .unwrap_or_else(|| {
            "evidence that your choices and requests were respected (GDPR Art. 5(2) and 7(1)), kept for the \
             limitation period of legal claims"
                .to_owned()
        })
}

async fn builtin(state: &Shared, req: &FulfilRequest) -> Result<Outcome, StoreError> {
    let store = &state.store;
    let subject = match req.subject {
        Some(s) => Some(s),
        None => store.find_subject_by_identity(&req.tenant, &req.identity).await?.map(|s| s.id),
    };
    let mut out = Outcome::default();
    if req.kind == RequestKind::PostDeath {
        // promise W6: kept with the request, whether or not we hold anything else.
        out.actions.push(act("requests", "instructions_recorded", 1));
        out.kept.push(Kept {
            what: "your instructions for after your death".to_owned(),
            basis: "kept to be carried out when the time comes (promise W6)".to_owned(),
            system: Some("covenant".to_owned()),
        });
        return Ok(out);
    }
    let Some(subject) = subject else {
        if req.kind == RequestKind::Confirm {
            out.report = Some(json!({"held": false}));
        }
        return Ok(out);
    };
    let target = format!("subject:{subject}");
    let actor = format!("request:{}", req.id);
    let draft = |action: &str, detail: Value| AuditDraft::new(&actor, action, &target, detail.to_string());
    let tc = state.tenant_cache(&req.tenant);
    let now = Timestamp::now();
    match req.kind {
        RequestKind::Restriction => {
            let flag = SubjectFlag {
                kind: FlagKind::Restricted,
                set_at: now,
                due: None,
                detail: Some(format!("restricted by request {}", req.id)),
            };
            store
                .set_flag(&req.tenant, subject, flag, draft("subject.flag.set", json!({"flag": "restricted"})))
                .await?;
            tc.set_restricted(subject, true);
            out.actions.push(act("subject_flags", "restricted", 1));
        }
        RequestKind::Objection => {
            let index = state.index().clone();
            let policy = &state.policy.policy;
            let named: Vec<String> = req.details["activities"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let mut actions: Vec<Action<'_>> = named.iter().map(|a| Action::Object(a)).collect();
            let mut activities = named.clone();
            let direct = req.details["direct_marketing"].as_bool().unwrap_or(false);
            if direct {
                // Absolute (GDPR Art. 21(3)): every direct-marketing activity of the policy.
                actions.push(Action::ObjectToDirectMarketing);
                activities.extend(policy.activities.iter().filter(|a| a.direct_marketing).map(|a| a.id.clone()));
            }
            let mut recorded = 0;
            for action in actions {
                let meta = RecordMeta {
                    id: record_id(),
                    tenant: req.tenant.clone(),
                    subject,
                    notice_hash: state.policy.notice_hash.clone(),
                    method: CollectionMethod::Api,
                    at: now,
                    actor: actor.clone(),
                    evidence: Some(format!("data-subject request {}", req.id)),
                };
                let r = record(&index, action, meta)
                    .map_err(|e| StoreError::Invalid { field: "activities", reason: e.to_string() })?;
                let detail = json!({"record": r.id.to_string(), "purpose": r.purpose, "request": req.id.to_string()});
                let w = store.append_consent(r, draft("consent.object", detail)).await?;
                state.applied(&w.value);
                recorded += 1;
            }
            activities.sort();
            activities.dedup();
            for a in &activities {
                let flag = SubjectFlag {
                    kind: FlagKind::Objection(a.clone()),
                    set_at: now,
                    due: None,
                    detail: Some(format!("objection by request {}", req.id)),
                };
                store
                    .set_flag(
                        &req.tenant,
                        subject,
                        flag,
                        draft("subject.flag.set", json!({"flag": "objection", "activity": a})),
                    )
                    .await?;
            }
            out.actions.push(act("consent_records", "objection_recorded", recorded));
            out.actions.push(act("subject_flags", "objection_flagged", activities.len() as u64));
        }
        RequestKind::Confirm => {
            out.report = Some(json!({"held": true}));
        }
        RequestKind::Access | RequestKind::Export => {
            let s = store.get_subject(&req.tenant, subject).await?;
            let events = store.list_events(&req.tenant, subject).await?;
            let records = store.consent_history(&req.tenant, subject).await?;
            store.record_read(&req.tenant, draft("subject.read", json!({"by": "request", "kind": req.kind}))).await?;
            out.report = Some(json!({
                "subject": {
                    "id": s.id.to_string(),
                    "type": s.kind,
                    "identities": s.identities.iter().map(identity_out).collect::<Vec<_>>(),
                    "birth_date": s.birth_date.map(|d| d.to_string()),
                    "jurisdiction": s.jurisdiction.as_ref().map(|j| j.as_str().to_owned()),
                    "created_at": s.created_at.to_string(),
                },
                "flags": s.flags.iter().map(flag_out).collect::<Vec<_>>(),
                "events": events.iter().map(event_out).collect::<Vec<_>>(),
                "consents": records.iter().map(record_out).collect::<Vec<_>>(),
            }));
            out.actions.push(act("subjects", "exported", 1));
            out.actions.push(act("consent_records", "exported", records.len() as u64));
        }
        RequestKind::Erasure => {
            // promise W10: the ledger is the evidence that the person's choices were respected.
            out.kept.push(Kept {
                what: "your identities in our privacy records, and the record of your consents, objections and \
                       requests"
                    .to_owned(),
                basis: evidence_basis(state),
                system: Some("covenant".to_owned()),
            });
        }
        RequestKind::PostDeath | RequestKind::Rectification => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(format: Format, text: &str) -> Document {
        Document { system: String::new(), format, bytes: text.as_bytes().to_vec() }
    }

    #[test]
    fn formats_round_trip_by_name() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
        assert_eq!(Format::parse("pdf"), None);
        assert_eq!(Format::parse("HTML"), None);
    }

    #[test]
    fn merged_documents_name_their_system_and_the_first_of_a_format_is_kept() {
        let mut all = Outcome::default();
        let first = Outcome { documents: vec![doc(Format::Html, "a"), doc(Format::Csv, "b")], ..Outcome::default() };
        let second = Outcome { documents: vec![doc(Format::Html, "c"), doc(Format::Json, "d")], ..Outcome::default() };
        all.merge("crm", first);
        all.merge("billing", second);
        let got: Vec<(&str, Format, &[u8])> =
            all.documents.iter().map(|d| (d.system.as_str(), d.format, d.bytes.as_slice())).collect();
        assert_eq!(
            got,
            [("crm", Format::Html, &b"a"[..]), ("crm", Format::Csv, &b"b"[..]), ("billing", Format::Json, &b"d"[..])]
        );
    }
}
