-- Issue 13: the same changes as migrations/sqlite/0003_agents.sql (which explains them).
ALTER TABLE clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'service'
    CHECK (kind IN ('service', 'agent'));

CREATE INDEX audit_log_exchanges ON audit_log (at_ms)
    WHERE action = 'token.exchanged' AND outcome = 'success';
