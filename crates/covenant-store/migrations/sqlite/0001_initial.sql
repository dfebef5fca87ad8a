-- Covenant store, SQLite. Representations (see the crate documentation):
--   ids of records: UUID as hyphenated lowercase TEXT; tenants: their slug as TEXT;
--   timestamps: INTEGER microseconds since the Unix epoch (UTC); dates: TEXT `YYYY-MM-DD`;
--   hashes: 32-byte BLOB; enumerations: their wire name as TEXT.

CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- The head of each tenant's audit chain; written in the same transaction as every entry.
CREATE TABLE audit_heads (
    tenant TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id),
    seq    INTEGER NOT NULL,
    hash   BLOB    NOT NULL
) STRICT;

CREATE TABLE audit_entries (
    tenant    TEXT    NOT NULL REFERENCES tenants (id),
    seq       INTEGER NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL,
    PRIMARY KEY (tenant, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant     TEXT    NOT NULL REFERENCES tenants (id),
    prefix     TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    label      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant, created_at);

CREATE TABLE subjects (
    tenant       TEXT    NOT NULL REFERENCES tenants (id),
    id           TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    birth_date   TEXT,
    jurisdiction TEXT,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;

-- `key` is the normalised identity key (`email:ada@example.com`): one subject per key per tenant.
CREATE TABLE subject_identities (
    tenant   TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, key),
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
) STRICT;
CREATE INDEX subject_identities_by_subject ON subject_identities (tenant, subject);

-- Flags are rows keyed by name (`under_age`, `restricted`, `objection:<purpose>`), so that new
-- kinds of flag need no migration.
CREATE TABLE subject_flags (
    tenant  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    set_at  INTEGER NOT NULL,
    due     INTEGER,
    detail  TEXT,
    PRIMARY KEY (tenant, subject, name),
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
) STRICT;
CREATE INDEX subject_flags_by_due ON subject_flags (name, due) WHERE due IS NOT NULL;

CREATE TABLE lifecycle_events (
    pos     INTEGER PRIMARY KEY,
    tenant  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    detail  TEXT,
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
) STRICT;
CREATE INDEX lifecycle_events_by_subject ON lifecycle_events (tenant, subject, at);

-- The consent ledger. `pos` is the ledger order (assigned on append); `id` is the caller's.
CREATE TABLE consent_records (
    pos            INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    tenant         TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    policy_version TEXT    NOT NULL,
    purpose_hash   TEXT    NOT NULL,
    notice_hash    TEXT    NOT NULL,
    method         TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    actor          TEXT    NOT NULL,
    evidence       TEXT,
    FOREIGN KEY (tenant, subject) REFERENCES subjects (tenant, id)
) STRICT;
CREATE INDEX consent_records_by_subject ON consent_records (tenant, subject, at);
CREATE INDEX consent_records_by_tenant ON consent_records (tenant, pos);

-- Appending an audit entry moves its tenant's head, in the same statement.
CREATE TRIGGER audit_entries_move_head AFTER INSERT ON audit_entries
BEGIN UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE tenant = NEW.tenant; END;

-- The ledger and the audit log are append-only.
CREATE TRIGGER consent_records_no_update BEFORE UPDATE ON consent_records
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER consent_records_no_delete BEFORE DELETE ON consent_records
BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
