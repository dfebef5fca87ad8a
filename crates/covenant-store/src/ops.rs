//! Every store operation, written once against [`Conn`] and run on either backend.
//!
//! Write operations run inside a transaction opened by the backend; each ends with
//! [`append_audit`], which locks the tenant's audit head, seals the caller's draft as the next
//! entry and moves the head, so the row and its audit entry commit (or roll back) together.
//! Input is checked by the `check_*` functions before any transaction is opened.

use covenant_core::audit::{AuditDraft, AuditEntry, GENESIS};
use covenant_core::ledger::{CollectionMethod, ConsentRecord, ConsentStatus};
use covenant_core::{Identity, Jurisdiction, LifecycleEvent, LifecycleKind, RecordId, SubjectId, TenantId};
use jiff::Timestamp;
use jiff::civil::Date;
use uuid::Uuid;

use crate::model::{
    ApiKey, ApiKeyId, AuditHead, ConsentCursor, ConsentPage, FlagKind, NewApiKey, NewSubject, Role, Subject,
    SubjectFlag, Tenant, Written, valid_purpose,
};
use crate::sql::{Conn, Dialect, RowRead, args};
use crate::store::{Also, AlsoWritten};
use crate::{NewTenant, StoreError};

type Result<T> = std::result::Result<T, StoreError>;

// ---------------------------------------------------------------------------------------------
// Representations

/// Microseconds since the Unix epoch: how every timestamp is stored.
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// The timestamp as the store will keep it: truncated to whole microseconds.
pub(crate) fn truncate(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(micros(t)).unwrap_or(t)
}

fn ts(col: &'static str, v: i64) -> Result<Timestamp> {
    Timestamp::from_microsecond(v).map_err(|e| StoreError::corrupt(col, e))
}

fn opt_ts(col: &'static str, v: Option<i64>) -> Result<Option<Timestamp>> {
    v.map(|v| ts(col, v)).transpose()
}

fn tenant_col(r: &dyn RowRead, col: &'static str) -> Result<TenantId> {
    TenantId::parse(&r.text(col)?).map_err(|e| StoreError::corrupt(col, e))
}

fn parse_col<T: std::str::FromStr>(r: &dyn RowRead, col: &'static str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    r.text(col)?.parse().map_err(|e: T::Err| StoreError::corrupt(col, e))
}

fn is_foreign_key_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Backend { source, .. } => source.as_database_error().is_some_and(|d| d.is_foreign_key_violation()),
        StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. } => {
            e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
        }
        _ => false,
    }
}

fn seq_u64(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::corrupt("seq", format!("negative sequence number {v}")))
}

fn seq_i64(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::invalid("seq", format!("{v} is out of range")))
}

// ---------------------------------------------------------------------------------------------
// Input checks

