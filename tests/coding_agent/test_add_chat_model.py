"""`manage.py add_chat_model`: create, update, move the default, refuse what cannot work."""

from __future__ import annotations

import io
import json
import shlex

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from coding_agent.models import ChatModel

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("add_chat_model", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def script_file(tmp_path):
    path = tmp_path / "turns.json"
    path.write_text(json.dumps([{"text": "Hello from a file."}]), encoding="utf-8")
    return path


def test_it_creates_an_openai_model_and_says_whether_the_key_variable_is_set(monkeypatch):
    monkeypatch.setenv("CODING_AGENT_TEST_KEY", "sk-secret-value-1234")
    output = run(
        "--id", "gpt", "--provider", "openai", "--model", "gpt-4.1",
        "--api-key-env", "CODING_AGENT_TEST_KEY", "--label", "GPT 4.1",
    )  # fmt: skip

    row = ChatModel.objects.get(id="gpt")
    assert (row.provider, row.model_name, row.api_key_env, row.label) == (
        "openai",
        "gpt-4.1",
        "CODING_AGENT_TEST_KEY",
        "GPT 4.1",
    )
    assert row.is_active and not row.is_default
    assert "Created chat model 'gpt'" in output and "not the default" in output
    assert "$CODING_AGENT_TEST_KEY" in output and "set in this environment" in output
    assert "sk-secret-value-1234" not in output


def test_it_warns_when_the_key_variable_is_not_set(monkeypatch):
    monkeypatch.delenv("CODING_AGENT_TEST_KEY", raising=False)
    output = run(
        "--id",
        "claude",
        "--provider",
        "anthropic",
        "--model",
        "claude-x",
        "--api-key-env",
        "CODING_AGENT_TEST_KEY",
    )
    assert "NOT set in this environment" in output


def test_it_updates_an_existing_row_keeping_what_was_not_given():
    run(
        "--id",
        "gpt",
        "--provider",
        "openai",
        "--model",
        "gpt-4.1",
        "--api-key-env",
        "OPENAI_API_KEY",
        "--label",
        "GPT",
    )
    output = run("--id", "gpt", "--provider", "openai", "--model", "gpt-4.1-mini")

    row = ChatModel.objects.get(id="gpt")
    assert (row.model_name, row.api_key_env, row.label) == ("gpt-4.1-mini", "OPENAI_API_KEY", "GPT")
    assert output.startswith("Updated chat model 'gpt'")


def test_default_moves_the_default_and_inactive_hides_a_model():
    run(
        "--id",
        "gpt",
        "--provider",
        "openai",
        "--model",
        "gpt-4.1",
        "--api-key-env",
        "OPENAI_API_KEY",
        "--default",
    )
    assert list(ChatModel.objects.filter(is_default=True).values_list("id", flat=True)) == ["gpt"]

    run("--id", "demo-scripted", "--provider", "scripted", "--default")
    assert list(ChatModel.objects.filter(is_default=True).values_list("id", flat=True)) == ["demo-scripted"]

    run("--id", "gpt", "--provider", "openai", "--inactive")
    assert not ChatModel.objects.get(id="gpt").is_active


def test_an_update_without_default_keeps_the_default():
    run("--id", "demo-scripted", "--provider", "scripted", "--label", "Demo (scripted)")
    assert ChatModel.objects.get(id="demo-scripted").is_default


def test_it_loads_a_script_file(script_file):
    output = run("--id", "hello", "--provider", "scripted", "--script", str(script_file))
    assert ChatModel.objects.get(id="hello").script == [{"text": "Hello from a file."}]
    assert "Hello — scripted" not in output and "hello — scripted" in output
    assert "1 turn(s)" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "s", "--provider", "scripted"], "needs --script FILE"),
        (["--id", "g", "--provider", "openai", "--api-key-env", "OPENAI_API_KEY"], "--model is required"),
        (
            ["--id", "c", "--provider", "anthropic", "--api-key-env", "ANTHROPIC_API_KEY"],
            "--model is required",
        ),
        (["--id", "g", "--provider", "openai", "--model", "m"], "api_key_env: Name the environment variable"),
        (["--id", "auto", "--provider", "openai", "--model", "m", "--api-key-env", "K"], "reserved"),
        (
            ["--id", "bad id", "--provider", "openai", "--model", "m", "--api-key-env", "K"],
            "id: Enter a valid",
        ),
        (
            shlex.split("--id g --provider openai --model m --api-key-env K --default --inactive"),
            "exclude",
        ),
        (["--id", "demo-scripted", "--provider", "scripted", "--inactive"], "is the default model"),
        (
            ["--id", "s", "--provider", "scripted", "--script", "{script}", "--api-key-env", "K"],
            "api_key_env: A scripted model makes no network calls",
        ),
        (
            ["--id", "s", "--provider", "scripted", "--script", "{script}", "--base-url", "http://vllm/v1"],
            "base_url: A scripted model makes no network calls",
        ),
        (
            shlex.split("--id g --provider openai --model m --api-key-env K --script {script}"),
            "script: Only a scripted model plays a script",
        ),
    ],
)
def test_it_refuses_incomplete_or_contradictory_options(args, message, script_file):
    with pytest.raises(CommandError, match=message):
        run(*[arg.replace("{script}", str(script_file)) for arg in args])
    assert not ChatModel.objects.filter(id__in=["s", "g", "c", "auto", "bad id"]).exists()


