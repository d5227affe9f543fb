"""The model catalog: Auto, fail-closed resolution, the default switch, the demo model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import URLField
from langchain_anthropic import ChatAnthropic

from coding_agent.models import ChatModel
from coding_agent.models_catalog import (
    AUTO_ID,
    ModelUnavailable,
    api_key_env_problem,
    build_chat_model,
    list_models,
    resolve_model,
    set_default,
)
from coding_agent.scripted import ScriptedChatModel, validate_script

DEMO_SCRIPT = Path(__file__).resolve().parents[2] / "coding_agent" / "demo_script.json"

pytestmark = pytest.mark.django_db


def clear_defaults():
    ChatModel.objects.update(is_default=False)


def test_a_fresh_database_has_the_scripted_demo_model_as_default():
    demo = ChatModel.objects.get(is_default=True)
    assert demo.id == "demo-scripted"
    assert demo.provider == ChatModel.Provider.SCRIPTED
    assert demo.is_active
    assert "scripted" in demo.label.lower()
    assert validate_script(demo.script) == []
    assert demo.script == json.loads(DEMO_SCRIPT.read_text("utf-8"))


def test_the_demo_migration_leaves_an_operators_default_alone(scripted_model):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("coding_agent.migrations.0004_demo_chat_model")
    ChatModel.objects.filter(id="demo-scripted").delete()
    scripted_model("mine", is_default=True)
    migration.create_demo_model(apps, None)
    assert list(ChatModel.objects.values_list("id", flat=True)) == ["mine"]

    ChatModel.objects.all().delete()
    migration.create_demo_model(apps, None)
    assert ChatModel.objects.get(is_default=True).id == "demo-scripted"


def test_the_demo_script_reads_then_patches_the_landing_headline_then_explains_itself():
    script = json.loads(DEMO_SCRIPT.read_text("utf-8"))
    assert [call["name"] for turn in script for call in turn.get("tool_calls", [])] == [
        "coding_agent_read_file_range",
        "coding_agent_apply_patch",
    ]
    assert script[0]["tool_calls"][0]["args"]["path"] == "index.html"
    patch = script[1]["tool_calls"][0]["args"]["patch"]
    assert patch.startswith("*** Begin Patch\n*** Update File: index.html\n")
    assert '-    <h1 id="headline">Plan your week in minutes</h1>\n' in patch
    assert "add_chat_model --id" in script[2]["text"] and "scripted" in script[2]["text"]


def test_the_demo_patch_applies_to_the_landing_starter(tmp_path):
    from sandbox.patching import apply_patch

    starter = Path(__file__).resolve().parents[2] / "published_apps" / "starters" / "landing"
    (tmp_path / "index.html").write_bytes((starter / "index.html").read_bytes())
    patch = json.loads(DEMO_SCRIPT.read_text("utf-8"))[1]["tool_calls"][0]["args"]["patch"]

    assert apply_patch(tmp_path, patch).ok
    assert "with a scripted demo agent</h1>" in (tmp_path / "index.html").read_text("utf-8")


def test_auto_resolves_to_the_default_active_model_with_its_reason(scripted_model):
    clear_defaults()
    chosen = scripted_model("house", is_default=True)
    scripted_model("other")

    for model_id in (None, "", AUTO_ID):
        resolution = resolve_model(model_id)
        assert resolution.model == chosen
        assert resolution.reason == "Auto: default active model 'house'"


def test_a_requested_active_model_resolves_to_itself(scripted_model):
    other = scripted_model("other")
    resolution = resolve_model("other")
    assert resolution.model == other
    assert resolution.reason == "Requested model 'other'"


@pytest.mark.parametrize("model_id", ["no-such-model", "Auto"])
def test_an_unknown_id_is_unavailable_with_field_model_id(model_id):
    with pytest.raises(ModelUnavailable) as caught:
        resolve_model(model_id)
    body = caught.value.as_dict()
    assert body["code"] == "CODING_AGENT_MODEL_UNAVAILABLE"
    assert caught.value.status == 400
    assert body["field"] == "model_id"
    assert f"'{model_id}'" in body["message"]


def test_an_inactive_id_is_unavailable_and_not_replaced_by_another(scripted_model):
    scripted_model("retired", is_active=False)
    with pytest.raises(ModelUnavailable) as caught:
        resolve_model("retired")
    assert caught.value.field == "model_id"
    assert "'retired' is inactive" in caught.value.message


def test_auto_without_a_default_is_unavailable():
    clear_defaults()
    with pytest.raises(ModelUnavailable) as caught:
        resolve_model(None)
    assert caught.value.code == "CODING_AGENT_MODEL_UNAVAILABLE"
    assert "no default chat model" in caught.value.message


def test_auto_does_not_choose_an_inactive_default(scripted_model):
    clear_defaults()
    scripted_model("sleepy", is_default=True, is_active=False)
    scripted_model("awake")
    with pytest.raises(ModelUnavailable) as caught:
        resolve_model(AUTO_ID)
    assert "'sleepy' is inactive" in caught.value.message


def test_list_models_puts_auto_first_and_lists_only_active_models(scripted_model, openai_chat_model):
    scripted_model("retired", is_active=False)
    models = list_models()

    assert models[0] == {
        "id": "auto",
        "label": "Auto (Demo (scripted — no AI))",
        "provider": "scripted",
        "is_default": False,
        "note": None,
    }
    ids = [m["id"] for m in models]
    assert ids == ["auto", "demo-scripted", "fake-openai"]
    assert all(set(m) == {"id", "label", "provider", "is_default", "note"} for m in models)
    assert [m["id"] for m in models if m["is_default"]] == ["demo-scripted"]


def test_list_models_says_plainly_when_a_model_is_scripted(scripted_model):
    scripted_model("canned", label="Canned answers")
    labels = {m["id"]: m["label"] for m in list_models()}
    assert labels["canned"] == "Canned answers — scripted"
    assert labels["demo-scripted"] == "Demo (scripted — no AI)"  # already says so


def test_list_models_with_no_default_still_offers_auto_without_a_provider():
    clear_defaults()
    assert list_models()[0] == {
        "id": "auto",
        "label": "Auto (no default model configured)",
        "provider": None,
        "is_default": False,
        "note": None,
    }


def test_set_default_moves_the_default(scripted_model):
    new = scripted_model("new")
    set_default(new)

    assert list(ChatModel.objects.filter(is_default=True).values_list("id", flat=True)) == ["new"]
    assert resolve_model(None).model.id == "new"
    set_default(ChatModel.objects.get(id="demo-scripted"))
    assert list(ChatModel.objects.filter(is_default=True).values_list("id", flat=True)) == ["demo-scripted"]


def test_set_default_refuses_an_inactive_model(scripted_model):
    with pytest.raises(ModelUnavailable):
        set_default(scripted_model("retired", is_active=False))
    assert ChatModel.objects.get(is_default=True).id == "demo-scripted"


def test_build_chat_model_plays_a_scripted_row(scripted_model):
    built = build_chat_model(scripted_model("canned", script=[{"text": "Canned."}]))
    assert isinstance(built, ScriptedChatModel)
    assert built.invoke("hello").content == "Canned."


def test_build_chat_model_refuses_a_scripted_row_with_a_broken_script(scripted_model):
    row = scripted_model("broken", script=[{"txt": "typo"}])
    with pytest.raises(ModelUnavailable) as caught:
        build_chat_model(row)
    assert "script[0]" in caught.value.message


def test_build_chat_model_makes_chat_anthropic_with_the_key_from_the_named_variable(monkeypatch):
    monkeypatch.setenv("CODING_AGENT_TEST_ANTHROPIC_KEY", "sk-ant-test-8d1e")
    row = ChatModel.objects.create(
        id="claude",
        label="Claude",
        provider=ChatModel.Provider.ANTHROPIC,
        model_name="claude-sonnet-4-5",
        base_url="http://127.0.0.1:9/anthropic",
        api_key_env="CODING_AGENT_TEST_ANTHROPIC_KEY",
    )
    built = build_chat_model(row)

    assert isinstance(built, ChatAnthropic)
    assert built.model == "claude-sonnet-4-5"
    assert built.anthropic_api_key.get_secret_value() == "sk-ant-test-8d1e"
    assert built.anthropic_api_url == "http://127.0.0.1:9/anthropic"
    assert built.streaming is True
    assert "sk-ant-test-8d1e" not in repr(built)


def test_build_chat_model_names_the_missing_variable_for_anthropic(monkeypatch):
    monkeypatch.delenv("CODING_AGENT_TEST_ANTHROPIC_KEY", raising=False)
    row = ChatModel.objects.create(
        id="claude",
        label="Claude",
        provider=ChatModel.Provider.ANTHROPIC,
        model_name="claude-sonnet-4-5",
        api_key_env="CODING_AGENT_TEST_ANTHROPIC_KEY",
    )
    with pytest.raises(ModelUnavailable) as caught:
        build_chat_model(row)
    assert "CODING_AGENT_TEST_ANTHROPIC_KEY" in caught.value.message
    assert caught.value.field == "model_id"


@pytest.mark.parametrize(
    "value",
    ["sk-proj-Ab3dEf6hIj9kLm", "sk-ant-api03-xyz", "AIzaSyA1b2C3d4E5f6G7h8", "a1b2c3d4e5f6a7b8c9d0e1f2"],
)
def test_a_key_is_not_accepted_as_an_environment_variable_name(value):
    assert "looks like an API key" in api_key_env_problem(value)


@pytest.mark.parametrize(
    "value", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MY_COMPANY_LLM_GATEWAY_TOKEN_FOR_AGENTS"]
)
def test_ordinary_variable_names_are_accepted(value):
    assert api_key_env_problem(value) is None


@pytest.mark.parametrize(
    "value", ["DJANGO_SECRET_KEY", "DJANGO_ANYTHING", "DATABASE_URL", "REDIS_URL", "django_secret_key"]
)
def test_the_services_own_settings_are_not_accepted_as_key_variables(value):
    """The variable's value goes to the row's base_url as the key: naming DJANGO_SECRET_KEY
    would hand the service's secret to whatever server the row points at."""
    assert "this service's own settings" in api_key_env_problem(value)