/// A one-line text: 1 to `max` characters, no control characters, not only spaces.
pub(crate) fn check_line(field: &'static str, v: &str, max: usize) -> Result<()> {
    if v.trim().is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(StoreError::invalid(field, format!("is longer than {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(StoreError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A free text: at most `max` characters (64 KiB), no control characters but line breaks and tabs.
pub(crate) fn check_text(field: &'static str, v: &str, max: usize) -> Result<()> {
    if v.len() > max {
        return Err(StoreError::invalid(field, format!("is longer than {max} bytes")));
    }
    if v.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(StoreError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

const DETAIL_MAX: usize = 64 * 1024;

pub(crate) fn check_draft(d: &AuditDraft) -> Result<()> {
    check_line("audit actor", &d.actor, 200)?;
    check_line("audit action", &d.action, 100)?;
    if !d.target.is_empty() {
        check_line("audit target", &d.target, 300)?;
    }
    check_text("audit detail", &d.detail, DETAIL_MAX)
}

fn check_sha256_hex(field: &'static str, v: &str) -> Result<()> {
    if v.len() == 64 && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(StoreError::invalid(field, format!("`{v}` is not a SHA-256 in lowercase hex (64 digits)")))
    }
}

pub(crate) fn check_tenant(t: &NewTenant) -> Result<()> {
    check_line("tenant name", &t.name, 200)
}

pub(crate) fn check_api_key(k: &NewApiKey) -> Result<()> {
    check_line("api key label", &k.label, 200)
}

fn check_subject_kind(kind: &str) -> Result<()> {
    let ok = (1..=64).contains(&kind.len())
        && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "subject type",
            format!("`{kind}` is not 1 to 64 lowercase letters, digits, `_` or `-`"),
        ))
    }
}

pub(crate) fn check_subject(s: &NewSubject) -> Result<()> {
    check_subject_kind(&s.kind)?;
    if s.identities.is_empty() {
        return Err(StoreError::invalid("identities", "a subject needs at least one identity"));
    }
    if s.identities.len() > 100 {
        return Err(StoreError::invalid("identities", "a subject may have at most 100 identities"));
    }
    Ok(())
}

pub(crate) fn check_flag(f: &SubjectFlag) -> Result<()> {
    if let FlagKind::Objection(p) = &f.kind
        && !valid_purpose(p)
    {
        return Err(StoreError::invalid("purpose", format!("`{p}` is not a purpose id")));
    }
    if let Some(d) = &f.detail {
        check_text("flag detail", d, DETAIL_MAX)?;
    }
    Ok(())
}

pub(crate) fn check_event(e: &LifecycleEvent) -> Result<()> {
    match &e.detail {
        Some(d) => check_text("event detail", d, DETAIL_MAX),
        None => Ok(()),
    }
}

pub(crate) fn check_consent(r: &ConsentRecord) -> Result<()> {
    if !valid_purpose(&r.purpose) {
        return Err(StoreError::invalid(
            "purpose",
            format!("`{}` is not a purpose id (1 to 128 letters, digits, `_`, `-`, `.`, `:`)", r.purpose),
        ));
    }
    check_line("policy version", &r.policy_version, 100)?;
    check_sha256_hex("purpose hash", &r.purpose_hash)?;
    check_sha256_hex("notice hash", &r.notice_hash)?;
    check_line("consent actor", &r.actor, 200)?;
    if let Some(e) = &r.evidence {
        check_text("evidence", e, DETAIL_MAX)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Change notices

/// The PostgreSQL channel on which writes announce changes to state that servers cache.
pub(crate) const CHANNEL: &str = "covenant_changes";

/// Announces that a subject's state changed (ledger, flags, events, identities), for servers
/// that cache it: on PostgreSQL a `pg_notify` on [`CHANNEL`] with payload `tenant/subject`, sent
/// in the write's transaction, so it is delivered when, and only if, the write commits. Nothing on
/// SQLite, where one server process holds the database.
pub(crate) async fn notify_subject<C: Conn>(c: &mut C, tenant: &TenantId, subject: SubjectId) -> Result<()> {
    notify(c, format!("{tenant}/{subject}")).await
}

/// Announces that an API key changed (was revoked): payload `key/<SHA-256 of the key in hex>`.
pub(crate) async fn notify_key<C: Conn>(c: &mut C, hash: &[u8; 32]) -> Result<()> {
    let mut payload = String::with_capacity(68);
    payload.push_str("key/");
    for b in hash {
        payload.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        payload.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    notify(c, payload).await
}

async fn notify<C: Conn>(c: &mut C, payload: String) -> Result<()> {
    if C::DIALECT == Dialect::Postgres {
        c.exec("announcing a change", "SELECT pg_notify($1, $2)", args![CHANNEL, payload]).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Audit

fn read_head(r: &dyn RowRead) -> Result<AuditHead> {
    Ok(AuditHead { seq: seq_u64(r.i64("seq")?)?, hash: r.hash("hash")? })
}

/// Seals `draft` as the next entry of the tenant's chain. In PostgreSQL the head row is locked
/// until the transaction ends, so concurrent writers queue here; SQLite transactions are already
/// serialised by its write lock. Inserting the entry moves the head: a trigger does it, so the
/// head cannot fall out of step with the log.
pub(crate) async fn append_audit<C: Conn>(c: &mut C, tenant: &TenantId, draft: AuditDraft) -> Result<AuditEntry> {
    let sql = match C::DIALECT {
        Dialect::Sqlite => "SELECT seq, hash FROM audit_heads WHERE tenant = $1",
        Dialect::Postgres => "SELECT seq, hash FROM audit_heads WHERE tenant = $1 FOR UPDATE",
    };
    let head = match c.known_head(tenant) {
        Some(head) => head,
        None => c
            .row("locking the audit head", sql, args![tenant.as_str()], read_head)
            .await?
            .ok_or_else(|| StoreError::not_found("tenant", tenant))?,
    };
    let entry = AuditEntry::seal(tenant.clone(), head.seq + 1, Timestamp::now(), draft, head.hash);
    let seq = seq_i64(entry.seq)?;
    c.exec(
        "appending an audit entry",
        "INSERT INTO audit_entries (tenant, seq, at, actor, action, target, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            tenant.as_str(),
            seq,
            micros(entry.at),
            entry.actor.as_str(),
            entry.action.as_str(),
            entry.target.as_str(),
            entry.detail.as_str(),
            &entry.prev_hash,
            &entry.hash
        ],
    )
    .await?;
    // The insert moves the head (trigger `audit_entries_move_head`), in the same statement.
    c.remember_head(tenant, AuditHead { seq: entry.seq, hash: entry.hash });
    Ok(entry)
}

fn read_entry(r: &dyn RowRead) -> Result<AuditEntry> {
    Ok(AuditEntry {
        tenant: tenant_col(r, "tenant")?,
        seq: seq_u64(r.i64("seq")?)?,
        at: ts("at", r.i64("at")?)?,
        actor: r.text("actor")?,
        action: r.text("action")?,
        target: r.text("target")?,
        detail: r.text("detail")?,
        prev_hash: r.hash("prev_hash")?,
        hash: r.hash("hash")?,
    })
}

pub(crate) async fn audit_entries<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    c.rows(
        "reading audit entries",
        "SELECT tenant, seq, at, actor, action, target, detail, prev_hash, hash FROM audit_entries \
         WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        args![tenant.as_str(), seq_i64(after_seq)?, i64::from(limit)],
        read_entry,
    )
    .await
}

pub(crate) async fn audit_head<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<AuditHead> {
    c.row(
        "reading the audit head",
        "SELECT seq, hash FROM audit_heads WHERE tenant = $1",
        args![tenant.as_str()],
        read_head,
    )
    .await?
    .ok_or_else(|| StoreError::not_found("tenant", tenant))
}

// ---------------------------------------------------------------------------------------------
// Tenants

fn read_tenant(r: &dyn RowRead) -> Result<Tenant> {
    Ok(Tenant { id: tenant_col(r, "id")?, name: r.text("name")?, created_at: ts("created_at", r.i64("created_at")?)? })
}

pub(crate) async fn create_tenant<C: Conn>(c: &mut C, t: NewTenant, draft: AuditDraft) -> Result<(Tenant, AuditEntry)> {
    let created_at = truncate(t.created_at);
    let n = c
        .exec(
            "creating a tenant",
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            args![t.id.as_str(), t.name.as_str(), micros(created_at)],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("tenant `{}` already exists", t.id)));
    }
    c.exec(
        "starting the audit chain",
        "INSERT INTO audit_heads (tenant, seq, hash) VALUES ($1, 0, $2)",
        args![t.id.as_str(), &GENESIS],
    )
    .await?;
    let audit = append_audit(c, &t.id, draft).await?;
    Ok((Tenant { id: t.id, name: t.name, created_at }, audit))
}

pub(crate) async fn get_tenant<C: Conn>(c: &mut C, id: &TenantId) -> Result<Tenant> {
    c.row("reading a tenant", "SELECT id, name, created_at FROM tenants WHERE id = $1", args![id.as_str()], read_tenant)
        .await?
        .ok_or_else(|| StoreError::not_found("tenant", id))
}

pub(crate) async fn list_tenants<C: Conn>(c: &mut C) -> Result<Vec<Tenant>> {
    c.rows("listing tenants", "SELECT id, name, created_at FROM tenants ORDER BY id", vec![], read_tenant).await
}

async fn require_tenant<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<()> {
    c.row("reading a tenant", "SELECT id FROM tenants WHERE id = $1", args![tenant.as_str()], |r| r.text("id"))
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::not_found("tenant", tenant))
}

// ---------------------------------------------------------------------------------------------
// API keys

fn read_api_key(r: &dyn RowRead) -> Result<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId(r.uuid("id")?),
        tenant: tenant_col(r, "tenant")?,
        prefix: r.text("prefix")?,
        hash: r.hash("hash")?,
        role: parse_col::<Role>(r, "role")?,
        label: r.text("label")?,
        created_at: ts("created_at", r.i64("created_at")?)?,
        revoked_at: opt_ts("revoked_at", r.opt_i64("revoked_at")?)?,
    })
}

