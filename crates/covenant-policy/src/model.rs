//! The policy file format, version 1.
//!
//! These types *are* the file format: every field here is a key a policy author may write, in
//! TOML or YAML, and nothing else is accepted (`deny_unknown_fields`). Lists of entities are
//! arrays of tables with an `id`, so that authors control the order the notice shows them in, and
//! so that other entities can refer to them by id. Semantic checks (references resolve, a consent
//! activity names its consent purpose, …) are lints, in `lint.rs`.

use covenant_core::{Art9Condition, CategoryKey, Jurisdiction, LegalBasis, Period, Region, RetentionTrigger, Right};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The only schema version this build reads.
pub const SCHEMA_VERSION: u32 = 1;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A whole privacy policy, as code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Covenant policy", description = "A privacy policy written as code (schema version 1).")]
pub struct Policy {
    /// The file-format version; must be `1`.
    pub schema: u32,
    /// The document itself: version, effective date, title.
    pub policy: PolicyMeta,
    /// Who is responsible for the processing.
    pub controller: Controller,
    /// Products and services the policy covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<Product>,
    /// Kinds of people whose data is processed (users, prospects, visitors, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_types: Vec<SubjectType>,
    /// The data categories collected, keyed like fideslang (`user.contact.email`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// Processing activities: purpose, data, people, legal basis, source, role, recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<Activity>,
    /// Who receives data: sub-processors, affiliates, partners, authorities, …
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Recipient>,
    /// Where data is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// International transfers and their safeguards.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
    /// Purposes a person can consent to (or opt out of) individually.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_purposes: Vec<ConsentPurpose>,
    /// Message channels and whether a person can opt out of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<Channel>,
    /// The rights offered, how to exercise them and how fast they are answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<Rights>,
    /// How long data is kept, and what happens when the clock runs out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retention: Vec<RetentionRule>,
    /// Records kept despite retention rules or erasure requests, with their legal basis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legal_holds: Vec<LegalHold>,
    /// Minimum ages per jurisdiction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub minimum_ages: Vec<MinimumAge>,
    /// Statements a reader can check: "we never sell your data", …
    #[serde(default, skip_serializing_if = "Commitments::is_empty")]
    pub commitments: Commitments,
    /// Notice given before this policy changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeNotice>,
    /// Notice given before a product is shut down, and what happens to data then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown: Option<ShutdownNotice>,
    /// Breach-notification commitments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach: Option<BreachCommitments>,
    /// What people are told when the company changes hands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership_change: Option<OwnershipChange>,
    /// Security measures (GDPR Art. 30(1)(g)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// Cookies and similar technologies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookies: Option<Cookies>,
}

/// The document's own metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyMeta {
    /// Title of the notice, e.g. "Workki Privacy Policy".
    pub title: String,
    /// The policy's version label, e.g. "2025-01-16" or "3.2".
    pub version: String,
    /// The date this version takes effect, `YYYY-MM-DD`.
    pub effective: String,
    /// The notice's language (BCP 47), e.g. "en".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Where the published notice lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An opening paragraph for the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// The controller: the organisation responsible for the processing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Controller {
    /// Registered legal name.
    pub legal_name: String,
    /// The name people know, if different.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trading_name: Option<String>,
    /// Company registration number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    /// The register that holds that number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Registered office address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_office: Option<String>,
    /// Country of establishment (two-letter code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Region>,
    /// Public website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// How to reach the controller about privacy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Data protection officer, if appointed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpo: Option<Party>,
    /// Representative in the EU (GDPR Art. 27), if appointed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative: Option<Party>,
    /// The lead supervisory authority people may complain to (GDPR Art. 77).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisory_authority: Option<Party>,
}

/// A way to reach someone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// The kind of channel.
    pub kind: ContactKind,
    /// The address, number or URL; may be empty for in-product channels.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// What this channel is for, e.g. "Privacy requests".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A kind of contact channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Email,
    WebForm,
    SupportChat,
    InApp,
    Phone,
    Postal,
    Website,
}