@pytest.mark.parametrize("value", ["sk-proj-Zx81Ab3dEf6hIj9kLm0", "sk-ant-api03-abcdef"])
def test_a_key_passed_instead_of_a_variable_name_is_refused_without_echoing_it(value):
    with pytest.raises(CommandError) as caught:
        run("--id", "gpt", "--provider", "openai", "--model", "gpt-4.1", "--api-key-env", value)
    message = str(caught.value)
    assert "looks like an API key" in message and "variable's name" in message
    assert value not in message
    assert not ChatModel.objects.filter(id="gpt").exists()


def test_an_unreadable_script_file_says_so(tmp_path):
    with pytest.raises(CommandError, match="Cannot read script file .*missing.json"):
        run("--id", "s", "--provider", "scripted", "--script", str(tmp_path / "missing.json"))


def test_script_json_errors_say_where(tmp_path):
    path = tmp_path / "turns.json"
    path.write_text('[{"text": "a"},\n {"text": }]', encoding="utf-8")
    with pytest.raises(CommandError, match=r"not valid JSON: Expecting value at line 2, column 11"):
        run("--id", "s", "--provider", "scripted", "--script", str(path))


def test_script_shape_errors_list_each_problem(tmp_path):
    path = tmp_path / "turns.json"
    path.write_text(
        json.dumps([{"text": "a", "tool_calls": [{"args": {}}]}, {"delay_ms": "slow"}]), encoding="utf-8"
    )
    with pytest.raises(CommandError) as caught:
        run("--id", "s", "--provider", "scripted", "--script", str(path))
    message = str(caught.value)
    assert "script[0].tool_calls[0].name: must be a non-empty string" in message
    assert "script[1].delay_ms" in message
    assert "script[1]: a turn needs a non-empty text or at least one tool call" in message


def test_switching_provider_drops_the_old_providers_settings(script_file):
    run("--id", "m", "--provider", "openai", "--model", "gpt-4.1", "--api-key-env", "OPENAI_API_KEY")
    run("--id", "m", "--provider", "scripted", "--script", str(script_file))
    row = ChatModel.objects.get(id="m")
    assert (row.provider, row.api_key_env, row.base_url) == ("scripted", "", "")

    with pytest.raises(CommandError, match="--model is required"):
        run("--id", "m", "--provider", "anthropic", "--api-key-env", "ANTHROPIC_API_KEY")
    run("--id", "m", "--provider", "anthropic", "--model", "claude-x", "--api-key-env", "ANTHROPIC_API_KEY")
    row.refresh_from_db()
    assert (row.provider, row.model_name, row.script) == ("anthropic", "claude-x", None)


def test_a_keyless_self_hosted_endpoint_is_accepted():
    output = run(
        "--id", "local", "--provider", "openai", "--model", "qwen", "--base-url", "http://127.0.0.1:11434/v1"
    )
    assert ChatModel.objects.get(id="local").base_url == "http://127.0.0.1:11434/v1"
    assert "API key: none" in output


@pytest.mark.parametrize(
    "url",
    [
        "http://ollama:11434/v1",  # a Docker Compose service name
        "http://vllm/v1",
        "http://vllm.models.svc.cluster.local:8000/v1",  # a Kubernetes service
        "http://local_llm:8080/v1",
        "http://localhost:1234/v1",
        "http://10.0.0.7:8000/v1",
        "http://[::1]:11434/v1",
        "https://api.example.com/v1",
        "HTTPS://Gateway.Example.com",
    ],
)
def test_a_base_url_on_any_http_host_is_accepted(url):
    run("--id", "local", "--provider", "openai", "--model", "qwen", "--base-url", url)
    assert ChatModel.objects.get(id="local").base_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://ollama/v1", "the scheme is 'ftp'"),
        ("ollama:11434/v1", "the scheme is 'ollama'"),
        ("//ollama:11434/v1", "it has no scheme"),
        ("http:///v1", "it has no host"),
        ("http://:8080/v1", "it has no host"),
        ("http://oll ama/v1", "it contains a space"),
        ("http://ollama:11434/v1 ", "it contains a space"),
        ("http://ollama:99999/v1", "the port is not a number from 0 to 65535"),
        ("http://ollama:port/v1", "the port is not a number from 0 to 65535"),
        ("http://-ollama-/v1", "'-ollama-' is not a host name"),
        ("http://300.1.2.3/v1", "'300.1.2.3' is not an IPv4 address"),
        ("http://[::zz]/v1", "it is not a URL"),
        ("http://user:secret@ollama/v1", "keys belong in the environment"),
        ("not a url", "it contains a space"),
    ],
)
def test_a_bad_base_url_is_refused_saying_why(url, reason):
    with pytest.raises(CommandError) as caught:
        run("--id", "local", "--provider", "openai", "--model", "qwen", "--base-url", url)
    message = str(caught.value)
    assert "base_url: Enter an http:// or https:// URL with a host, such as http://ollama:11434/v1" in message
    assert reason in message
    assert "secret" not in message
    assert not ChatModel.objects.filter(id="local").exists()
