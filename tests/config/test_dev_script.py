"""./dev's help and usage paths, and the benchmarks' --help.

Help only prints: it exits 0, needs no virtualenv, installs nothing and starts nothing (`./dev`
logs every set-up step as `==> ...` on stderr, so an empty stderr means no step ran). A usage
error prints on stderr and exits 2. Every benchmark parses its arguments before any work.
Nothing here runs a benchmark or the test suite.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH_SCRIPTS = sorted((ROOT / "bench").glob("bench_*.py"))
BENCH_NAMES = [script.stem.removeprefix("bench_") for script in BENCH_SCRIPTS]
TIMEOUT = 120  # a guard against a help path that starts real work, not a measurement


def dev(*args: str, root: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(root / "dev"), *args],
        cwd=root,
        env=os.environ if env is None else env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def summary(script: Path) -> str:
    """The first line of a benchmark's docstring."""
    return ast.get_docstring(ast.parse(script.read_text())).splitlines()[0]


def test_there_are_benchmarks():
    assert {"patch", "index", "orchestration", "relay", "accept"} <= set(BENCH_NAMES)


# --- ./dev ----------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["help"]])
def test_help_prints_the_usage_and_the_environment_and_exits_0(args):
    result = dev(*args)
    assert (result.returncode, result.stderr) == (0, "")
    out = result.stdout
    assert out.startswith("usage: ./dev serve")
    for text in (
        "./dev test [--services|--embedded] [pytest args]",
        "./dev bench [name [options]]",
        "./dev COMMAND --help",
        "test --services",
        "test --embedded",
        "HOST, PORT",
        "TEST_DATABASE_URL",
        "PATCH_CORPUS_DIR",
        "BENCH_PG_URL",
    ):
        assert text in out


def test_no_command_prints_the_usage_on_stderr_and_exits_2():
    result = dev()
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("usage: ./dev serve")


@pytest.mark.parametrize("args", [["frobnicate"], ["--frobnicate"], ["help", "frobnicate"]])
def test_an_unknown_command_says_so_with_the_usage_on_stderr_and_exits_2(args):
    result = dev(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"error: unknown command: {args[-1]}\n")
    assert "usage: ./dev serve" in result.stderr
    assert "==>" not in result.stderr


@pytest.mark.parametrize("args", [["serve", "--help"], ["serve", "-h"], ["help", "serve"]])
def test_serve_help_names_host_and_port(args):
    result = dev(*args)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: ./dev serve\n")
    for text in ("HOST", "PORT", "default 127.0.0.1", "default 8000", ".env.example"):
        assert text in result.stdout


def test_serve_refuses_arguments_before_setting_anything_up():
    result = dev("serve", "--port", "9000")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: serve takes no arguments (got: --port 9000)\n")
    assert "usage: ./dev serve" in result.stderr and "==>" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["test", "--help"],
        ["test", "-h"],
        ["test", "--embedded", "--help"],
        ["test", "--services", "tests/config", "-x", "--help"],
        ["help", "test"],
    ],
)
def test_test_help_prints_its_own_usage_and_runs_nothing(args):
    result = dev(*args)
    assert (result.returncode, result.stderr) == (0, "")  # no ruff, no migrations check, no suite
    out = result.stdout
    assert out.startswith("usage: ./dev test [--services|--embedded] [pytest args]\n")
    assert out.count("usage:") == 1
    for text in ("--services", "--embedded", "PostgreSQL + Redis", "SQLite", ".venv/bin/pytest --help"):
        assert text in out
    assert "all passed" not in out
    assert "general:" not in out  # a section of pytest's own help


def test_test_refuses_both_modes_before_setting_anything_up():
    result = dev("test", "--services", "--embedded")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: --services and --embedded each select one pass")
    assert "usage: ./dev test" in result.stderr and "==>" not in result.stderr


# --- ./dev bench ----------------------------------------------------------------------------


def listed_benchmarks(text: str) -> list[str]:
    """The names in a `  name   summary` list."""
    return [
        line.split()[0]
        for line in text.splitlines()
        if line.startswith("  ") and len(line) > 2 and line[2] != " "
    ]


@pytest.mark.parametrize("args", [["bench", "--help"], ["bench", "-h"], ["help", "bench"]])
def test_bench_help_lists_every_benchmark_and_exits_0(args):
    result = dev(*args)
    assert (result.returncode, result.stderr) == (0, "")
    out = result.stdout
    assert out.startswith("usage: ./dev bench [name [options]]\n")
    benchmarks = out.split("Benchmarks (bench/bench_NAME.py):\n")[1].split("\n\n")[0]
    assert listed_benchmarks(benchmarks) == BENCH_NAMES
    for script in BENCH_SCRIPTS:
        assert summary(script) in benchmarks