def test_chat_model_clean_rejects_what_cannot_run(scripted_model):
    row = ChatModel(id=AUTO_ID, label="x", provider=ChatModel.Provider.OPENAI, api_key_env="sk-live-123")
    with pytest.raises(ValidationError) as caught:
        row.full_clean()
    assert set(caught.value.message_dict) == {"id", "model_name", "api_key_env"}

    scripted = ChatModel(id="s", label="S", provider=ChatModel.Provider.SCRIPTED, script=[{"text": 3}])
    with pytest.raises(ValidationError) as caught:
        scripted.full_clean()
    assert caught.value.message_dict["script"] == ["script[0].text: must be a string, got a number"]


def test_a_self_hosted_openai_compatible_endpoint_may_go_without_a_key():
    row = ChatModel(
        id="local", label="Local", provider="openai", model_name="qwen", base_url="http://127.0.0.1:11434/v1"
    )
    row.full_clean()
    built = build_chat_model(row)
    assert built.openai_api_key.get_secret_value() == "unused"  # never OPENAI_API_KEY from the env


def openai_row(**fields) -> ChatModel:
    values = {"id": "gpt", "label": "GPT", "provider": "openai", "model_name": "gpt-4.1"}
    return ChatModel(**(values | fields))


def clean_errors(row: ChatModel) -> dict[str, list[str]]:
    try:
        row.full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


