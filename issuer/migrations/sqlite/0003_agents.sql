-- Issue 13: agents. A client is a service (its tokens are its own) or an agent (it also acts for
-- another principal by token exchange, RFC 8693); every client registered before is a service.
ALTER TABLE clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'service'
    CHECK (kind IN ('service', 'agent'));

-- The admin API lists live delegations from the trail's successful exchange records, at most a
-- day old (no token lives longer): only those rows are indexed, so issuing other tokens pays nothing.
-- The literal is the action `ops::Action::TOKEN_EXCHANGED` records; the query repeats it.
CREATE INDEX audit_log_exchanges ON audit_log (at_ms)
    WHERE action = 'token.exchanged' AND outcome = 'success';
