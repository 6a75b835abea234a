"""Add each category's 2024 《固体废物分类与代码目录》 class code and how far it is sourced.

Reads ``data/waste_catalogue_2024_classes.csv`` (which also tightens three English
glosses, docs/research/waste-catalogue.md §4); the 2021 file stays as loaded.
"""

import csv
from pathlib import Path

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

DATA = Path(__file__).resolve().parent.parent / "data"


def load(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    category_model = apps.get_model("registry", "WasteCategory")
    with (DATA / "waste_catalogue_2024_classes.csv").open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            category_model.objects.filter(code=row["code"]).update(
                class_code_2024=row["class_code_2024"],
                source_status=row["source_status"],
                name_en=row["name_en"],
            )


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_catalogue_data")]

    operations = [
        # The tightened glosses are longer than the 2021 file's (SW11 is 70 characters).
        migrations.AlterField(
            model_name="wastecategory",
            name="name_en",
            field=models.CharField(max_length=128, verbose_name="英文名称"),
        ),
        migrations.AddField(
            model_name="wastecategory",
            name="class_code_2024",
            field=models.CharField(blank=True, max_length=3, verbose_name="2024目录类别代码"),
        ),
        migrations.AddField(
            model_name="wastecategory",
            name="source_status",
            field=models.CharField(
                choices=[
                    ("attested", "有出处（官方表式或其转载）"),
                    ("unverified", "未核实（待对照官方附表）"),
                ],
                default="unverified",
                max_length=16,
                verbose_name="出处核实",
            ),
        ),
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