pub(crate) async fn create_api_key<C: Conn>(
    c: &mut C,
    k: NewApiKey,
    prefix: String,
    hash: [u8; 32],
    draft: AuditDraft,
) -> Result<(ApiKey, AuditEntry)> {
    require_tenant(c, &k.tenant).await?;
    let key = ApiKey {
        id: ApiKeyId(Uuid::now_v7()),
        tenant: k.tenant,
        prefix,
        hash,
        role: k.role,
        label: k.label,
        created_at: truncate(k.created_at),
        revoked_at: None,
    };
    c.exec(
        "creating an api key",
        "INSERT INTO api_keys (id, tenant, prefix, hash, role, label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            key.id.0,
            key.tenant.as_str(),
            key.prefix.as_str(),
            &key.hash,
            key.role.as_str(),
            key.label.as_str(),
            micros(key.created_at)
        ],
    )
    .await?;
    let audit = append_audit(c, &key.tenant, draft).await?;
    Ok((key, audit))
}

pub(crate) async fn find_api_key<C: Conn>(c: &mut C, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
    c.row(
        "looking up an api key",
        "SELECT id, tenant, prefix, hash, role, label, created_at, revoked_at FROM api_keys \
         WHERE hash = $1 AND revoked_at IS NULL",
        args![hash],
        read_api_key,
    )
    .await
}