/// A named person or organisation with contact details (DPO, representative).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A product or service the policy covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A kind of person whose data is processed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectType {
    /// Referenced by activities, e.g. `user`, `prospect`, `end_user`.
    pub id: String,
    /// Plural noun for notices: "Users", "Prospects".
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A data category the policy collects or refuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Hierarchical key, fideslang-compatible: `user.contact.email`.
    pub id: CategoryKey,
    /// A name for notices: "Email address".
    pub name: String,
    /// What it covers, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The label the published policy uses, e.g. "(a)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Examples of items in this category.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// A special category (GDPR Art. 9) or criminal-offence data (Art. 10).
    #[serde(default, skip_serializing_if = "is_false")]
    pub special: bool,
    /// May be left empty, and deleted by the person at any time (promise P1).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// Must never be collected or submitted; detected and refused at intake (promise W2).
    #[serde(default, skip_serializing_if = "is_false")]
    pub prohibited: bool,
    /// How much of the value may be stored (promise P2: card number, last four only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_limit: Option<StorageLimit>,
    /// Encrypted at rest (promise W12).
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypted_at_rest: bool,
    /// Encrypted in transit (promise O7).
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypted_in_transit: bool,
}

/// A limit on what of a value may be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StorageLimit {
    /// Only the last four characters (card numbers).
    LastFour,
    /// IP addresses truncated to their network (/24, /48).
    TruncatedNetwork,
    /// Only a salted hash.
    HashOnly,
    /// Processed in transit but never stored (e.g. handed to a PCI provider).
    NeverStored,
}

/// Our role for an activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Controller,
    Processor,
    JointController,
}

/// Where data for an activity comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The person gives it to us.
    Subject,
    /// Collected automatically as the person uses the service.
    Automatic,
    /// Provided by our customer or a user about someone else.
    Customer,
    /// Obtained from a third party (login provider, data vendor, …).
    ThirdParty,
    /// Publicly available sources.
    Public,
}

/// A processing activity (a line of the record of processing, GDPR Art. 30).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// Referenced by retention rules, recipients, transfers and the decision API.
    pub id: String,
    /// A short name: "Create and log in to the account".
    pub name: String,
    /// Why, in plain words.
    pub purpose: String,
    /// A fideslang data use, e.g. `essential.service`, `marketing.communications.email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_use: Option<String>,
    /// The label the published policy uses, e.g. "2.3.1".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Our role: controller, processor or joint controller.
    pub role: Role,
    /// For a processor activity: the controller we act for (e.g. "the customer enterprise").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// For a joint-controller activity: who we decide jointly with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint_with: Option<String>,
    /// For a joint-controller activity: the arrangement under GDPR Art. 26.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    /// Products this activity belongs to; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    /// Whose data (subject-type ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_types: Vec<String>,
    /// Which data (category keys; a parent covers its children).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryKey>,
    /// The legal basis (GDPR Art. 6). Prefer one; several are read as alternatives stated in
    /// `basis_note`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legal_bases: Vec<LegalBasis>,
    /// When several bases are listed, which applies when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis_note: Option<String>,
    /// The legitimate interest pursued (required with `legitimate_interests`, Art. 13(1)(d)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legitimate_interest: Option<String>,
    /// The Art. 9(2) condition, required when special categories are processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_condition: Option<Art9Condition>,
    /// The consent purpose that must be given, for consent-based activities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_purpose: Option<String>,
    /// Direct marketing: an objection is absolute (GDPR Art. 21(3)).
    #[serde(default, skip_serializing_if = "is_false")]
    pub direct_marketing: bool,
    /// Where the data comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Details on the sources, e.g. "WeChat login (nickname, Open ID)".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_detail: Option<String>,
    /// Who receives the data (recipient ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Decisions made solely by automated means, if any (GDPR Art. 22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated_decisions: Option<String>,
    /// How requests from the people in this data are handled. Default: `handle` for controller
    /// and joint-controller activities, `refer_to_controller` for processor activities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<RequestHandling>,
    /// Set when the published text is vague and this entry is our concrete reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
}

/// Who acts on a data-subject request about an activity's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestHandling {
    /// We act on it.
    Handle,
    /// We act on it after verification, then inform the controller we serve (promise W9).
    HandleAndInformController,
    /// We direct the person to the controller, and forward the request to it (promises T7, O3).
    ReferToController,
}

impl Activity {
    /// How requests about this activity's data are handled, with the role's default.
    pub fn request_handling(&self) -> RequestHandling {
        self.requests.unwrap_or(match self.role {
            Role::Processor => RequestHandling::ReferToController,
            Role::Controller | Role::JointController => RequestHandling::Handle,
        })
    }
}

