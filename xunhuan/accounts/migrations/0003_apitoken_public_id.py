"""Tokens get a UUID the API names them by. Existing rows each need their own value,
so the column is added nullable, filled row by row, then made unique and required."""

import uuid
from typing import Any

from django.db import migrations, models


def fill_public_ids(apps: Any, schema_editor: Any) -> None:
    ApiToken = apps.get_model("accounts", "ApiToken")
    for token in ApiToken.objects.filter(public_id__isnull=True).only("pk"):
        ApiToken.objects.filter(pk=token.pk).update(public_id=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apitoken_loginfailure"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="public_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="apitoken",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