pub(crate) async fn list_api_keys<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<Vec<ApiKey>> {
    require_tenant(c, tenant).await?;
    c.rows(
        "listing api keys",
        "SELECT id, tenant, prefix, hash, role, label, created_at, revoked_at FROM api_keys \
         WHERE tenant = $1 ORDER BY created_at, id",
        args![tenant.as_str()],
        read_api_key,
    )
    .await
}

pub(crate) async fn revoke_api_key<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: ApiKeyId,
    at: Timestamp,
    draft: AuditDraft,
) -> Result<(ApiKey, AuditEntry)> {
    let key = c
        .row(
            "reading an api key",
            "SELECT id, tenant, prefix, hash, role, label, created_at, revoked_at FROM api_keys \
             WHERE tenant = $1 AND id = $2",
            args![tenant.as_str(), id.0],
            read_api_key,
        )
        .await?
        .ok_or_else(|| StoreError::not_found("api key", id))?;
    if key.revoked_at.is_some() {
        return Err(StoreError::Conflict(format!("api key `{}` is already revoked", key.prefix)));
    }
    let at = truncate(at);
    c.exec(
        "revoking an api key",
        "UPDATE api_keys SET revoked_at = $3 WHERE tenant = $1 AND id = $2",
        args![tenant.as_str(), id.0, micros(at)],
    )
    .await?;
    notify_key(c, &key.hash).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((ApiKey { revoked_at: Some(at), ..key }, audit))
}