/// The kind of a recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// Processes data on our behalf (hosting, payments, analytics, AI models, …).
    SubProcessor,
    /// A company of our group.
    Affiliate,
    /// A business partner (reseller, marketing partner, …).
    Partner,
    /// Courts, regulators, law enforcement, when legally compelled.
    Authority,
    /// Lawyers, auditors and other professional advisers.
    Adviser,
    /// An acquirer in a merger, acquisition or sale.
    Acquirer,
    /// A third-party integration the person or customer enables.
    Integration,
    /// A complainant (e.g. an intellectual-property claim).
    Complainant,
    /// Other users of the service (collaborators, the public).
    OtherUsers,
}

/// Someone who receives personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub id: String,
    /// A name or category for notices: "Hosting providers", "Microsoft Azure OpenAI".
    pub name: String,
    pub kind: RecipientKind,
    /// What they do with the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The activities they may receive data for; data is purpose-bound to these (promise K4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<String>,
    /// Where they process the data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Region>,
    /// When disclosure happens, if only in some cases ("only when legally compelled").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// A person may opt out of sharing with this recipient (promise P5).
    #[serde(default, skip_serializing_if = "is_false")]
    pub opt_out: bool,
    /// Disclosure to this recipient is a sale or sharing under CCPA.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sale: bool,
    /// The recipient may use the data to train models.
    #[serde(default, skip_serializing_if = "is_false")]
    pub trains_models: bool,
}

/// Where data is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Regions where our databases are hosted.
    pub regions: Vec<Region>,
    /// Detail for the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A safeguard for an international transfer (GDPR Chapter V).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Safeguard {
    /// An adequacy decision (Art. 45).
    Adequacy,
    /// Standard contractual clauses (Art. 46(2)(c)).
    StandardContractualClauses,
    /// Binding corporate rules (Art. 47).
    BindingCorporateRules,
    /// The person's explicit consent (Art. 49(1)(a)).
    ExplicitConsent,
    /// Necessary for a contract with the person (Art. 49(1)(b)).
    ContractNecessity,
}

/// An international transfer of personal data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub id: String,
    /// Where the data goes.
    pub destinations: Vec<Region>,
    /// Activities whose data is transferred; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<String>,
    /// Recipients who receive it there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// The safeguard that makes it lawful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safeguard: Option<Safeguard>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Set when the published text is vague and this entry is our concrete reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
}

/// The kind of thing a consent purpose governs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Newsletters and promotional messages.
    Marketing,
    /// Sending data to third-party AI models (promise W8).
    AiSharing,
    /// Publishing a testimonial (promise P3).
    Testimonial,
    /// Keeping payment details for future purchases (promise P2).
    StoredPayment,
    /// Non-essential cookies of one category.
    Cookies,
    /// Sale or sharing of personal data (CCPA), covered by Global Privacy Control.
    SaleSharing,
    /// Cross-context targeted advertising, covered by Global Privacy Control.
    TargetedAds,
    /// Any other purpose.
    Other,
}

/// Whether a purpose needs a prior yes, or runs until someone says no.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentModel {
    OptIn,
    OptOut,
}

/// A purpose a person can say yes or no to on its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentPurpose {
    pub id: String,
    pub name: String,
    /// What the person agrees to, as shown when asking.
    pub description: String,
    pub kind: ConsentKind,
    pub model: ConsentModel,
    /// Asked for on its own, never bundled with other terms (promise W8).
    #[serde(default, skip_serializing_if = "is_false")]
    pub separate: bool,
    /// Recipients the data goes to under this consent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Data categories covered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryKey>,
    /// Consent lapses after this long and must be asked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<Period>,
    /// The person approves the exact content before it is used (a testimonial's text, promise P3).
    #[serde(default, skip_serializing_if = "is_false")]
    pub approval_required: bool,
}

/// The medium of a message channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    Email,
    Push,
    Sms,
    InApp,
    Phone,
    Post,
}

