"""The toolpack: the only way the coding agent acts on an app's workspace.

    from coding_agent.tools import ToolContext, ToolOutcome, tool_specs, execute, ToolTimeout

    outcome = execute("coding_agent_read_file_range", {"path": "index.html"}, ctx)

Modules: `base` (context, outcome, tool declaration), `arguments` (normalisation of what
models send), `rendering` (bounded JSON), one module per tool family (`reading`,
`editing`, `checks`) and `registry` (specs and `execute`).
"""

from coding_agent.tools.base import ToolContext, ToolOutcome, ToolTimeout
from coding_agent.tools.registry import available_tools, execute, tool_specs
from coding_agent.tools.titles import running_title

__all__ = [
    "ToolContext",
    "ToolOutcome",
    "ToolTimeout",
    "available_tools",
    "execute",
    "running_title",
    "tool_specs",
]
