-- The journal of data-subject request runs (covenant-dsr): a run, and the write set it prepared
-- for each application database as numbered steps, each marked once applied. A run that is
-- still `open` is resumed by the next run of the same request (one open run per request key).

CREATE TABLE dsr_runs (
    tenant      TEXT   NOT NULL REFERENCES tenants (id),
    id          UUID   NOT NULL,
    request_key TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    identities  TEXT   NOT NULL,  -- identity keys, one per line
    scope       TEXT   NOT NULL,
    plan_hash   TEXT   NOT NULL,
    state       TEXT   NOT NULL,  -- open | done | failed
    report      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX dsr_runs_one_open ON dsr_runs (tenant, request_key) WHERE state = 'open';
CREATE INDEX dsr_runs_by_time ON dsr_runs (tenant, created_at);

-- `ops` is the prepared write set of one database (JSON), cleared when the run finishes; its
-- SHA-256 stays as evidence of what was written.
CREATE TABLE dsr_steps (
    tenant       TEXT    NOT NULL,
    run          UUID    NOT NULL,
    seq          BIGINT  NOT NULL,
    dataset      TEXT    NOT NULL,
    ops          TEXT    NOT NULL,
    ops_hash     TEXT    NOT NULL,
    op_count     BIGINT  NOT NULL,
    state        TEXT    NOT NULL,  -- pending | applied
    rows_changed BIGINT,
    applied_at   BIGINT,
    PRIMARY KEY (tenant, run, seq),
    FOREIGN KEY (tenant, run) REFERENCES dsr_runs (tenant, id)
);