// ---------------------------------------------------------------------------------------------
// Subjects

async fn require_subject<C: Conn>(c: &mut C, tenant: &TenantId, id: SubjectId) -> Result<()> {
    c.row(
        "reading a subject",
        "SELECT kind FROM subjects WHERE tenant = $1 AND id = $2",
        args![tenant.as_str(), id.as_uuid()],
        |r| r.text("kind"),
    )
    .await?
    .map(|_| ())
    .ok_or_else(|| StoreError::not_found("subject", id))
}

/// Binds an identity to a subject; fails with a conflict if another subject has it. Returns
/// whether it was newly bound.
async fn bind_identity<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
    identity: &Identity,
    at: Timestamp,
) -> Result<bool> {
    let key = identity.key();
    let n = c
        .exec(
            "binding an identity",
            "INSERT INTO subject_identities (tenant, key, subject, added_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, key) DO NOTHING",
            args![tenant.as_str(), key.as_str(), subject.as_uuid(), micros(at)],
        )
        .await?;
    if n == 1 {
        return Ok(true);
    }
    let owner = c
        .row(
            "reading an identity",
            "SELECT subject FROM subject_identities WHERE tenant = $1 AND key = $2",
            args![tenant.as_str(), key.as_str()],
            |r| r.uuid("subject"),
        )
        .await?;
    if owner == Some(subject.as_uuid()) {
        Ok(false)
    } else {
        Err(StoreError::Conflict(format!("identity `{key}` is already registered to another subject")))
    }
}

pub(crate) async fn register_subject<C: Conn>(
    c: &mut C,
    s: NewSubject,
    draft: AuditDraft,
) -> Result<(Subject, AuditEntry)> {
    require_tenant(c, &s.tenant).await?;
    let id = SubjectId::from_uuid(Uuid::now_v7());
    let created_at = truncate(s.created_at);
    c.exec(
        "registering a subject",
        "INSERT INTO subjects (tenant, id, kind, birth_date, jurisdiction, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            s.tenant.as_str(),
            id.as_uuid(),
            s.kind.as_str(),
            s.birth_date.map(|d| d.to_string()),
            s.jurisdiction.as_ref().map(|j| j.as_str().to_owned()),
            micros(created_at)
        ],
    )
    .await?;
    // Sorted, so that two registrations sharing identities lock them in the same order.
    let mut identities = s.identities.clone();
    identities.sort();
    identities.dedup();
    for identity in &identities {
        bind_identity(c, &s.tenant, id, identity, created_at).await?;
    }
    notify_subject(c, &s.tenant, id).await?;
    let audit = append_audit(c, &s.tenant, draft).await?;
    let subject = load_subject(c, &s.tenant, id).await?;
    Ok((subject, audit))
}

fn read_flag(r: &dyn RowRead) -> Result<SubjectFlag> {
    let name = r.text("name")?;
    Ok(SubjectFlag {
        kind: FlagKind::from_name(&name)
            .ok_or_else(|| StoreError::corrupt("flag", format!("unknown flag `{name}`")))?,
        set_at: ts("set_at", r.i64("set_at")?)?,
        due: opt_ts("due", r.opt_i64("due")?)?,
        detail: r.opt_text("detail")?,
    })
}

