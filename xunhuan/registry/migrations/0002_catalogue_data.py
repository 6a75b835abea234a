"""Load the versioned catalogue data (waste groups, MEE 2021 waste categories, industries).

Reads the CSV files shipped in ``xunhuan/registry/data``; later catalogue versions
come as new files and new migrations, never as edits in place.
"""

import csv
from pathlib import Path

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

DATA = Path(__file__).resolve().parent.parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def load(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    group_model = apps.get_model("registry", "WasteGroup")
    category_model = apps.get_model("registry", "WasteCategory")
    industry_model = apps.get_model("registry", "Industry")
    for row in _rows("waste_groups.csv"):
        group_model.objects.update_or_create(
            code=row["code"],
            defaults={
                "name_zh": row["name_zh"],
                "name_en": row["name_en"],
                "is_bulk": row["is_bulk"] == "1",
            },
        )
    for row in _rows("waste_catalogue_2021.csv"):
        category_model.objects.update_or_create(
            code=row["code"],
            defaults={
                "name_zh": row["name_zh"],
                "name_en": row["name_en"],
                "group_id": row["bulk_group"] or None,
                "catalogue_version": "MEE-2021-82",
                "description": row.get("description_zh") or "",
                "is_active": True,
            },
        )
    for row in _rows("industries_gbt4754_2017.csv"):
        industry_model.objects.update_or_create(code=row["code"], defaults={"name": row["name"]})


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
