-- Data-subject requests, their history, one-time codes, proof of identity, the tenant's own
-- customers (processor mode) and the job queue. Representations as in 0001.

-- The controllers a tenant processes data for. `webhook_secret` is sealed with the server's key.
CREATE TABLE customers (
    tenant         TEXT    NOT NULL REFERENCES tenants (id),
    id             UUID    NOT NULL,
    name           TEXT    NOT NULL,
    email          TEXT,
    webhook_url    TEXT,
    webhook_secret BYTEA,
    created_at     BIGINT  NOT NULL,
    PRIMARY KEY (tenant, id)
);

-- `due_at` is the due date computed at receipt; `extended_due_at` replaces it once extended.
-- `identity` is the identity key (`email:ada@example.com`); `contact` the address answers go to.
CREATE TABLE requests (
    tenant           TEXT    NOT NULL REFERENCES tenants (id),
    id               UUID    NOT NULL,
    kind             TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    identity         TEXT    NOT NULL,
    contact          TEXT,
    subject          UUID,
    jurisdiction     TEXT,
    customer         UUID,
    received_at      BIGINT  NOT NULL,
    due_at           BIGINT  NOT NULL,
    acknowledge_by   BIGINT,
    acknowledged_at  BIGINT,
    extended_due_at  BIGINT,
    extension_reason TEXT,
    details          TEXT    NOT NULL,
    response         TEXT,
    updated_at       BIGINT  NOT NULL,
    closed_at        BIGINT,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, customer) REFERENCES customers (tenant, id)
);
CREATE INDEX requests_by_due ON requests (tenant, closed_at, due_at);

-- Every event of a request, in order: who, what, when, and the state after it.
CREATE TABLE request_events (
    pos     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant  TEXT    NOT NULL,
    request UUID    NOT NULL,
    at      BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    event   TEXT    NOT NULL,
    state   TEXT    NOT NULL,
    detail  TEXT    NOT NULL,
    FOREIGN KEY (tenant, request) REFERENCES requests (tenant, id)
);
CREATE INDEX request_events_by_request ON request_events (tenant, request, pos);

-- One-time codes: only a keyed SHA-256 (HMAC) of the code with a random salt is kept. `status`:
-- `active`, `used` or `superseded` (a newer code was sent). Rows stay, for the hourly limit.
CREATE TABLE request_codes (
    pos           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant        TEXT    NOT NULL,
    request       UUID    NOT NULL,
    salt          BYTEA  NOT NULL,
    hash          BYTEA  NOT NULL,
    issued_at     BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    attempts_left BIGINT  NOT NULL,
    status        TEXT    NOT NULL,
    FOREIGN KEY (tenant, request) REFERENCES requests (tenant, id)
);
CREATE INDEX request_codes_by_request ON request_codes (tenant, request, issued_at);

-- Proof of identity, encrypted (ChaCha20-Poly1305) by the server; deleted when the request is
-- verified (promise W10).
CREATE TABLE request_attachments (
    tenant       TEXT    NOT NULL,
    id           UUID    NOT NULL,
    request      UUID    NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    nonce        BYTEA  NOT NULL,
    ciphertext   BYTEA  NOT NULL,
    added_at     BIGINT  NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, request) REFERENCES requests (tenant, id)
);
CREATE INDEX request_attachments_by_request ON request_attachments (tenant, request);

-- The job queue. `state`: `pending`, `running` (leased to `locked_by` until `locked_until`) or
-- `dead` (out of attempts; kept). Finished jobs are deleted.
CREATE TABLE jobs (
    id           UUID    NOT NULL PRIMARY KEY,
    tenant       TEXT    NOT NULL REFERENCES tenants (id),
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    run_at       BIGINT  NOT NULL,
    attempts     BIGINT  NOT NULL,
    max_attempts BIGINT  NOT NULL,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT  NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
CREATE INDEX jobs_by_tenant ON jobs (tenant, state, run_at);