async fn load_subject<C: Conn>(c: &mut C, tenant: &TenantId, id: SubjectId) -> Result<Subject> {
    let row = c
        .row(
            "reading a subject",
            "SELECT kind, birth_date, jurisdiction, created_at FROM subjects WHERE tenant = $1 AND id = $2",
            args![tenant.as_str(), id.as_uuid()],
            |r| {
                let birth_date = match r.opt_text("birth_date")? {
                    Some(d) => Some(d.parse::<Date>().map_err(|e| StoreError::corrupt("birth date", e))?),
                    None => None,
                };
                let jurisdiction = match r.opt_text("jurisdiction")? {
                    Some(j) => Some(Jurisdiction::parse(&j).map_err(|e| StoreError::corrupt("jurisdiction", e))?),
                    None => None,
                };
                Ok((r.text("kind")?, birth_date, jurisdiction, ts("created_at", r.i64("created_at")?)?))
            },
        )
        .await?
        .ok_or_else(|| StoreError::not_found("subject", id))?;
    let (kind, birth_date, jurisdiction, created_at) = row;
    let identities = c
        .rows(
            "reading identities",
            "SELECT key FROM subject_identities WHERE tenant = $1 AND subject = $2 ORDER BY added_at, key",
            args![tenant.as_str(), id.as_uuid()],
            |r| Identity::from_key(&r.text("key")?).map_err(|e| StoreError::corrupt("identity", e)),
        )
        .await?;
    let flags = c
        .rows(
            "reading flags",
            "SELECT name, set_at, due, detail FROM subject_flags WHERE tenant = $1 AND subject = $2 ORDER BY name",
            args![tenant.as_str(), id.as_uuid()],
            read_flag,
        )
        .await?;
    Ok(Subject { id, tenant: tenant.clone(), kind, identities, birth_date, jurisdiction, created_at, flags })
}

pub(crate) async fn get_subject<C: Conn>(c: &mut C, tenant: &TenantId, id: SubjectId) -> Result<Subject> {
    load_subject(c, tenant, id).await
}

pub(crate) async fn find_subject<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    identity: &Identity,
) -> Result<Option<Subject>> {
    let id = c
        .row(
            "looking up an identity",
            "SELECT subject FROM subject_identities WHERE tenant = $1 AND key = $2",
            args![tenant.as_str(), identity.key()],
            |r| r.uuid("subject"),
        )
        .await?;
    match id {
        Some(id) => Ok(Some(load_subject(c, tenant, SubjectId::from_uuid(id)).await?)),
        None => Ok(None),
    }
}

pub(crate) async fn add_identity<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
    identity: Identity,
    at: Timestamp,
    draft: AuditDraft,
) -> Result<(Subject, AuditEntry)> {
    require_subject(c, tenant, subject).await?;
    bind_identity(c, tenant, subject, &identity, truncate(at)).await?;
    notify_subject(c, tenant, subject).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((load_subject(c, tenant, subject).await?, audit))
}

pub(crate) async fn set_flag<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
    flag: SubjectFlag,
    draft: AuditDraft,
) -> Result<(Subject, AuditEntry)> {
    require_subject(c, tenant, subject).await?;
    c.exec(
        "setting a flag",
        "INSERT INTO subject_flags (tenant, subject, name, set_at, due, detail) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant, subject, name) DO UPDATE SET set_at = excluded.set_at, due = excluded.due, \
         detail = excluded.detail",
        args![
            tenant.as_str(),
            subject.as_uuid(),
            flag.kind.name(),
            micros(flag.set_at),
            flag.due.map(micros),
            flag.detail.clone()
        ],
    )
    .await?;
    notify_subject(c, tenant, subject).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((load_subject(c, tenant, subject).await?, audit))
}

pub(crate) async fn clear_flag<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
    kind: FlagKind,
    draft: AuditDraft,
) -> Result<(Subject, AuditEntry)> {
    require_subject(c, tenant, subject).await?;
    let n = c
        .exec(
            "clearing a flag",
            "DELETE FROM subject_flags WHERE tenant = $1 AND subject = $2 AND name = $3",
            args![tenant.as_str(), subject.as_uuid(), kind.name()],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::not_found("flag", kind));
    }
    notify_subject(c, tenant, subject).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((load_subject(c, tenant, subject).await?, audit))
}

// ---------------------------------------------------------------------------------------------
// Lifecycle events

