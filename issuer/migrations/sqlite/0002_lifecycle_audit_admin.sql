-- Issue 4: key lifecycle (next → current → retired), client authentication by private_key_jwt,
-- client disabling and whole-client revocation, assertion replay protection, the hash-chained
-- audit trail, admin credentials and the rows used as cross-process locks.
-- SQLite cannot change a column's constraints in place, so the two changed tables are rebuilt.

CREATE TABLE signing_keys_v2 (
    kid           TEXT PRIMARY KEY NOT NULL,
    alg           TEXT NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'RS256')),
    -- next: published, not signing; current: signing; retired: published, not signing.
    status        TEXT NOT NULL CHECK (status IN ('next', 'current', 'retired')),
    private_key   BLOB NOT NULL,
    sealed_by     TEXT NOT NULL,
    public_jwk    TEXT NOT NULL,
    -- Published in the JWKS from this time on.
    created_at    INTEGER NOT NULL,
    activated_at  INTEGER,
    retired_at    INTEGER,
    -- Retired keys leave the JWKS (and the database) once every token they signed has expired.
    publish_until INTEGER
) STRICT;
INSERT INTO signing_keys_v2 (kid, alg, status, private_key, sealed_by, public_jwk, created_at,
                             activated_at, retired_at, publish_until)
SELECT kid, alg, status, private_key, sealed_by, public_jwk, created_at,
       created_at, retired_at, CASE WHEN status = 'retired' THEN retired_at + 86460 END
FROM signing_keys;
DROP TABLE signing_keys;
ALTER TABLE signing_keys_v2 RENAME TO signing_keys;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (status) WHERE status = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (status) WHERE status = 'next';

CREATE TABLE clients_v2 (
    client_id   TEXT PRIMARY KEY NOT NULL,
    -- client_secret: a keyed hash of the secret; private_key_jwt: the client's public JWKS.
    auth_method TEXT NOT NULL CHECK (auth_method IN ('client_secret', 'private_key_jwt')),
    secret_hash BLOB,
    jwks        TEXT,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,
    ttl_secs    INTEGER NOT NULL CHECK (ttl_secs BETWEEN 1 AND 86400),
    created_at  INTEGER NOT NULL,
    disabled_at INTEGER,
    CHECK ((auth_method = 'client_secret') = (secret_hash IS NOT NULL)),
    CHECK ((auth_method = 'private_key_jwt') = (jwks IS NOT NULL))
) STRICT;
INSERT INTO clients_v2 (client_id, auth_method, secret_hash, scope, audience, ttl_secs, created_at)
SELECT client_id, 'client_secret', secret_hash, scope, audience, ttl_secs, created_at FROM clients;
DROP TABLE clients;
ALTER TABLE clients_v2 RENAME TO clients;

-- Every token of client_id issued before revoked_before is revoked; the row can be purged at
-- expires_at, when all of them have expired anyway.
CREATE TABLE revoked_clients (
    client_id      TEXT PRIMARY KEY NOT NULL,
    revoked_before INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
) STRICT;

-- private_key_jwt assertions already used (RFC 7523 §3, item 7), kept until they expire.
CREATE TABLE used_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti)
) STRICT;

-- Append-only audit trail. hash = SHA-256 over the record and prev_hash, so editing, deleting
-- or reordering any record breaks the chain (`issuer audit verify`).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,
    at_ms     INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    source    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Admin API credentials: only a hash of each is kept.
CREATE TABLE admin_credentials (
    id         TEXT PRIMARY KEY NOT NULL,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- Rows whose update serialises writers across processes and replicas (`UPDATE locks ... WHERE
-- name = ...` takes SQLite's write lock or PostgreSQL's row lock before anything is read).
CREATE TABLE locks (
    name  TEXT PRIMARY KEY NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO locks (name) VALUES ('audit'), ('keys');