/// A kind of message we send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub medium: Medium,
    /// Service and payment notices: cannot be opted out of (promises O6, T6, P4).
    #[serde(default, skip_serializing_if = "is_false")]
    pub transactional: bool,
    /// The consent purpose that governs it, for non-transactional channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_purpose: Option<String>,
    /// Sent once only (e.g. an invitation to a teammate, promise T6).
    #[serde(default, skip_serializing_if = "is_false")]
    pub one_time: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How requests are verified before they are acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// Always verify identity first.
    Required,
    /// Proof of identity may be asked for when needed.
    WhenNeeded,
    /// No verification.
    None,
}

/// The rights offered and how they are handled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rights {
    /// Rights offered.
    pub offered: Vec<Right>,
    /// Rights honoured for everyone, wherever they live (promise P6).
    #[serde(default, skip_serializing_if = "is_false")]
    pub everyone: bool,
    /// How to make a request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub intake: Vec<Contact>,
    /// Identity verification before acting.
    pub verification: Verification,
    /// Requests wait for a person's approval before they run.
    #[serde(default, skip_serializing_if = "is_false")]
    pub approval: bool,
    /// Things people can do themselves in the product (e.g. edit their profile).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub self_service: Vec<String>,
    /// The company's own response promise; it wins over a statutory deadline when shorter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promise: Option<Period>,
    /// Statutory deadlines per jurisdiction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlines: Vec<Deadline>,
    /// Set when the published text is vague and these settings are our concrete reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
}

/// A response deadline for one jurisdiction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub jurisdiction: Jurisdiction,
    /// Time to answer from receipt of the request.
    pub respond_within: Period,
    /// Further time that may be taken, with the person told why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Period>,
    /// The extension must be announced within this time from receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_notice_within: Option<Period>,
    /// Receipt must be acknowledged within this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_within: Option<Period>,
}

/// What to do with data whose retention has run out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetentionAction {
    Delete,
    Anonymise,
    /// Stop processing and keep it apart until it can be deleted (promises K5, T4).
    Isolate,
}

/// One clock of a retention rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    pub trigger: RetentionTrigger,
    pub period: Period,
    /// Why this criterion exists (K5 lists several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How long data is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    pub id: String,
    /// A name for notices: "Service data".
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Categories covered (a parent covers its children).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryKey>,
    /// Activities covered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<String>,
    /// The event that starts the clock (with `period`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<RetentionTrigger>,
    /// How long after the trigger (with `trigger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Several clocks; the data is kept until the last of them runs out (promise K5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub longest_of: Vec<Clock>,
    /// The controller we process for (our customer) sets the period; we apply it (promise T4).
    /// Clocks, if any, are then our own outer limit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub controller_defined: bool,
    /// The customer is offered an export of everything before the action runs (promise T4).
    #[serde(default, skip_serializing_if = "is_false")]
    pub export_before: bool,
    /// What happens when the time is up.
    pub action: RetentionAction,
    /// What happens when the action is technically impossible (promises K5, T4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<RetentionAction>,
    /// Legal holds that may keep some of this data longer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub legal_holds: Vec<String>,
    /// Set when the published text is vague and this rule is our concrete reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
}

/// Data kept for a legal reason, overriding retention rules and erasure (GDPR Art. 17(3)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHold {
    pub id: String,
    pub name: String,
    /// The legal basis for keeping it, e.g. "statutory limitation period for legal claims".
    pub basis: String,
    /// Categories held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CategoryKey>,
    /// Activities held.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activities: Vec<String>,
    pub trigger: RetentionTrigger,
    pub period: Period,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
}

/// The youngest age served in a jurisdiction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MinimumAge {
    pub jurisdiction: Jurisdiction,
    pub age: u8,
}

/// Checkable statements.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Commitments {
    /// "We never sell your personal data": contradicted by any recipient with `sale = true`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub never_sell: bool,
    /// We tell people of orders concerning their data when the law allows (promise W11).
    #[serde(default, skip_serializing_if = "is_false")]
    pub notify_of_legal_orders: bool,
    /// Every disclosure to a third party is recorded (promise W5).
    #[serde(default, skip_serializing_if = "is_false")]
    pub record_disclosures: bool,
    /// Content that must not be submitted is detected and refused or redacted (promise W2).
    #[serde(default, skip_serializing_if = "is_false")]
    pub screen_prohibited_content: bool,
}

impl Commitments {
    pub fn is_empty(&self) -> bool {
        self == &Commitments::default()
    }
}

/// How people are told of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeChannel {
    Email,
    InApp,
    Website,
    Push,
    Media,
}

