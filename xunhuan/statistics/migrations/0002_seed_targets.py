"""Load every target of the policy seeds (``../data/policy_targets_seed.csv``).

The CSV merges ``shared/domain/data/policy_targets.csv`` and the targets table of
the domain README (one row per target, duplicates between the two removed); each
row keeps its source and how far it was verified. A row already loaded (same
region, year and indicator) is skipped. Reversal removes only seed rows.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import migrations

SEED = Path(__file__).resolve().parent.parent / "data" / "policy_targets_seed.csv"


def load(apps: Any, schema_editor: Any) -> None:
    Target = apps.get_model("statistics", "Target")
    WasteGroup = apps.get_model("registry", "WasteGroup")
    with SEED.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        metric = row["metric"]
        exists = Target.objects.filter(
            is_seed=True,
            region_code=row["region_code"],
            year=int(row["year"]),
            indicator=row["indicator"],
        ).exists()
        if exists:
            continue
        target = Target.objects.create(
            region_code=row["region_code"],
            year=int(row["year"]),
            plan=row["plan"],
            issuer_doc_no=row["issuer_doc_no"],
            indicator=row["indicator"],
            scope=row["scope"],
            metric=metric,
            threshold_percent=Decimal(row["threshold"]) if metric == "rate" else None,
            # TonnesField stores kilograms; the historical model has the real field.
            threshold_tonnes=Decimal(row["threshold"]) if metric == "tonnes" else None,
            threshold_text=row["threshold"] if metric == "text" else "",
            verification=row["verification"],
            source_url=row["source_url"],
            note=row["note"],
            is_seed=True,
        )
        codes = [c for c in row["waste_groups"].split(";") if c]
        if codes:
            target.waste_groups.set(WasteGroup.objects.filter(code__in=codes))


def unload(apps: Any, schema_editor: Any) -> None:
    Target = apps.get_model("statistics", "Target")
    for target in Target.objects.filter(is_seed=True):
        target.waste_groups.clear()
        target.delete()


class Migration(migrations.Migration):
    dependencies = [("statistics", "0001_initial"), ("registry", "0002_catalogue_data")]

    operations = [migrations.RunPython(load, unload)]
