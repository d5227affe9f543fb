"""Execution engines: `native` (our LangGraph loop) and `opencode` (an external server)."""

from __future__ import annotations

from django.conf import settings

from config.errors import Error


class EngineUnavailable(Error):
    code = "CODING_AGENT_ENGINE_UNAVAILABLE"
    status = 400


class EngineUnsupportedRuntime(Error):
    code = "CODING_AGENT_ENGINE_UNSUPPORTED_RUNTIME"
    status = 400


ENGINES = ("native", "opencode")


def preflight(engine: str) -> None:
    """Refuse, before a run is created, an engine that cannot take it."""
    if engine == "native":
        return
    if engine == "opencode":
        # Its adapter is not part of this version, so setting the URL cannot help yet: say
        # so either way rather than send an operator to configure a server for nothing.
        configured = "set" if settings.APPS_CODING_AGENT_OPENCODE_URL else "unset"
        raise EngineUnavailable(
            "The opencode engine's adapter is not part of this version, whatever "
            f"APPS_CODING_AGENT_OPENCODE_URL says (it is {configured}); use the native engine.",
            field="engine",
        )
    raise EngineUnavailable(f"Unknown engine {engine!r}; use one of: {', '.join(ENGINES)}.", field="engine")


def run_engine(run, *, owner: str, heartbeat):
    """Execute an active run on its engine; returns a lifecycle.Outcome."""
    from coding_agent.engines import native

    if run.execution_engine == "native":
        return native.execute(run, owner=owner, heartbeat=heartbeat)
    from coding_agent.lifecycle import failed

    return failed("CODING_AGENT_ENGINE_UNAVAILABLE", f"The {run.execution_engine} engine is not available.")
