-- Covenant store, PostgreSQL. Representations (see the crate documentation):
--   ids of records: UUID; tenants: their slug as TEXT;
--   timestamps: BIGINT microseconds since the Unix epoch (UTC), as in SQLite, so that both
--   stores keep exactly the same values; dates: TEXT `YYYY-MM-DD`; hashes: 32-byte BYTEA;
--   enumerations: their wire name as TEXT.

CREATE TABLE tenants (
    id         TEXT   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- The head of each tenant's audit chain, locked (SELECT … FOR UPDATE) by every writer.
CREATE TABLE audit_heads (
    tenant TEXT   NOT NULL PRIMARY KEY REFERENCES tenants (id),
    seq    BIGINT NOT NULL,
    hash   BYTEA  NOT NULL
);

CREATE TABLE audit_entries (
    tenant    TEXT   NOT NULL REFERENCES tenants (id),
    seq       BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    detail    TEXT   NOT NULL,
    prev_hash BYTEA  NOT NULL,
    hash      BYTEA  NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE TABLE api_keys (
    id         UUID   NOT NULL PRIMARY KEY,
    tenant     TEXT   NOT NULL REFERENCES tenants (id),
    prefix     TEXT   NOT NULL,
    hash       BYTEA  NOT NULL UNIQUE,
    role       TEXT   NOT NULL,
    label      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);

CREATE TABLE subjects (
    tenant       TEXT   NOT NULL REFERENCES tenants (id),
    id           UUID   NOT NULL,
    kind         TEXT   NOT NULL,
    birth_date   TEXT,
    jurisdiction TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- `key` is the normalised identity key (`email:ada@example.com`): one subject per key per tenant.
CREATE TABLE subject_identities (
    tenant   TEXT   NOT NULL,
    key      TEXT   NOT NULL,
    subject  UUID   NOT NULL,
    added_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, key),
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
);
CREATE INDEX subject_identities_by_subject ON subject_identities (tenant, subject);

-- Flags are rows keyed by name (`under_age`, `restricted`, `objection:<purpose>`), so that new
-- kinds of flag need no migration.
CREATE TABLE subject_flags (
    tenant  TEXT   NOT NULL,
    subject UUID   NOT NULL,
    name    TEXT   NOT NULL,
    set_at  BIGINT NOT NULL,
    due     BIGINT,
    detail  TEXT,
    PRIMARY KEY (tenant, subject, name),
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
);
CREATE INDEX subject_flags_by_due ON subject_flags (name, due) WHERE due IS NOT NULL;

CREATE TABLE lifecycle_events (
    pos     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant  TEXT   NOT NULL,
    subject UUID   NOT NULL,
    kind    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    detail  TEXT,
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
);
CREATE INDEX lifecycle_events_by_subject ON lifecycle_events (tenant, subject, at);

-- The consent ledger. `pos` is the ledger order (assigned on append); `id` is the caller's.
CREATE TABLE consent_records (
    pos            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             UUID   NOT NULL UNIQUE,
    tenant         TEXT   NOT NULL,
    subject        UUID   NOT NULL,
    purpose        TEXT   NOT NULL,
    status         TEXT   NOT NULL,
    policy_version TEXT   NOT NULL,
    purpose_hash   TEXT   NOT NULL,
    notice_hash    TEXT   NOT NULL,
    method         TEXT   NOT NULL,
    at             BIGINT NOT NULL,
    actor          TEXT   NOT NULL,
    evidence       TEXT,
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
);
CREATE INDEX consent_records_by_subject ON consent_records (tenant, subject, at);
CREATE INDEX consent_records_by_tenant ON consent_records (tenant, pos);

-- Appending an audit entry moves its tenant's head, in the same statement.
CREATE FUNCTION covenant_move_audit_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE tenant = NEW.tenant;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_entries_move_head AFTER INSERT ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION covenant_move_audit_head();

-- The ledger and the audit log are append-only.
CREATE FUNCTION covenant_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER consent_records_append_only BEFORE UPDATE OR DELETE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION covenant_append_only();
CREATE TRIGGER consent_records_no_truncate BEFORE TRUNCATE ON consent_records
    FOR EACH STATEMENT EXECUTE FUNCTION covenant_append_only();
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION covenant_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION covenant_append_only();