@pytest.mark.parametrize(
    "url", ["http://ollama:11434/v1", "http://vllm/v1", "http://[fd00::7]:8000/v1", "https://api.example.com"]
)
def test_a_base_url_may_name_a_single_label_host(url):
    assert clean_errors(openai_row(base_url=url)) == {}


def test_a_bad_base_url_is_the_only_problem_reported():
    # An invalid URL still names a self-hosted endpoint: "name the key's variable" would be noise.
    errors = clean_errors(openai_row(base_url="ftp://ollama/v1"))
    assert errors == {
        "base_url": [
            "Enter an http:// or https:// URL with a host, such as http://ollama:11434/v1 (the scheme is 'ftp')."
        ]
    }


def test_the_base_url_column_keeps_its_length():
    field = ChatModel._meta.get_field("base_url")
    assert field.max_length == 200
    assert field.db_type(connection) == URLField(max_length=200).db_type(connection)


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (
            openai_row(script=[{"text": "hi"}], api_key_env="OPENAI_API_KEY"),
            "script",
            "Only a scripted model plays a script",
        ),
        (
            ChatModel(
                id="s", label="S", provider="scripted", script=[{"text": "hi"}], base_url="http://vllm/v1"
            ),
            "base_url",
            "A scripted model makes no network calls",
        ),
        (
            ChatModel(id="s", label="S", provider="scripted", script=[{"text": "hi"}], api_key_env="KEY"),
            "api_key_env",
            "A scripted model makes no network calls",
        ),
    ],
)
def test_the_rules_refuse_settings_of_another_provider(row, field, message):
    errors = clean_errors(row)
    assert list(errors) == [field] and errors[field][0].startswith(message)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "is_default",
            "'demo-scripted' is the default model (Auto picks it); make another model the default instead.",
        ),
        (
            "is_active",
            "'demo-scripted' is the default model; make another model the default before deactivating it.",
        ),
    ],
    ids=["unticked", "deactivated"],
)
def test_the_default_model_cannot_stop_being_the_default_by_its_own_edit(field, message):
    demo = ChatModel.objects.get(is_default=True)
    setattr(demo, field, False)
    assert clean_errors(demo) == {field: [message]}


def test_a_second_row_may_be_ticked_default_because_set_default_moves_it(scripted_model):
    row = scripted_model("second")
    row.is_default = True
    assert clean_errors(row) == {}


def test_chat_model_problems_skip_fields_the_caller_could_not_read():
    from coding_agent.models_catalog import chat_model_problems

    scripted = ChatModel(id="s", label="S", provider="scripted", script=None)
    assert "script" in chat_model_problems(scripted)
    assert chat_model_problems(scripted, skip={"script"}) == {}
