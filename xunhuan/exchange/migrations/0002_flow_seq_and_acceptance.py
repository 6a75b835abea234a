"""Flows get a number within their run (their public address) and keep only the
indexes a query needs; an accepted flow records the draft transfer document it became."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def number_flows(apps: Any, schema_editor: Any) -> None:
    """Existing runs' flows numbered 1, 2, … in insertion order."""
    flow_model = apps.get_model("exchange", "ProposedFlow")
    flows = list(flow_model.objects.order_by("run_id", "pk").only("pk", "run_id"))
    previous, seq = None, 0
    for flow in flows:
        seq = seq + 1 if flow.run_id == previous else 1
        previous, flow.seq = flow.run_id, seq
    flow_model.objects.bulk_update(flows, ["seq"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0001_initial"),
        ("registry", "0003_waste_category_2024_class"),
        ("transfers", "0002_idempotent_create"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="proposedflow",
            name="seq",
            field=models.PositiveIntegerField(default=0, verbose_name="序号"),
            preserve_default=False,
        ),
        migrations.RunPython(number_flows, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="proposedflow",
            options={
                "ordering": ["run_id", "seq"],
                "verbose_name": "建议流向",
                "verbose_name_plural": "建议流向",
            },
        ),
        migrations.AddConstraint(
            model_name="proposedflow",
            constraint=models.UniqueConstraint(fields=("run", "seq"), name="flow_run_seq_unique"),
        ),
        # Only the indexes a query needs (see the model): flows are written in bulk.
        migrations.AlterField(
            model_name="proposedflow",
            name="listing",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="exchange.listing",
            ),
        ),
        migrations.AlterField(
            model_name="proposedflow",
            name="receiver_enterprise",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.enterprise",
            ),
        ),
        migrations.AlterField(
            model_name="proposedflow",
            name="receiver_site",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.site",
            ),
        ),
        migrations.AlterField(
            model_name="proposedflow",
            name="run",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="flows",
                to="exchange.run",
            ),
        ),
        migrations.AlterField(
            model_name="proposedflow",
            name="source_enterprise",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.enterprise",
            ),
        ),
        migrations.AlterField(
            model_name="proposedflow",
            name="source_site",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.site",
            ),
        ),
        migrations.AlterField(
            model_name="proposedflow",
            name="waste",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.wastecategory",
            ),
        ),
        migrations.CreateModel(
            name="FlowAcceptance",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("accepted_at", models.DateTimeField(auto_now_add=True)),
                (
                    "accepted_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "flow",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="acceptance",
                        to="exchange.proposedflow",
                    ),
                ),
                (
                    "transfer",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="exchange_acceptance",
                        to="transfers.transfer",
                    ),
                ),
            ],
            options={"verbose_name": "接受的流向", "verbose_name_plural": "接受的流向"},
        ),
    ]
