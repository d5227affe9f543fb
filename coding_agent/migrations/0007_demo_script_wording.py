"""The demo model's script, updated where it is still the one 0004 copied in.

Its closing text now holds whether or not the demo's patch applied, and gives the command
as a fresh install runs it (`.venv/bin/python manage.py ...`). A row an operator edited is
left alone.
"""

from django.db import migrations

DEMO_ID = "demo-scripted"
OLD_SCRIPT = [
    {
        "text": "I'll look at the page first.",
        "tool_calls": [
            {
                "id": "call_demo_read_index",
                "name": "coding_agent_read_file_range",
                "args": {"path": "index.html", "start_line": 1, "end_line": 30},
            }
        ],
    },
    {
        "text": "Now I'll update the headline and the main button with one patch.",
        "tool_calls": [
            {
                "id": "call_demo_patch_index",
                "name": "coding_agent_apply_patch",
                "args": {
                    "patch": '*** Begin Patch\n*** Update File: index.html\n@@\n-    <h1 id="headline">Plan your week in minutes</h1>\n+    <h1 id="headline">Plan your week in minutes — with a scripted demo agent</h1>\n     <p class="lead">Aurora turns scattered to-dos into a calm, realistic plan.</p>\n-    <a href="#signup" class="button">Join the waitlist</a>\n+    <a href="#signup" class="button">See what the agent changed</a>\n*** End Patch\n'
                },
            }
        ],
    },
    {
        "text": 'That was the demo script\'s last step: its patch changes the headline to "Plan your week in minutes — with a scripted demo agent" and the main button to "See what the agent changed". Open the preview to see the result, or restore the previous checkpoint to undo it.\n\nThis is the scripted demo model, not an AI: it plays a fixed script and ignores your request, so it tries the same edit every time (on a page it already changed, the patch no longer matches and the tool says why). To work with a real model, put its key in the server\'s environment and add the model as the default, for example:\n  python manage.py add_chat_model --id gpt --provider openai --model gpt-4.1 --api-key-env OPENAI_API_KEY --default\n(or --provider anthropic with a Claude model and --api-key-env ANTHROPIC_API_KEY).'
    },
]


def update_demo_script(apps, schema_editor):
    import json
    from pathlib import Path

    ChatModel = apps.get_model("coding_agent", "ChatModel")
    new_script = json.loads((Path(__file__).resolve().parent.parent / "demo_script.json").read_text("utf-8"))
    ChatModel.objects.filter(id=DEMO_ID, script=OLD_SCRIPT).update(script=new_script)


class Migration(migrations.Migration):
    dependencies = [
        ("coding_agent", "0006_alter_chatmodel_base_url"),
    ]

    operations = [migrations.RunPython(update_demo_script, migrations.RunPython.noop)]
