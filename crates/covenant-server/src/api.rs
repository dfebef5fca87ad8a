//! The JSON shapes of requests and answers. Domain types stay free of HTTP concerns: these are
//! converted to and from them in the handlers. Every request struct refuses unknown fields.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An identity as sent: `{"kind": "email", "value": "ada@example.com"}`. Kinds: `email`,
/// `phone` (international form), `account_id`, `external:<system>`.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    #[schema(example = "email")]
    pub kind: String,
    #[schema(example = "ada@example.com")]
    pub value: String,
}

/// A normalised identity.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct IdentityOut {
    #[schema(example = "email")]
    pub kind: String,
    #[schema(example = "ada@example.com")]
    pub value: String,
}

/// Where a person lives, for minimum ages and deadlines.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionIn {
    /// ISO 3166-1 alpha-2 country code.
    #[schema(example = "US")]
    pub country: String,
    /// ISO 3166-2 subdivision code without the country, e.g. `CA` for California.
    #[serde(default)]
    #[schema(example = "CA")]
    pub subdivision: Option<String>,
}

/// Register a data subject.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterSubject {
    /// A subject type of the policy (`user`, `visitor`, …).
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub subject_type: String,
    /// At least one.
    pub identities: Vec<IdentityIn>,
    /// `YYYY-MM-DD`. When given, people under the policy's minimum age are refused.
    #[serde(default)]
    #[schema(example = "1990-04-01")]
    pub birth_date: Option<String>,
    #[serde(default)]
    pub jurisdiction: Option<JurisdictionIn>,
}

/// A flag on a subject.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct FlagOut {
    /// `under_age`, `restricted` or `objection:<purpose>`.
    pub kind: String,
    pub set_at: String,
    /// What is due because of it: for `under_age`, when the data is to be deleted.
    pub due: Option<String>,
    pub detail: Option<String>,
}

/// A lifecycle event.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct EventOut {
    pub kind: String,
    pub at: String,
    pub detail: Option<String>,
}

/// A data subject.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct SubjectOut {
    #[schema(example = "0190b7a4-6f1e-7c3a-9d2e-1f2a3b4c5d6e")]
    pub id: String,
    #[serde(rename = "type")]
    pub subject_type: String,
    pub identities: Vec<IdentityOut>,
    pub birth_date: Option<String>,
    /// `US-CA`, `FI`, …
    pub jurisdiction: Option<String>,
    pub created_at: String,
    pub flags: Vec<FlagOut>,
    pub events: Vec<EventOut>,
}

/// Find a subject by one of its identities.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupSubject {
    pub identity: IdentityIn,
}

/// Add an identity to a subject.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddIdentity {
    pub identity: IdentityIn,
}

/// Something that happened in the relationship with the person.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendEvent {
    /// `signup`, `last_interaction`, `deactivated` (not a deletion), `reactivated`,
    /// `account_closed`, `contract_terminated`, `subscription_expired`, `deceased`,
    /// `underage_found`.
    #[schema(example = "last_interaction")]
    pub kind: String,
    /// RFC 3339; default: now.
    #[serde(default)]
    pub at: Option<String>,
    /// Free text. For `deceased`, the instructions the person left about their data.
    #[serde(default)]
    pub detail: Option<String>,
}

/// The recorded event, and what it changed.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct EventRecorded {
    pub event: EventOut,
    /// Flags the event set (an `underage_found` event sets `under_age`, with the deletion due).
    pub flags: Vec<FlagOut>,
}

/// What a consent record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    Give,
    Refuse,
    /// One call, as easy as giving (GDPR Art. 7(3)).
    Withdraw,
}

/// How a consent was collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodIn {
    WebForm,
    Api,
    EmailLink,
    Import,
    Admin,
}

/// Give, refuse or withdraw consent to a purpose.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    /// A consent purpose of the policy.
    #[schema(example = "newsletter")]
    pub purpose: String,
    pub action: ConsentAction,
    /// Default: `api`.
    #[serde(default)]
    pub method: Option<MethodIn>,
    /// SHA-256 (lowercase hex) of the notice the person was shown; default: the notice this
    /// server renders from its policy (`GET /v1/policy/notice`).
    #[serde(default)]
    pub notice_hash: Option<String>,
    /// Who acted, if not the person (`support:ada`); default: `subject`.
    #[serde(default)]
    pub actor: Option<String>,
    /// Proof: a form id, a message id, a screenshot reference.
    #[serde(default)]
    pub evidence: Option<String>,
}

