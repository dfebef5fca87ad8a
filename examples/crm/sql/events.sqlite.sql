-- The demo application's `events` database (SQLite): tracking, keyed by identities only, so
-- that a person is found here through the identities found in `crm`. Annotated in events.dataset.toml.
-- Integer keys are `INTEGER PRIMARY KEY`, SQLite's row id, as SQLite applications declare them:
-- a row is found by its key in one B-tree instead of two.
CREATE TABLE email_events (        -- opens and clicks of our HTML emails (web beacons)
    id           INTEGER PRIMARY KEY,
    email        TEXT NOT NULL,
    campaign     TEXT NOT NULL,
    kind         TEXT NOT NULL,       -- open | click
    ip           TEXT,
    user_agent   TEXT,
    occurred_at  TEXT NOT NULL
);
CREATE INDEX email_events_email ON email_events (email);

CREATE TABLE login_events (        -- sign-ins, keyed by the user's public id
    id           INTEGER PRIMARY KEY,
    user_ref     TEXT NOT NULL,
    ip           TEXT NOT NULL,
    user_agent   TEXT,
    occurred_at  TEXT NOT NULL
);
CREATE INDEX login_events_user ON login_events (user_ref);
