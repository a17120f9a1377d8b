-- SQLite schema for the issuer. PostgreSQL gets its own directory with the same tables.
-- STRICT makes SQLite enforce the declared column types instead of silently coercing.

-- Server-side secrets and flags that must survive restarts (e.g. the client-secret HMAC key).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

-- Registered clients. Only a keyed hash of the secret is kept; the secret itself is shown once.
CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY NOT NULL,
    secret_hash BLOB NOT NULL,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,
    ttl_secs    INTEGER NOT NULL CHECK (ttl_secs BETWEEN 1 AND 86400),
    created_at  INTEGER NOT NULL
) STRICT;

-- Signing keys. Retired keys stay so that tokens they signed still verify through the JWKS.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    alg         TEXT NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'RS256')),
    status      TEXT NOT NULL CHECK (status IN ('current', 'retired')),
    -- Private key bytes as produced by the sealer named in `sealed_by`.
    private_key BLOB NOT NULL,
    sealed_by   TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
) STRICT;

-- At most one current key, even when two processes race to create or rotate it.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (status) WHERE status = 'current';

-- Revoked access tokens by `jti`; rows can be purged once `expires_at` has passed.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
) STRICT;
