"""A fresh install runs on the scripted demo model until a real one is configured.

The script is read from coding_agent/demo_script.json when this migration runs and copied
into the row, so later edits of the file do not change databases already migrated.
"""

import json
from pathlib import Path

from django.db import migrations

DEMO_ID = "demo-scripted"


def create_demo_model(apps, schema_editor):
    ChatModel = apps.get_model("coding_agent", "ChatModel")
    if ChatModel.objects.filter(is_default=True).exists():
        return  # an operator already chose a default: leave it alone
    script = json.loads((Path(__file__).resolve().parent.parent / "demo_script.json").read_text("utf-8"))
    ChatModel.objects.update_or_create(
        id=DEMO_ID,
        defaults={
            "label": "Demo (scripted — no AI)",
            "provider": "scripted",
            "script": script,
            "is_active": True,
            "is_default": True,
        },
    )


def remove_demo_model(apps, schema_editor):
    apps.get_model("coding_agent", "ChatModel").objects.filter(id=DEMO_ID).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coding_agent", "0003_agentrun_workspace_manifest"),
    ]

    operations = [
        migrations.RunPython(create_demo_model, remove_demo_model),
    ]
