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


@pytest.mark.parametrize(
    "raw,problem",
    [
        ("http://", "it has no host"),
        ("https://ex ample.com", "it contains a space"),
        ("https://user:pw@example.com", "it has a user name or password"),
        ("https://example.com:99999", "the port is not a number"),
        ("https://example.com/apps?x=1", "it has a query or fragment"),
        ("https://example.com/#top", "it has a query or fragment"),
    ],
)
def test_a_base_url_needs_a_host_and_nothing_after_its_path(monkeypatch, raw, problem):
    monkeypatch.setenv("X_BASE", raw)
    with pytest.raises(ImproperlyConfigured, match=f"X_BASE is not a usable URL: {problem}"):
        env_url("X_BASE", schemes=("http", "https"), base=True)


@pytest.mark.parametrize(
    "raw", ["https://apps.example.com", "http://publish:8080/base/", "HTTPS://EX.com", "http://[::1]:8000"]
)
def test_a_base_url_may_be_any_http_host_with_a_path(monkeypatch, raw):
    monkeypatch.setenv("X_BASE", raw)
    assert env_url("X_BASE", schemes=("http", "https"), base=True) == raw


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


@pytest.mark.parametrize(
    "name,raw,message",
    [
        (
            "APPS_CODING_AGENT_MAX_TOOL_ITERATIONS",
            "lots",
            "APPS_CODING_AGENT_MAX_TOOL_ITERATIONS='lots' is not an integer",
        ),
        ("APPS_PUBLISH_BASE_URL", "http://", "APPS_PUBLISH_BASE_URL is not a usable URL: it has no host"),
        (
            "APPS_PUBLISH_BASE_URL",
            "https://x.com?q=1",
            "APPS_PUBLISH_BASE_URL is not a usable URL: it has a query",
        ),
        (
            "APPS_CODING_AGENT_OPENCODE_URL",
            "http://a b",
            "APPS_CODING_AGENT_OPENCODE_URL is not a usable URL",
        ),
        # Pool settings fail the same everywhere, also where the pool is off (embedded mode).
        ("APPS_DB_POOL", "maybe", "APPS_DB_POOL='maybe' is not a boolean"),
        ("APPS_DB_POOL_SIZE", "abc", "APPS_DB_POOL_SIZE='abc' is not an integer"),
    ],
)
def test_bad_settings_stop_the_process_at_start_up_with_one_line(tmp_path, name, raw, message):
    import os
    import subprocess
    import sys

    env = {**os.environ, name: raw, "APPS_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_data_directory_that_cannot_be_made_is_named_at_start_up(tmp_path):
    import os
    import subprocess
    import sys

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {**os.environ, "APPS_DATA_DIR": str(blocker / "data")}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"APPS_DATA_DIR='{blocker / 'data'}' cannot be used as the data directory" in result.stderr


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

    names = ("httpx", "httpx2", "openai._base_client", "anthropic._base_client", "channels_redis")
    probe = (
        f"NAMES = {names!r}; import django, logging; django.setup(); "
        "print(*(logging.getLevelName(logging.getLogger(n).getEffectiveLevel()) for n in NAMES))"
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
    assert levels == {"INFO": ["WARNING"] * len(names), "DEBUG": ["DEBUG"] * len(names)}


def deploy_warnings(tmp_path, **env_vars) -> str:
    import os
    import subprocess
    import sys

    env = {**os.environ, "APPS_DATA_DIR": str(tmp_path), "DJANGO_SECRET_KEY": "x" * 60, **env_vars}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], env=env, capture_output=True, text=True
    )
    return result.stdout + result.stderr


def test_https_makes_cookies_secure_and_trusts_the_proxys_scheme(tmp_path):
    plain = deploy_warnings(tmp_path)
    assert "security.W012" in plain and "security.W016" in plain  # cookies over plain HTTP
    https = deploy_warnings(tmp_path, DJANGO_HTTPS="1")
    assert "security.W012" not in https and "security.W016" not in https
    assert "security.W004" in https  # no HSTS unless asked for
    assert "security.W004" not in deploy_warnings(tmp_path, DJANGO_HTTPS="1", DJANGO_HSTS_SECONDS="3600")


def test_behind_a_tls_proxy_a_form_post_from_the_https_page_passes_csrf(tmp_path):
    """The browser's Origin is https://host; without the proxy's scheme Django saw http://host
    and refused every form post and API call from the page."""
    import os
    import subprocess
    import sys

    script = (
        "import django; django.setup();"
        "from django.test import Client;"
        "from django.contrib.auth import get_user_model;"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "u = get_user_model().objects.create_user('p', password='pw-123456');"
        "c = Client(enforce_csrf_checks=True);"
        "page = c.get('/login/', HTTP_X_FORWARDED_PROTO='https', HTTP_HOST='localhost');"
        "token = c.cookies['csrftoken'].value; secure = c.cookies['csrftoken']['secure'];"
        "r = c.post('/login/', {'username': 'p', 'password': 'pw-123456', 'csrfmiddlewaretoken': token},"
        " HTTP_X_FORWARDED_PROTO='https', HTTP_ORIGIN='https://localhost', HTTP_HOST='localhost');"
        "print(r.status_code, bool(secure))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)

    def run(**extra):
        data = tmp_path / str(len(extra))  # a database of its own
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**env, "APPS_DATA_DIR": str(data), **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.split()

    assert run(DJANGO_HTTPS="1") == ["302", "True"]
    assert run() == ["403", "False"]