pub(crate) async fn append_event<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
    event: LifecycleEvent,
    draft: AuditDraft,
) -> Result<(LifecycleEvent, AuditEntry)> {
    require_subject(c, tenant, subject).await?;
    let event = LifecycleEvent { at: truncate(event.at), ..event };
    c.exec(
        "appending a lifecycle event",
        "INSERT INTO lifecycle_events (tenant, subject, kind, at, detail) VALUES ($1, $2, $3, $4, $5)",
        args![tenant.as_str(), subject.as_uuid(), event.kind.as_str(), micros(event.at), event.detail.clone()],
    )
    .await?;
    notify_subject(c, tenant, subject).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((event, audit))
}

pub(crate) async fn events<C: Conn>(c: &mut C, tenant: &TenantId, subject: SubjectId) -> Result<Vec<LifecycleEvent>> {
    require_subject(c, tenant, subject).await?;
    c.rows(
        "reading lifecycle events",
        "SELECT kind, at, detail FROM lifecycle_events WHERE tenant = $1 AND subject = $2 ORDER BY at, pos",
        args![tenant.as_str(), subject.as_uuid()],
        |r| {
            Ok(LifecycleEvent {
                kind: parse_col::<LifecycleKind>(r, "kind")?,
                at: ts("at", r.i64("at")?)?,
                detail: r.opt_text("detail")?,
            })
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Consent ledger

fn read_consent(r: &dyn RowRead) -> Result<ConsentRecord> {
    Ok(ConsentRecord {
        id: RecordId::from_uuid(r.uuid("id")?),
        tenant: tenant_col(r, "tenant")?,
        subject: SubjectId::from_uuid(r.uuid("subject")?),
        purpose: r.text("purpose")?,
        status: parse_col::<ConsentStatus>(r, "status")?,
        policy_version: r.text("policy_version")?,
        purpose_hash: r.text("purpose_hash")?,
        notice_hash: r.text("notice_hash")?,
        method: parse_col::<CollectionMethod>(r, "method")?,
        at: ts("at", r.i64("at")?)?,
        actor: r.text("actor")?,
        evidence: r.opt_text("evidence")?,
    })
}

pub(crate) async fn append_consent<C: Conn>(
    c: &mut C,
    record: ConsentRecord,
    draft: AuditDraft,
) -> Result<(ConsentRecord, AuditEntry)> {
    // No separate check that the subject exists (this is the hot path): the foreign key on
    // (tenant, subject) refuses a record for a subject that is not in the tenant.
    let r = ConsentRecord { at: truncate(record.at), ..record };
    let n = c
        .exec(
            "appending a consent record",
            "INSERT INTO consent_records (id, tenant, subject, purpose, status, policy_version, purpose_hash, \
             notice_hash, method, at, actor, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO NOTHING",
            args![
                r.id.as_uuid(),
                r.tenant.as_str(),
                r.subject.as_uuid(),
                r.purpose.as_str(),
                r.status.as_str(),
                r.policy_version.as_str(),
                r.purpose_hash.as_str(),
                r.notice_hash.as_str(),
                r.method.as_str(),
                micros(r.at),
                r.actor.as_str(),
                r.evidence.clone()
            ],
        )
        .await
        .map_err(|e| if is_foreign_key_violation(&e) { StoreError::not_found("subject", r.subject) } else { e })?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("consent record `{}` already exists", r.id)));
    }
    notify_subject(c, &r.tenant, r.subject).await?;
    let audit = append_audit(c, &r.tenant, draft).await?;
    Ok((r, audit))
}

pub(crate) async fn consent_history<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
) -> Result<Vec<ConsentRecord>> {
    require_subject(c, tenant, subject).await?;
    c.rows(
        "reading consent history",
        "SELECT id, tenant, subject, purpose, status, policy_version, purpose_hash, notice_hash, method, at, actor, \
         evidence FROM consent_records WHERE tenant = $1 AND subject = $2 ORDER BY at, pos",
        args![tenant.as_str(), subject.as_uuid()],
        read_consent,
    )
    .await
}

