-- The answer to an access or export request, rendered for the person to download (the readable
-- HTML report, the JSON document, the CSV archive). Representations as in 0001.

-- One per request. The download link's token is kept only as a keyed hash (HMAC-SHA256 under a
-- server key) with a random salt, like the one-time codes; NULL until the link is emailed.
-- Deleted, with its files, when it expires.
CREATE TABLE request_answers (
    tenant     TEXT    NOT NULL,
    request    UUID    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    token_salt BYTEA,
    token_hash BYTEA,
    PRIMARY KEY (tenant, request),
    FOREIGN KEY (tenant, request) REFERENCES requests (tenant, id)
);
-- A download link names the request, not the tenant.
CREATE INDEX request_answers_by_request ON request_answers (request);

-- The answer's files, each encrypted (ChaCha20-Poly1305) by the server; `size` is the plaintext's.
CREATE TABLE request_answer_files (
    tenant       TEXT    NOT NULL,
    request      UUID    NOT NULL,
    format       TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    nonce        BYTEA   NOT NULL,
    ciphertext   BYTEA   NOT NULL,
    PRIMARY KEY (tenant, request, format),
    FOREIGN KEY (tenant, request) REFERENCES request_answers (tenant, request)
);
