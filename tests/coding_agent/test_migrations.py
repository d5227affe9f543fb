"""Data migrations of the coding agent's rows."""

import importlib
import json
from pathlib import Path

from django.apps import apps

from coding_agent.models import ChatModel

wording = importlib.import_module("coding_agent.migrations.0007_demo_script_wording")
DEMO_SCRIPT = json.loads((Path(wording.__file__).parents[1] / "demo_script.json").read_text("utf-8"))


def test_the_demo_script_is_updated_where_it_is_still_the_original(db):
    ChatModel.objects.update_or_create(
        id="demo-scripted", defaults={"label": "Demo", "provider": "scripted", "script": wording.OLD_SCRIPT}
    )
    wording.update_demo_script(apps, None)
    assert ChatModel.objects.get(id="demo-scripted").script == DEMO_SCRIPT


def test_a_demo_script_an_operator_edited_is_left_alone(db):
    mine = [{"text": "My own demo."}]
    ChatModel.objects.update_or_create(
        id="demo-scripted", defaults={"label": "Demo", "provider": "scripted", "script": mine}
    )
    wording.update_demo_script(apps, None)
    assert ChatModel.objects.get(id="demo-scripted").script == mine
