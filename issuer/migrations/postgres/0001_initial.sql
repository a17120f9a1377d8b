-- PostgreSQL schema for the issuer: the same tables as migrations/sqlite/0001_initial.sql.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY NOT NULL,
    value BYTEA NOT NULL
);

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY NOT NULL,
    secret_hash BYTEA NOT NULL,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,
    ttl_secs    BIGINT NOT NULL CHECK (ttl_secs BETWEEN 1 AND 86400),
    created_at  BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY NOT NULL,
    alg         TEXT NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'RS256')),
    status      TEXT NOT NULL CHECK (status IN ('current', 'retired')),
    private_key BYTEA NOT NULL,
    sealed_by   TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT
);

CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (status) WHERE status = 'current';

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