pub(crate) async fn consent_page<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    after: Option<ConsentCursor>,
    limit: u32,
) -> Result<ConsentPage> {
    let rows = c
        .rows(
            "reading consent records",
            "SELECT pos, id, tenant, subject, purpose, status, policy_version, purpose_hash, notice_hash, method, at, \
             actor, evidence FROM consent_records WHERE tenant = $1 AND pos > $2 ORDER BY pos LIMIT $3",
            args![tenant.as_str(), after.map_or(0, |c| c.0), i64::from(limit)],
            |r| Ok((r.i64("pos")?, read_consent(r)?)),
        )
        .await?;
    let next = if rows.len() == limit as usize { rows.last().map(|(pos, _)| ConsentCursor(*pos)) } else { None };
    Ok(ConsentPage { records: rows.into_iter().map(|(_, r)| r).collect(), next })
}

// ---------------------------------------------------------------------------------------------
// Audited reads: the read and its audit entry in one transaction

/// A subject and its lifecycle events, read through the API, with the read's audit entry.
pub(crate) async fn read_subject<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: SubjectId,
    draft: AuditDraft,
) -> Result<((Subject, Vec<LifecycleEvent>), AuditEntry)> {
    let subject = load_subject(c, tenant, id).await?;
    let events = events(c, tenant, id).await?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok(((subject, events), audit))
}

/// The subject an identity belongs to, and its events, with the read's audit entry (drafted from
/// the subject found, and checked here); a missing subject is [`StoreError::NotFound`] (and
/// nothing is recorded).
pub(crate) async fn lookup_subject<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    identity: &Identity,
    draft: impl FnOnce(&Subject) -> AuditDraft,
) -> Result<((Subject, Vec<LifecycleEvent>), AuditEntry)> {
    let subject =
        find_subject(c, tenant, identity).await?.ok_or_else(|| StoreError::not_found("subject", "identity"))?;
    let events = events(c, tenant, subject.id).await?;
    let draft = draft(&subject);
    check_draft(&draft)?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok(((subject, events), audit))
}

/// A subject's consent history with the read's audit entry, whose draft is made from the
/// records read (and checked here, inside the transaction: a bad draft undoes the read).
pub(crate) async fn read_consent_history<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
    draft: impl FnOnce(&[ConsentRecord]) -> AuditDraft,
) -> Result<(Vec<ConsentRecord>, AuditEntry)> {
    let records = consent_history(c, tenant, subject).await?;
    let draft = draft(&records);
    check_draft(&draft)?;
    let audit = append_audit(c, tenant, draft).await?;
    Ok((records, audit))
}

/// Records a use of a subject's data that returns none of it (minting an unsubscribe link): the
/// subject must exist in the tenant.
pub(crate) async fn record_subject_read<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    subject: SubjectId,
    draft: AuditDraft,
) -> Result<AuditEntry> {
    require_subject(c, tenant, subject).await?;
    append_audit(c, tenant, draft).await
}

// ---------------------------------------------------------------------------------------------
// Writes that ride along with another in its transaction

/// Writes `also` after a request's main write, in its transaction, each with its audit entry.
/// Checked here, because some are made inside the transaction.
pub(crate) async fn also<C: Conn>(c: &mut C, tenant: &TenantId, also: Vec<Also>) -> Result<Vec<AlsoWritten>> {
    let mut out = Vec::with_capacity(also.len());
    for a in also {
        out.push(match a {
            Also::Consent(record, draft) => {
                if record.tenant != *tenant {
                    return Err(StoreError::invalid("tenant", format!("`{}` is not `{tenant}`", record.tenant)));
                }
                check_consent(&record)?;
                check_draft(&draft)?;
                let (value, audit) = append_consent(c, record, draft).await?;
                AlsoWritten::Consent(Written { value, audit })
            }
            Also::Flag(subject, flag, draft) => {
                check_flag(&flag)?;
                check_draft(&draft)?;
                let (value, audit) = set_flag(c, tenant, subject, flag, draft).await?;
                AlsoWritten::Flag(Written { value, audit })
            }
        });
    }
    Ok(out)
}
