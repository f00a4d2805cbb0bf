"""The database itself refuses to change or remove an audit event."""

from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION casebound_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER agencies_auditevent_append_only
    BEFORE UPDATE OR DELETE ON agencies_auditevent
    FOR EACH ROW EXECUTE FUNCTION casebound_audit_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS agencies_auditevent_append_only ON agencies_auditevent;
DROP FUNCTION IF EXISTS casebound_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("agencies", "0002_audit_trail")]

    operations = [migrations.RunSQL(FORBID, ALLOW)]