/// Notice before the policy changes (promises P9, W13, T8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeNotice {
    /// Minimum time between announcing a material change and it taking effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material_notice: Option<Period>,
    pub channels: Vec<NoticeChannel>,
    /// Material changes are announced prominently (promise W13).
    #[serde(default, skip_serializing_if = "is_false")]
    pub prominent: bool,
}

/// Notice before a product is shut down (promise K6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShutdownNotice {
    pub notice: Period,
    pub channels: Vec<NoticeChannel>,
    /// What happens to personal data after the shutdown.
    pub action: RetentionAction,
}

/// Breach-notification commitments (GDPR Art. 33-34; promises W12, K8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreachCommitments {
    /// To the supervisory authority, from awareness (GDPR: 72 hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_within: Option<Period>,
    /// Affected people are told.
    pub notify_subjects: bool,
    /// Within this time, if stated ("promptly" otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects_within: Option<Period>,
    /// A public announcement replaces individual notice when that is impractical (promise K8).
    #[serde(default, skip_serializing_if = "is_false")]
    pub public_notice_fallback: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<NoticeChannel>,
    /// Set when the published text is vague and these settings are our concrete reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
}

/// What people are told when the company changes hands (promises O9, W5, T3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnershipChange {
    pub notify: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<NoticeChannel>,
    /// The acquirer stays bound by this policy, or asks for authorisation again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub successor_bound: bool,
}

/// Security measures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    pub measures: Vec<String>,
}

/// Cookies and similar technologies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cookies {
    pub description: String,
    /// Non-essential cookies need consent (consent purposes of kind `cookies`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub consent_required: bool,
    /// Set when the published text is vague and these settings are our concrete reading of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpretation: Option<String>,
}

impl Policy {
    pub fn category(&self, key: &CategoryKey) -> Option<&Category> {
        self.categories.iter().find(|c| &c.id == key)
    }
    pub fn activity(&self, id: &str) -> Option<&Activity> {
        self.activities.iter().find(|a| a.id == id)
    }
    pub fn recipient(&self, id: &str) -> Option<&Recipient> {
        self.recipients.iter().find(|r| r.id == id)
    }
    pub fn consent_purpose(&self, id: &str) -> Option<&ConsentPurpose> {
        self.consent_purposes.iter().find(|c| c.id == id)
    }
    pub fn subject_type(&self, id: &str) -> Option<&SubjectType> {
        self.subject_types.iter().find(|s| s.id == id)
    }
    pub fn legal_hold(&self, id: &str) -> Option<&LegalHold> {
        self.legal_holds.iter().find(|h| h.id == id)
    }
    /// The name people know the controller by.
    pub fn controller_name(&self) -> &str {
        self.controller.trading_name.as_deref().unwrap_or(&self.controller.legal_name)
    }
    /// Categories declared at or below `key`: what an activity listing `key` touches.
    pub fn categories_within<'a>(&'a self, key: &'a CategoryKey) -> impl Iterator<Item = &'a Category> + 'a {
        self.categories.iter().filter(move |c| c.id.is_within(key))
    }
    /// Retention rules that cover a category, directly or through an ancestor or an activity.
    pub fn retention_for<'a>(&'a self, key: &'a CategoryKey) -> impl Iterator<Item = &'a RetentionRule> + 'a {
        self.retention.iter().filter(move |r| {
            r.categories.iter().any(|c| key.is_within(c) || c.is_within(key))
                || r.activities.iter().any(|a| {
                    self.activity(a)
                        .is_some_and(|act| act.categories.iter().any(|c| key.is_within(c) || c.is_within(key)))
                })
        })
    }
}

impl RetentionRule {
    /// The clocks of this rule, whichever way it was written.
    pub fn clocks(&self) -> Vec<Clock> {
        match (self.trigger, self.period) {
            (Some(trigger), Some(period)) => {
                let mut v = vec![Clock { trigger, period, reason: None }];
                v.extend(self.longest_of.iter().cloned());
                v
            }
            _ => self.longest_of.clone(),
        }
    }

    /// The longest period among the clocks, for comparisons.
    pub fn longest_period(&self) -> Option<Period> {
        self.clocks().into_iter().map(|c| c.period).max_by(|a, b| a.cmp_length(*b))
    }
}