/// One record of the consent ledger.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct LedgerRecordOut {
    pub id: String,
    /// A consent purpose, or a preference: `recipient:<id>`, `activity:<id>`,
    /// `all:direct_marketing`, `signal:gpc`.
    pub purpose: String,
    /// `given`, `refused`, `withdrawn`, `expired`.
    pub status: String,
    pub policy_version: String,
    pub purpose_hash: String,
    pub notice_hash: String,
    /// `web_form`, `api`, `email_link`, `one_click_unsubscribe`, `gpc_signal`, `import`, `admin`.
    pub method: String,
    pub at: String,
    pub actor: String,
    pub evidence: Option<String>,
}

/// The current state of one purpose or preference.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct ConsentStateOut {
    pub purpose: String,
    pub status: String,
    pub at: String,
    pub policy_version: String,
    /// For a consent purpose: given under the purpose's current definition (promise K4).
    pub current: bool,
    pub record: String,
}

/// A subject's consent ledger: every record, and the state they add up to.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct ConsentHistory {
    pub subject: String,
    pub records: Vec<LedgerRecordOut>,
    pub current: Vec<ConsentStateOut>,
}

/// Subscribe to or unsubscribe from a message channel.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPreference {
    #[schema(example = "promotional_email")]
    pub channel: String,
    pub subscribed: bool,
    #[serde(default)]
    pub evidence: Option<String>,
}

/// Opt out of (or back into) disclosure to one recipient (promise P5).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerPreference {
    /// A recipient of the policy that offers an opt-out.
    #[schema(example = "resellers")]
    pub recipient: String,
    pub opted_out: bool,
    #[serde(default)]
    pub evidence: Option<String>,
}

/// Mint an unsubscribe link for a subject: name a consent purpose or a channel, not both.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintUnsubscribe {
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    /// How long the link works, in days (1 to 3650; default 365).
    #[serde(default)]
    pub valid_days: Option<u32>,
}

/// An unsubscribe link, for the `List-Unsubscribe` and `List-Unsubscribe-Post` headers of an email
/// (RFC 8058) and for its footer.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct UnsubscribeLink {
    pub token: String,
    /// The page a person opens; a POST to it with `List-Unsubscribe=One-Click` unsubscribes.
    pub url: String,
    /// The value for the `List-Unsubscribe` header: `<url>`.
    pub list_unsubscribe: String,
    /// The value for the `List-Unsubscribe-Post` header.
    pub list_unsubscribe_post: String,
    pub expires_at: String,
}

/// The result of an unsubscribe.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct Unsubscribed {
    pub unsubscribed: bool,
    /// The consent purpose that was withdrawn.
    pub purpose: String,
    /// False when the person was already unsubscribed (nothing new was recorded).
    pub recorded: bool,
}

/// Whose data a decision is about: `{"id": "…"}` or `{"identity": {"kind": …, "value": …}}`.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub identity: Option<IdentityIn>,
}

/// May this activity use these categories of this person's data now?
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub subject: SubjectRef,
    /// A processing activity of the policy.
    #[schema(example = "newsletter")]
    pub activity: String,
    /// Data categories about to be used (`user.contact.email`); each must lie within the
    /// activity's categories.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The recipient the data is about to be sent to, if any.
    #[serde(default)]
    pub recipient: Option<String>,
}

/// Allow or deny, and why.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct DecisionOut {
    pub allowed: bool,
    /// `allow` or `deny`.
    pub decision: String,
    pub reason: Reason,
}

/// Why.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct Reason {
    /// Stable: `consent_given`, `contract`, `consent_withdrawn`, `no_consent`, `gpc_opt_out`, …
    pub code: String,
    pub message: String,
    /// The legal basis an allowed decision rests on (`consent`, `contract`,
    /// `legitimate_interests`, `legal_obligation`, `vital_interests`, `public_task`,
    /// `controller_instructions`); null when denied.
    pub basis: Option<String>,
}

/// Several decisions at once (at most 100), each for its own subject.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub decisions: Vec<DecisionRequest>,
}

/// The answers, in the order asked.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct BatchOut {
    pub decisions: Vec<DecisionOut>,
}

/// The result of verifying the caller's tenant's audit chain.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct AuditVerification {
    pub tenant: String,
    pub intact: bool,
    /// Entries verified (up to the first bad one).
    pub entries: u64,
    /// The first bad entry, when the chain is broken.
    pub first_bad_entry: Option<u64>,
    pub message: Option<String>,
}

/// `GET /healthz`.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the store does not answer.
    pub status: String,
}

/// `GET /.well-known/gpc.json` (W3C Global Privacy Control).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct GpcSupport {
    pub gpc: bool,
    #[serde(rename = "lastUpdate")]
    #[schema(example = "2025-01-16")]
    pub last_update: String,
}

/// What a channel preference recorded.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct ChannelOut {
    pub channel: String,
    /// The consent purpose that governs the channel.
    pub purpose: String,
    pub subscribed: bool,
    pub record: LedgerRecordOut,
}

