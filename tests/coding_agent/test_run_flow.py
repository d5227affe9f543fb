"""A run from creation to its terminal event, through the real in-process pool and database."""

import pytest

from coding_agent import checkpointer, runs
from coding_agent.models import RunEvent, ToolCall
from published_apps import blobs
from tests.conftest import event_names, streamed_text, wait_for_run

pytestmark = pytest.mark.django_db(transaction=True)

EDIT_HEADLINE = [
    {
        "text": "Let me read the page.",
        "tool_calls": [
            {"id": "call_1", "name": "coding_agent_read_file_range", "args": {"path": "index.html"}}
        ],
    },
    {
        "text": "Changing the headline.",
        "tool_calls": [
            {
                "id": "call_2",
                "name": "coding_agent_apply_patch",
                "args": {
                    "patch": "*** Begin Patch\n*** Update File: index.html\n@@\n"
                    '-    <h1 id="headline">Plan your week in minutes</h1>\n'
                    '+    <h1 id="headline">Plan your month</h1>\n*** End Patch\n'
                },
            }
        ],
    },
    {"text": "Done: the headline now reads “Plan your month”."},
]


def test_a_run_edits_the_app_and_ends_in_a_revision_and_checkpoint(inprocess, app, user, agent_model):
    agent_model(EDIT_HEADLINE)
    base = app.draft_revision
    run = runs.start_run(app=app, user=user, input="Make the headline about months")
    run = wait_for_run(run)
    assert run.status == "completed", (run.error_code, run.error_message)
    names = event_names(run)
    assert names[0] == "run.accepted" and names[-1] == "run.completed"
    assert names.count("tool.started") == 2 and names.count("tool.completed") == 2
    assert names.index("revision.created") < names.index("checkpoint.created") < names.index("run.completed")
    seqs = list(RunEvent.objects.filter(run=run).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    text = streamed_text(run)
    assert "Let me read the page." in text and text.endswith(
        "Done: the headline now reads “Plan your month”."
    )

    app.refresh_from_db()
    assert app.draft_revision == run.result_revision and run.result_revision.parent == base
    html = blobs.read(app.draft_revision.manifest["index.html"]["sha256"]).decode()
    assert '<h1 id="headline">Plan your month</h1>' in html
    assert run.checkpoint.revision == run.result_revision
    assert run.final_text == "Done: the headline now reads “Plan your month”."
    assert ToolCall.objects.filter(run=run, status="completed").count() == 2
    # Nothing resumes a finished run: its LangGraph thread is gone.
    assert checkpointer.get_checkpointer().get_tuple({"configurable": {"thread_id": str(run.pk)}}) is None


def test_a_run_that_changes_nothing_makes_no_revision(inprocess, app, user, agent_model):
    agent_model([{"text": "Nothing to change; the page already says that."}])
    run = wait_for_run(runs.start_run(app=app, user=user, input="Is the headline fine?"))
    assert run.status == "completed"
    assert "revision.created" not in event_names(run)
    assert run.result_revision is None and run.checkpoint is None
