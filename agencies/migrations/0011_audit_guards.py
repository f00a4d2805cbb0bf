"""The audit tables refuse TRUNCATE, the chain heads move only forward, and the guards fire even
under `session_replication_role = replica`.

The database's owner can still disable a trigger; the signed checkpoints outside the database
(agencies/checkpoints.py) are what show that. A database its owner declared disposable
(`ALTER DATABASE ... SET casebound.audit_disposable = on`, as the test suite does so that it can
empty its tables between tests) may be truncated: only the database's owner can declare it, and the
owner could disable the trigger anyway.
"""

from django.db import migrations

GUARD = """
CREATE OR REPLACE FUNCTION casebound_audit_no_truncate() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
               WHERE d.datname = current_database() AND s.setrole = 0
               AND 'casebound.audit_disposable=on' = ANY (s.setconfig)) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: TRUNCATE refused on %', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

-- A head is created at the start of its chain and then moves one event at a time, to the hash of
-- the event just appended after the one it pointed at; it is never removed.
CREATE OR REPLACE FUNCTION casebound_audit_head_forward() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.seq = 0 AND NEW.hash = repeat('0', 64) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.chain = OLD.chain AND NEW.seq = OLD.seq + 1 AND EXISTS (
            SELECT 1 FROM agencies_auditevent e WHERE e.chain = NEW.chain AND e.seq = NEW.seq
            AND e.hash = NEW.hash AND e.prev_hash = OLD.hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit chain heads only move forward through the audit writer: % refused on %',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER agencies_auditevent_no_truncate BEFORE TRUNCATE ON agencies_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION casebound_audit_no_truncate();
CREATE TRIGGER agencies_auditchainhead_forward BEFORE INSERT OR UPDATE OR DELETE
    ON agencies_auditchainhead FOR EACH ROW EXECUTE FUNCTION casebound_audit_head_forward();
CREATE TRIGGER agencies_auditchainhead_no_truncate BEFORE TRUNCATE ON agencies_auditchainhead
    FOR EACH STATEMENT EXECUTE FUNCTION casebound_audit_no_truncate();
CREATE TRIGGER agencies_auditcheckpoint_append_only BEFORE UPDATE OR DELETE
    ON agencies_auditcheckpoint FOR EACH ROW EXECUTE FUNCTION casebound_audit_append_only();
CREATE TRIGGER agencies_auditcheckpoint_no_truncate BEFORE TRUNCATE ON agencies_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION casebound_audit_no_truncate();

-- ALWAYS: a session in `session_replication_role = replica` (as logical replication and some
-- restore tools run) would otherwise skip them.
ALTER TABLE agencies_auditevent ENABLE ALWAYS TRIGGER agencies_auditevent_append_only;
ALTER TABLE agencies_auditevent ENABLE ALWAYS TRIGGER agencies_auditevent_no_truncate;
ALTER TABLE agencies_auditchainhead ENABLE ALWAYS TRIGGER agencies_auditchainhead_forward;
ALTER TABLE agencies_auditchainhead ENABLE ALWAYS TRIGGER agencies_auditchainhead_no_truncate;
ALTER TABLE agencies_auditcheckpoint ENABLE ALWAYS TRIGGER agencies_auditcheckpoint_append_only;
ALTER TABLE agencies_auditcheckpoint ENABLE ALWAYS TRIGGER agencies_auditcheckpoint_no_truncate;
"""

UNGUARD = """
ALTER TABLE agencies_auditevent ENABLE TRIGGER agencies_auditevent_append_only;
DROP TRIGGER IF EXISTS agencies_auditcheckpoint_no_truncate ON agencies_auditcheckpoint;
DROP TRIGGER IF EXISTS agencies_auditcheckpoint_append_only ON agencies_auditcheckpoint;
DROP TRIGGER IF EXISTS agencies_auditchainhead_no_truncate ON agencies_auditchainhead;
DROP TRIGGER IF EXISTS agencies_auditchainhead_forward ON agencies_auditchainhead;
DROP TRIGGER IF EXISTS agencies_auditevent_no_truncate ON agencies_auditevent;
DROP FUNCTION IF EXISTS casebound_audit_head_forward();
DROP FUNCTION IF EXISTS casebound_audit_no_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("agencies", "0010_audit_checkpoint")]

    operations = [migrations.RunSQL(GUARD, UNGUARD)]
