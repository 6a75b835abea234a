"""Database triggers that refuse UPDATE and DELETE on ledger entries.

The model and its queryset refuse too; the triggers also stop raw SQL and other
programs. Someone with rights to drop triggers can still tamper, which is what
the hash chain is there to reveal.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TABLE = "ledger_ledgerentry"

SQLITE_CREATE = [
    f"CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
    f"CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS ledger_entry_no_update",
    "DROP TRIGGER IF EXISTS ledger_entry_no_delete",
]
POSTGRES_CREATE = [
    "CREATE OR REPLACE FUNCTION ledger_entry_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'ledger entries are append-only'; END; $$ LANGUAGE plpgsql",
    f"CREATE TRIGGER ledger_entry_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()",
    # TRUNCATE bypasses row triggers; refuse it as well.
    f"CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_append_only()",
]
POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS ledger_entry_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS ledger_entry_no_change ON {TABLE}",
    "DROP FUNCTION IF EXISTS ledger_entry_append_only()",
]


def _run(schema_editor: BaseDatabaseSchemaEditor, sqlite: list[str], postgres: list[str]) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": sqlite, "postgresql": postgres}.get(vendor)
    if statements is None:
        raise RuntimeError(f"no append-only triggers for database vendor {vendor!r}")
    for statement in statements:
        schema_editor.execute(statement)


def create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, SQLITE_CREATE, POSTGRES_CREATE)


def drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, SQLITE_DROP, POSTGRES_DROP)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
