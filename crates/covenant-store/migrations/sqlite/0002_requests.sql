-- Data-subject requests, their history, one-time codes, proof of identity, the tenant's own
-- customers (processor mode) and the job queue. Representations as in 0001.

-- The controllers a tenant processes data for. `webhook_secret` is sealed with the server's key.
CREATE TABLE customers (
    tenant         TEXT    NOT NULL REFERENCES tenants (id),
    id             TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    email          TEXT,
    webhook_url    TEXT,
    webhook_secret BLOB,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;

-- `due_at` is the due date computed at receipt; `extended_due_at` replaces it once extended.
-- `identity` is the identity key (`email:ada@example.com`); `contact` the address answers go to.
CREATE TABLE requests (
    tenant           TEXT    NOT NULL REFERENCES tenants (id),
    id               TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    identity         TEXT    NOT NULL,
    contact          TEXT,
    subject          TEXT,
    jurisdiction     TEXT,
    customer         TEXT,
    received_at      INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    acknowledge_by   INTEGER,
    acknowledged_at  INTEGER,
    extended_due_at  INTEGER,
    extension_reason TEXT,
    details          TEXT    NOT NULL,
    response         TEXT,
    updated_at       INTEGER NOT NULL,
    closed_at        INTEGER,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, customer) REFERENCES customers (tenant, id)
) STRICT;
CREATE INDEX requests_by_due ON requests (tenant, closed_at, due_at);

-- Every event of a request, in order: who, what, when, and the state after it.
CREATE TABLE request_events (
    pos     INTEGER PRIMARY KEY,
    tenant  TEXT    NOT NULL,
    request TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    event   TEXT    NOT NULL,
    state   TEXT    NOT NULL,
    detail  TEXT    NOT NULL,
    FOREIGN KEY (tenant, request) REFERENCES requests (tenant, id)
) STRICT;
CREATE INDEX request_events_by_request ON request_events (tenant, request, pos);

-- One-time codes: only a keyed SHA-256 (HMAC) of the code with a random salt is kept. `status`:
-- `active`, `used` or `superseded` (a newer code was sent). Rows stay, for the hourly limit.
CREATE TABLE request_codes (
    pos           INTEGER PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    request       TEXT    NOT NULL,
    salt          BLOB    NOT NULL,
    hash          BLOB    NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    attempts_left INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    FOREIGN KEY (tenant, request) REFERENCES requests (tenant, id)
) STRICT;
CREATE INDEX request_codes_by_request ON request_codes (tenant, request, issued_at);

-- Proof of identity, encrypted (ChaCha20-Poly1305) by the server; deleted when the request is
-- verified (promise W10).
CREATE TABLE request_attachments (
    tenant       TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    request      TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    nonce        BLOB    NOT NULL,
    ciphertext   BLOB    NOT NULL,
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, request) REFERENCES requests (tenant, id)
) STRICT;
CREATE INDEX request_attachments_by_request ON request_attachments (tenant, request);

-- The job queue. `state`: `pending`, `running` (leased to `locked_by` until `locked_until`) or
-- `dead` (out of attempts; kept). Finished jobs are deleted.
CREATE TABLE jobs (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant       TEXT    NOT NULL REFERENCES tenants (id),
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    locked_by    TEXT,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER
) STRICT;
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE INDEX jobs_by_tenant ON jobs (tenant, state, run_at);