def test_an_unknown_benchmark_says_so_lists_the_benchmarks_and_exits_2():
    result = dev("bench", "nosuchname")
    assert (result.returncode, result.stdout) == (2, "")
    first, rest = result.stderr.split("\n", 1)
    assert first == "error: no benchmark matches 'nosuchname'. The benchmarks are:"
    assert listed_benchmarks(rest) == BENCH_NAMES
    assert "==>" not in result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--repeat", "3"], "error: unknown option --repeat (a benchmark's options go after its name)"),
        (["a", "--repeat", "3"], "error: 'a' selects "),
    ],
)
def test_bench_options_need_a_name_that_selects_one_benchmark(args, message):
    result = dev("bench", *args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(message)
    assert "usage: ./dev bench" in result.stderr and "==>" not in result.stderr


@pytest.mark.parametrize("name", BENCH_NAMES)
@pytest.mark.parametrize("form", ["{name}", "bench/bench_{name}.py"])
def test_bench_name_help_is_that_benchmarks_own_help(name, form):
    result = dev("bench", form.format(name=name), "--help")
    assert (result.returncode, result.stderr) == (0, "")  # no set-up step ran
    assert result.stdout.startswith(f"usage: bench_{name}.py [-h]")
    assert summary(ROOT / "bench" / f"bench_{name}.py") in result.stdout


def test_help_paths_need_no_virtualenv(tmp_path):
    """A copy of ./dev and bench/ without .venv: help works there and creates no .venv.

    Its only Python is the bare interpreter, without the project's dependencies, so a
    benchmark's --help must need nothing but the standard library.
    """
    shutil.copy2(ROOT / "dev", tmp_path / "dev")
    shutil.copytree(ROOT / "bench", tmp_path / "bench", ignore=shutil.ignore_patterns(".work", "__pycache__"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.11").symlink_to(os.path.realpath(sys.executable))
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(tmp_path)}
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["test", "--help"],
        ["bench", "--help"],
        ["bench", "patch", "--help"],
    ):
        result = dev(*args, root=tmp_path, env=env)
        assert (result.returncode, result.stderr) == (0, ""), args
        assert result.stdout.startswith("usage: "), args
    for args, code in ((["bench", "nosuchname"], 2), (["frobnicate"], 2), ([], 2)):
        assert dev(*args, root=tmp_path, env=env).returncode == code, args
    assert not (tmp_path / ".venv").exists()


# --- the benchmarks themselves --------------------------------------------------------------


def files_under(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


@pytest.mark.parametrize("script", BENCH_SCRIPTS, ids=lambda script: script.stem)
@pytest.mark.parametrize("args,code", [(["--help"], 0), (["--no-such-option"], 2)])
def test_a_benchmark_parses_its_arguments_before_any_work(tmp_path, script, args, code):
    """Run on a copy of bench/ (so any file it wrote would show) by a Python without site-packages:
    an import of Django, psycopg or the project before parsing would fail it."""
    copy = tmp_path / "repo" / "bench"
    shutil.copytree(script.parent, copy, ignore=shutil.ignore_patterns(".work", "__pycache__"))
    before = files_under(tmp_path)
    result = subprocess.run(
        [sys.executable, "-S", str(copy / script.name), *args],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == code, result.stderr
    assert files_under(tmp_path) == before  # no scratch folder, no database, no generated case
    if code == 0:
        assert result.stderr == ""
        assert result.stdout.startswith(f"usage: {script.name} [-h]")
        assert summary(script) in result.stdout  # the module docstring is the description
    else:
        assert result.stdout == ""
        assert "error: unrecognized arguments: --no-such-option" in result.stderr


def test_the_file_benchmarks_start_no_database_or_redis(tmp_path):
    """`./dev bench index` (and patch) work on files only: they leave PostgreSQL and Redis alone.
    This one does run a benchmark, on a 20-file tree."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "dev", checkout / "dev")
    shutil.copy(ROOT / "pyproject.toml", checkout / "pyproject.toml")  # the venv's install stamp
    shutil.copytree(ROOT / "bench", checkout / "bench", ignore=shutil.ignore_patterns(".work"))
    for name in (".venv", "sandbox", "config", "coding_agent", "published_apps"):
        (checkout / name).symlink_to(ROOT / name)
    probes = tmp_path / "probes"
    probes.mkdir()
    asked = tmp_path / "asked"
    for tool in ("pg_isready", "redis-cli"):  # what ./dev asks before starting a service
        (probes / tool).write_text(f"#!/bin/sh\necho {tool} >> {asked}\necho PONG\n")
        (probes / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{probes}:{os.environ['PATH']}"}
    done = dev("bench", "index", "--files", "20", "--runs", "1", root=checkout, env=env)
    assert done.returncode == 0, done.stderr
    assert "index warm" in done.stdout
    assert not asked.exists(), asked.read_text()