/// What a data-subject request says, beyond its kind.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestDetails {
    /// Rectification: the field to correct (`last_name`, `address`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Rectification: the corrected (or added) value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// post_death: what to do with the data after the person's death (promise W6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Objection: the activities objected to (each on legitimate interests, a public task, or
    /// direct marketing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activities: Option<Vec<String>>,
    /// Objection: to all direct marketing (absolute, GDPR Art. 21(3)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_marketing: Option<bool>,
    /// Anything else the person wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Make a data-subject request.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestIn {
    /// `access`, `export`, `erasure`, `rectification`, `restriction`, `objection`, `confirm`,
    /// `post_death`.
    #[schema(example = "access")]
    pub kind: String,
    /// Who the request is about. An email identity also receives the one-time code.
    pub identity: IdentityIn,
    /// Where answers go, when the identity is not an email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Where the person lives: decides the statutory deadline.
    #[serde(default)]
    pub jurisdiction: Option<JurisdictionIn>,
    #[serde(default)]
    pub details: Option<RequestDetails>,
    /// Processor mode: the customer (controller) whose data this is, if the person knows it.
    #[serde(default)]
    pub customer: Option<String>,
}

/// A controller's instruction to its processor (promise P7).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstructionIn {
    /// `access`, `export` or `erasure`.
    #[schema(example = "erasure")]
    pub kind: String,
    /// The customer's end user.
    pub identity: IdentityIn,
    #[serde(default)]
    pub details: Option<RequestDetails>,
}

/// One event of a request's history.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct HistoryOut {
    pub at: String,
    pub actor: String,
    /// `receive`, `send_code`, `verify`, `queue`, `complete`, … or a note: `acknowledged`,
    /// `code_failed`, `proof_added`, `proof_deleted`, `delivery_failed`, `customer_notified`,
    /// `controller_response`.
    pub event: String,
    /// The state after it.
    pub state: String,
    pub detail: serde_json::Value,
}

/// A data-subject request.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct RequestOut {
    pub id: String,
    pub kind: String,
    /// `received`, `awaiting_verification`, `verified`, `awaiting_approval`, `queued`,
    /// `in_progress`, `completed`, `rejected`, `referred_to_controller`, `withdrawn_by_requester`.
    pub state: String,
    /// `requester` or `controller`.
    pub source: String,
    pub identity: IdentityOut,
    pub jurisdiction: Option<String>,
    pub customer: Option<String>,
    pub subject: Option<String>,
    pub received_at: String,
    /// The due date in force (the extended one, once extended).
    pub due_at: String,
    pub original_due_at: String,
    pub extended: bool,
    pub extension_reason: Option<String>,
    pub acknowledge_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub overdue: bool,
    pub details: serde_json::Value,
    /// The answer: actions taken, what was kept and why, the report.
    pub response: Option<serde_json::Value>,
    pub closed_at: Option<String>,
    /// With `GET /v1/requests/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryOut>>,
}

/// Requests, by due date.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct RequestList {
    pub requests: Vec<RequestOut>,
}

/// Verify a request: the one-time code, or (operators) the proof of identity checked by hand.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyIn {
    #[serde(default)]
    #[schema(example = "123456")]
    pub code: Option<String>,
    /// Operators and admins: the proof of identity was checked.
    #[serde(default)]
    pub proof_checked: Option<bool>,
}

/// A proof of identity, base64-encoded (at most 10 MiB decoded).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofIn {
    #[schema(example = "passport.jpg")]
    pub name: String,
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// The file, base64 (standard alphabet).
    pub content: String,
}

/// A stored proof of identity.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct ProofOut {
    pub id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub added_at: String,
    /// Base64; only when an operator reads the proofs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The proofs of identity of a request (operators).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct ProofList {
    pub proofs: Vec<ProofOut>,
}

/// A reason, for rejections and extensions.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonIn {
    #[schema(example = "the request concerns data in 14 systems")]
    pub reason: String,
}

/// What the controller answered to a referral.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControllerResponseIn {
    /// `handled`, `refused` or `forwarded`.
    #[schema(example = "handled")]
    pub outcome: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Register a customer: a controller the tenant processes data for.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Where referrals and completions are POSTed.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The webhook signing secret (at least 32 characters); generated when not given.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// A customer.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct CustomerOut {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub webhook_url: Option<String>,
    /// Shown once, when generated at registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    pub created_at: String,
}

/// The tenant's customers.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct CustomerList {
    pub customers: Vec<CustomerOut>,
}

/// A job of the queue.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct JobOut {
    pub id: String,
    pub kind: String,
    /// `pending`, `running` or `dead`.
    pub state: String,
    pub run_at: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub last_error: Option<String>,
    pub request: Option<String>,
}

/// Jobs of the tenant.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobOut>,
}
