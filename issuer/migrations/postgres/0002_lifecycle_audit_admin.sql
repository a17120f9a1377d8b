-- Issue 4: the same changes as migrations/sqlite/0002_lifecycle_audit_admin.sql (which explains
-- each table); PostgreSQL can alter constraints in place.

ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_status_check;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_status_check
    CHECK (status IN ('next', 'current', 'retired'));
ALTER TABLE signing_keys ADD COLUMN activated_at BIGINT;
ALTER TABLE signing_keys ADD COLUMN publish_until BIGINT;
UPDATE signing_keys SET activated_at = created_at;
UPDATE signing_keys SET publish_until = retired_at + 86460 WHERE status = 'retired';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (status) WHERE status = 'next';

ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret'
    CHECK (auth_method IN ('client_secret', 'private_key_jwt'));
ALTER TABLE clients ALTER COLUMN auth_method DROP DEFAULT;
ALTER TABLE clients ALTER COLUMN secret_hash DROP NOT NULL;
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN disabled_at BIGINT;
ALTER TABLE clients ADD CHECK ((auth_method = 'client_secret') = (secret_hash IS NOT NULL));
ALTER TABLE clients ADD CHECK ((auth_method = 'private_key_jwt') = (jwks IS NOT NULL));

CREATE TABLE revoked_clients (
    client_id      TEXT PRIMARY KEY NOT NULL,
    revoked_before BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);

CREATE TABLE used_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY NOT NULL,
    at_ms     BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    source    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash      BYTEA NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE admin_credentials (
    id         TEXT PRIMARY KEY NOT NULL,
    hash       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE locks (
    name  TEXT PRIMARY KEY NOT NULL,
    taken BIGINT NOT NULL DEFAULT 0
);
INSERT INTO locks (name) VALUES ('audit'), ('keys');
