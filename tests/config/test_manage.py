"""manage.py: a bad setting stops it with one line naming the variable; other errors keep their traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, tmp_path, **env) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "APPS_DATA_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environ, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "variable,value,message",
    [
        (
            "APPS_CODING_AGENT_TOOL_TIMEOUT_S",
            "abc",
            "APPS_CODING_AGENT_TOOL_TIMEOUT_S='abc' is not an integer.",
        ),
        (
            "APPS_RUN_EXECUTION",
            "threads",
            "APPS_RUN_EXECUTION must be 'celery' or 'inprocess', got 'threads'.",
        ),
    ],
)
@pytest.mark.parametrize("command", [["check"], ["run_agent", "demo", "hello"]])
def test_a_bad_setting_prints_one_error_line_and_exits_1(tmp_path, command, variable, value, message):
    result = manage(*command, tmp_path=tmp_path, **{variable: value})
    assert (result.returncode, result.stderr) == (1, f"error: {message}\n")
    assert result.stdout == ""


def test_an_improperly_configured_from_elsewhere_keeps_its_traceback(tmp_path):
    (tmp_path / "foreign_settings.py").write_text(
        "from django.core.exceptions import ImproperlyConfigured\n"
        "raise ImproperlyConfigured('not from the project settings')\n"
    )
    result = manage(
        "check",
        tmp_path=tmp_path,
        DJANGO_SETTINGS_MODULE="foreign_settings",
        PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    )
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().endswith("ImproperlyConfigured: not from the project settings")


@pytest.fixture
def beside_env_file(tmp_path):
    """A copy of manage.py with a `.env` beside it (the checkout's own is never touched)."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / "manage.py").write_bytes((ROOT / "manage.py").read_bytes())
    (folder / ".env").write_text("# keys and settings\nAPPS_CODING_AGENT_TOOL_TIMEOUT_S=abc\n")
    return folder


def run_copy(folder, tmp_path, **env):
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "APPS_DATA_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, str(folder / "manage.py"), "check"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
    )


def test_manage_reads_the_env_file_beside_it_as_dev_serve_does(beside_env_file, tmp_path):
    result = run_copy(beside_env_file, tmp_path, APPS_READ_DOTENV="1")
    assert result.returncode == 1
    assert "APPS_CODING_AGENT_TOOL_TIMEOUT_S='abc' is not an integer." in result.stderr


def test_a_variable_already_set_wins_over_the_env_file(beside_env_file, tmp_path):
    result = run_copy(beside_env_file, tmp_path, APPS_READ_DOTENV="1", APPS_CODING_AGENT_TOOL_TIMEOUT_S="30")
    assert result.returncode == 0, result.stderr


def test_the_test_suite_keeps_a_developers_env_file_out(beside_env_file, tmp_path):
    assert os.environ["APPS_READ_DOTENV"] == "0"  # set by tests/conftest.py for every child process
    assert run_copy(beside_env_file, tmp_path).returncode == 0
