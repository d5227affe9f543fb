import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_url


@pytest.mark.parametrize(
    "raw,expected",
    [("1", True), ("true", True), ("YES", True), ("on", True), ("0", False), ("false", False), ("", False)],
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG") is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_env_bool_rejects_anything_else(monkeypatch, raw):
    monkeypatch.setenv("X_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG")


def test_env_int_rejects_non_integers_and_out_of_range(monkeypatch):
    monkeypatch.setenv("X_N", "eight")
    with pytest.raises(ImproperlyConfigured, match="X_N"):
        env_int("X_N", 8)
    monkeypatch.setenv("X_N", "0")
    with pytest.raises(ImproperlyConfigured, match="minimum"):
        env_int("X_N", 8, minimum=1)
    monkeypatch.setenv("X_N", " 12 ")
    assert env_int("X_N", 8) == 12
    monkeypatch.delenv("X_N")
    assert env_int("X_N", 8) == 8


def test_env_url_requires_a_known_scheme(monkeypatch):
    monkeypatch.setenv("X_URL", "mysql://db")
    with pytest.raises(ImproperlyConfigured, match="X_URL"):
        env_url("X_URL", schemes=("postgres",))
    monkeypatch.setenv("X_URL", "postgres://db/x")
    assert env_url("X_URL", schemes=("postgres",)) == "postgres://db/x"
    monkeypatch.setenv("X_URL", "")
    assert env_url("X_URL", schemes=("postgres",)) is None


def test_env_choice_ignores_case_and_names_the_choices(monkeypatch):
    levels = ("DEBUG", "INFO", "WARNING")
    monkeypatch.setenv("X_LEVEL", " debug ")
    assert env_choice("X_LEVEL", "INFO", levels) == "DEBUG"
    monkeypatch.setenv("X_LEVEL", "")
    assert env_choice("X_LEVEL", "INFO", levels) == "INFO"
    monkeypatch.setenv("X_LEVEL", "verbose")
    with pytest.raises(ImproperlyConfigured, match="X_LEVEL='verbose' is not one of DEBUG, INFO, WARNING"):
        env_choice("X_LEVEL", "INFO", levels)


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_list("X_LIST", []) == ["a", "b", "c"]


def test_bad_settings_stop_the_process_at_start_up(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "APPS_CODING_AGENT_MAX_TOOL_ITERATIONS": "lots", "APPS_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "APPS_CODING_AGENT_MAX_TOOL_ITERATIONS='lots' is not an integer" in result.stderr


def test_a_bad_log_level_is_named_at_start_up(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "APPS_LOG_LEVEL": "loud", "APPS_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "APPS_LOG_LEVEL='loud' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in result.stderr


def test_chatty_library_loggers_speak_only_at_debug(tmp_path):
    import os
    import subprocess
    import sys

    probe = (
        "import django, logging; django.setup(); "
        "print(*(logging.getLevelName(logging.getLogger(n).getEffectiveLevel()) for n in ('httpx', 'channels_redis')))"
    )
    levels = {}
    for level in ("INFO", "DEBUG"):
        env = {
            **os.environ,
            "APPS_LOG_LEVEL": level,
            "APPS_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        run = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        levels[level] = run.stdout.split()
    assert levels == {"INFO": ["WARNING", "WARNING"], "DEBUG": ["DEBUG", "DEBUG"]}
