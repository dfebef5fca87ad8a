//! What the store keeps, beyond the shared domain types of `covenant-core`.

use std::fmt;
use std::str::FromStr;

use covenant_core::audit::AuditEntry;
use covenant_core::{Identity, Jurisdiction, SubjectId, TenantId};
use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

/// The result of a write: the value as stored, and the audit entry written with it in the same
/// transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written<T> {
    pub value: T,
    pub audit: AuditEntry,
}

/// A tenant: one customer of a Covenant deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    /// A display name.
    pub name: String,
    pub created_at: Timestamp,
}

/// What an API key may do. The server decides what each role means; the store only keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything in the tenant, including keys.
    Admin,
    /// Subjects, consents and requests.
    Operator,
    /// Read-only access, including the audit log.
    Auditor,
    /// An application calling the decision API and recording consents.
    Application,
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Admin, Role::Operator, Role::Auditor, Role::Application];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Application => "application",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of `admin`, `operator`, `auditor`, `application`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`; expected one of: `admin`, `operator`, `auditor`, `application`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The id of an API key (not the key itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(pub Uuid);

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// An API key as stored: never the secret, only its SHA-256 and a short prefix for display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant: TenantId,
    /// The first characters of the secret (`cvk_3f9a1c2b`), safe to show in lists and logs.
    pub prefix: String,
    /// SHA-256 of the whole secret.
    pub hash: [u8; 32],
    pub role: Role,
    pub label: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A newly created key: the secret is shown once and never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// What to create an API key for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    pub tenant: TenantId,
    pub role: Role,
    /// Who or what uses the key (`checkout-service`, `ada (DPO)`); 1 to 200 characters.
    pub label: String,
    pub created_at: Timestamp,
}

/// What to register a data subject with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSubject {
    pub tenant: TenantId,
    /// The subject type from the policy (`customer`, `end_user`, `visitor`): 1 to 64 lowercase
    /// letters, digits, `_` or `-`.
    pub kind: String,
    /// At least one identity. Each may be bound to only one subject per tenant.
    pub identities: Vec<Identity>,
    pub birth_date: Option<Date>,
    pub jurisdiction: Option<Jurisdiction>,
    pub created_at: Timestamp,
}

/// A data subject as stored, with its identities and flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub id: SubjectId,
    pub tenant: TenantId,
    pub kind: String,
    /// In the order they were added.
    pub identities: Vec<Identity>,
    pub birth_date: Option<Date>,
    pub jurisdiction: Option<Jurisdiction>,
    pub created_at: Timestamp,
    /// Ordered by flag name.
    pub flags: Vec<SubjectFlag>,
}

impl Subject {
    /// The flag of this kind, if set.
    pub fn flag(&self, kind: &FlagKind) -> Option<&SubjectFlag> {
        self.flags.iter().find(|f| &f.kind == kind)
    }
}

/// A kind of flag on a subject. Flags are rows keyed by name, so new kinds need no migration.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlagKind {
    /// The person was found to be under the minimum age; their data is to be deleted at the
    /// flag's `due` time (promises W7, P8, O8, K10, T9).
    UnderAge,
    /// Processing is restricted (GDPR Art. 18): keep the data, use it for nothing else.
    Restricted,
    /// The person objected to processing for a purpose (GDPR Art. 21).
    Objection(String),
}

impl FlagKind {
    /// The stored name: `under_age`, `restricted`, `objection:<purpose>`.
    pub fn name(&self) -> String {
        match self {
            FlagKind::UnderAge => "under_age".to_owned(),
            FlagKind::Restricted => "restricted".to_owned(),
            FlagKind::Objection(purpose) => format!("objection:{purpose}"),
        }
    }

    /// Reads a name written by [`FlagKind::name`].
    pub fn from_name(name: &str) -> Option<FlagKind> {
        match name {
            "under_age" => Some(FlagKind::UnderAge),
            "restricted" => Some(FlagKind::Restricted),
            _ => {
                name.strip_prefix("objection:").filter(|p| valid_purpose(p)).map(|p| FlagKind::Objection(p.to_owned()))
            }
        }
    }
}

impl fmt::Display for FlagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A flag set on a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectFlag {
    pub kind: FlagKind,
    pub set_at: Timestamp,
    /// When something is due because of the flag: for `under_age`, the scheduled deletion.
    pub due: Option<Timestamp>,
    /// Free text: why the flag was set.
    pub detail: Option<String>,
}

/// The head of a tenant's audit chain: the last entry's number and hash (0 and the zero hash for
/// an empty chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// Where a page of consent records ends; pass it back to get the next page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConsentCursor(pub(crate) i64);

/// A page of a tenant's consent records, in ledger order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentPage {
    pub records: Vec<covenant_core::ledger::ConsentRecord>,
    /// Where to continue; `None` when this page is the last.
    pub next: Option<ConsentCursor>,
}

/// A purpose id as in policies, or a preference key of the engine's ledger (`recipient:resellers`,
/// `signal:gpc`): 1 to 128 characters, letters, digits, `_`, `-`, `.`, `:`.
pub(crate) fn valid_purpose(p: &str) -> bool {
    (1..=128).contains(&p.len())
        && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_round_trip() {
        for kind in [FlagKind::UnderAge, FlagKind::Restricted, FlagKind::Objection("marketing.email".into())] {
            assert_eq!(FlagKind::from_name(&kind.name()), Some(kind));
        }
        assert_eq!(FlagKind::from_name("objection:"), None);
        assert_eq!(FlagKind::from_name("frozen"), None);
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
        assert_eq!(
            "root".parse::<Role>().unwrap_err().to_string(),
            "unknown role `root`; expected one of: `admin`, `operator`, `auditor`, `application`"
        );
    }
}
