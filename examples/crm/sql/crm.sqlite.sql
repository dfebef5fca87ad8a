-- The demo application's `crm` database (SQLite): a call-center CRM in the style of Oki-Toki
-- (examples/okitoki/policy.toml). Annotated in crm.dataset.toml.
-- Integer keys are `INTEGER PRIMARY KEY`, SQLite's row id, as SQLite applications declare them:
-- a row is found by its key in one B-tree instead of two.

CREATE TABLE accounts (            -- customer companies (the controllers of their contacts)
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    plan        TEXT NOT NULL,
    created_at  TEXT NOT NULL       -- RFC 3339, UTC
);

CREATE TABLE users (               -- people who use the product for an account
    id             INTEGER PRIMARY KEY,
    account_id     BIGINT NOT NULL REFERENCES accounts (id),
    public_id      TEXT NOT NULL UNIQUE,  -- `u_…`, the account id the events database knows
    email          TEXT NOT NULL UNIQUE,
    full_name      TEXT NOT NULL,
    phone          TEXT,
    password_hash  TEXT NOT NULL,
    time_zone      TEXT,
    created_at     TEXT NOT NULL,
    last_login_at  TEXT,
    deactivated_at TEXT
);
CREATE INDEX users_account ON users (account_id);
CREATE INDEX users_phone ON users (phone);      -- identity columns are looked up by requests

CREATE TABLE contacts (            -- an account's own contacts and prospects (processor data, T7)
    id          INTEGER PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    email       TEXT,
    phone       TEXT,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    company     TEXT,
    notes       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX contacts_account ON contacts (account_id);
CREATE INDEX contacts_email ON contacts (email);
CREATE INDEX contacts_phone ON contacts (phone);

CREATE TABLE client_cards (        -- a card per conversation with a contact
    id          INTEGER PRIMARY KEY,
    contact_id  BIGINT NOT NULL REFERENCES contacts (id),
    title       TEXT NOT NULL,
    body        TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX client_cards_contact ON client_cards (contact_id);

CREATE TABLE comments (            -- comments on a card, written by a user
    id              INTEGER PRIMARY KEY,
    card_id         BIGINT NOT NULL REFERENCES client_cards (id),
    author_user_id  BIGINT REFERENCES users (id),
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX comments_card ON comments (card_id);
CREATE INDEX comments_author ON comments (author_user_id);

CREATE TABLE tickets (             -- support tickets opened by a user
    id           INTEGER PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    assignee_id  BIGINT REFERENCES users (id),
    subject      TEXT NOT NULL,
    body         TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX tickets_user ON tickets (user_id);
CREATE INDEX tickets_assignee ON tickets (assignee_id);

CREATE TABLE payments (            -- invoices paid by a user (kept for tax law after erasure)
    id               INTEGER PRIMARY KEY,
    user_id          BIGINT REFERENCES users (id),
    billing_email    TEXT NOT NULL,
    card_holder      TEXT NOT NULL,
    billing_address  TEXT NOT NULL,
    card_last4       TEXT,
    amount_cents     BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    paid_at          TEXT NOT NULL
);
CREATE INDEX payments_user ON payments (user_id);
CREATE INDEX payments_email ON payments (billing_email);

CREATE TABLE ai_messages (         -- the AI assistant conversation of a user
    id               INTEGER PRIMARY KEY,
    user_id          BIGINT NOT NULL REFERENCES users (id),
    conversation_id  TEXT NOT NULL,
    role             TEXT NOT NULL,   -- user | assistant
    content          TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX ai_messages_user ON ai_messages (user_id);

CREATE TABLE invitations (         -- one invitation email to a teammate (T6)
    id                  INTEGER PRIMARY KEY,
    account_id          BIGINT NOT NULL REFERENCES accounts (id),
    invited_by_user_id  BIGINT REFERENCES users (id),
    email               TEXT NOT NULL,
    sent_at             TEXT NOT NULL
);
CREATE INDEX invitations_email ON invitations (email);
CREATE INDEX invitations_inviter ON invitations (invited_by_user_id);

CREATE TABLE marketing_preferences (  -- newsletter and promotional email choices (T4)
    email               TEXT PRIMARY KEY,
    newsletter          BOOLEAN NOT NULL,
    promotional         BOOLEAN NOT NULL,
    last_interaction_at TEXT NOT NULL
);
