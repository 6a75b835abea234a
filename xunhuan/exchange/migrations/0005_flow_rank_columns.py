"""Proposed flows keep why they were chosen as numbers (cost rank, eligible routes)
instead of a stored bilingual sentence; the sentence is rendered in the reader's
language. Existing flows' ranks are read back from their sentences, which always
carried both numbers ("在N条可达且质量合格的线路中运费排第K"), so nothing is lost."""

import re

from django.db import migrations, models

SENTENCE = re.compile(r"在(\d+)条可达且质量合格的线路中运费排第(\d+)")


def ranks_from_sentences(apps, schema_editor):  # type: ignore[no-untyped-def]
    flow = apps.get_model("exchange", "ProposedFlow")
    batch = []
    for pk, explanation in flow.objects.values_list("pk", "explanation").iterator(2000):
        found = SENTENCE.search(explanation)
        if found is None:
            raise ValueError(f"proposed flow {pk}: no rank in its explanation {explanation!r}")
        batch.append(flow(pk=pk, eligible_routes=int(found[1]), cost_rank=int(found[2])))
        if len(batch) == 2000:
            flow.objects.bulk_update(batch, ["eligible_routes", "cost_rank"])
            batch = []
    flow.objects.bulk_update(batch, ["eligible_routes", "cost_rank"])


def sentences_from_ranks(apps, schema_editor):  # type: ignore[no-untyped-def]
    flow = apps.get_model("exchange", "ProposedFlow")
    batch = []
    for row in flow.objects.iterator(2000):
        mode = "铁路" if row.mode == "rail" else "公路"
        row.explanation = (
            f"{mode}{row.distance_km}公里，{row.cost_per_t}元/吨；"
            f"在{row.eligible_routes}条可达且质量合格的线路中运费排第{row.cost_rank}"
        )
        batch.append(row)
        if len(batch) == 2000:
            flow.objects.bulk_update(batch, ["explanation"])
            batch = []
    flow.objects.bulk_update(batch, ["explanation"])


class Migration(migrations.Migration):
    dependencies = [
        ("exchange", "0004_flows_without_registry_constraints"),
    ]

    operations = [
        migrations.AddField(
            model_name="proposedflow",
            name="cost_rank",
            field=models.PositiveIntegerField(default=0, verbose_name="运费排名"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="proposedflow",
            name="eligible_routes",
            field=models.PositiveIntegerField(default=0, verbose_name="可达线路数"),
            preserve_default=False,
        ),
        migrations.RunPython(ranks_from_sentences, sentences_from_ranks, elidable=False),
        # A default first, so that migrating back can add the column to existing rows.
        migrations.AlterField(
            model_name="proposedflow",
            name="explanation",
            field=models.CharField(default="", max_length=500, verbose_name="说明"),
        ),
        migrations.RemoveField(model_name="proposedflow", name="explanation"),
    ]
