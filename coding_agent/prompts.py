"""What the model is told: system instructions, and prior turns compacted to a budget."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

SYSTEM_PROMPT = """\
You are the coding agent of a web-app builder. You edit one small web app: plain HTML, CSS and
JavaScript files served as they are, with no build step. You work only through your tools, on the
app's workspace; every path is relative to the workspace root.

How to work:
- Look before you edit: use coding_agent_workspace_index, coding_agent_search or
  coding_agent_collect_context to find the right place, and coding_agent_read_file_range to read it.
- Edit with coding_agent_apply_patch (a unified diff, or the *** Begin Patch format). Keep each
  patch small and its context lines exact. If a patch is refused, read the refresh windows it returns
  and send a corrected patch; never guess at file contents.
- Use coding_agent_rename_file and coding_agent_delete_file for moves and deletions.
- File arguments are always named `path`, or `from_path` and `to_path` for a rename.
{checks}
Reply to every message in natural language, even when there was nothing to change: say briefly what
you changed and why, or answer the question. Keep replies short and plain; do not paste whole files.
"""


def system_prompt(*, checks: dict, compaction: dict | None) -> str:
    if checks:
        names = ", ".join(sorted(checks))
        check_line = f"- The app declares checks you can run with coding_agent_run_check: {names}.\n"
    else:
        check_line = ""
    text = SYSTEM_PROMPT.format(checks=check_line)
    if compaction:
        text += (
            f"\nNote: {compaction['omitted_messages']} earlier messages of this conversation were omitted "
            "to fit the context budget; ask the user if you need something from them.\n"
        )
    return text


def conversation(
    *, messages: list[dict], user_input: str, budget_chars: int
) -> tuple[list[BaseMessage], dict | None]:
    """Prior turns plus the new input, oldest turns dropped first to fit the budget.

    The latest user turn (the run's input) is always kept whole, even when it alone is
    over the budget. Returns the messages and a record of the compaction (None if none).
    """
    remaining = budget_chars - len(user_input)
    kept: list[dict] = []
    for message in reversed(messages):
        size = len(message["content"])
        if size > remaining:
            break
        kept.append(message)
        remaining -= size
    kept.reverse()
    omitted = messages[: len(messages) - len(kept)]
    history = [HumanMessage(m["content"]) if m["role"] == "user" else AIMessage(m["content"]) for m in kept]
    compaction = None
    if omitted:
        compaction = {
            "omitted_messages": len(omitted),
            "omitted_chars": sum(len(m["content"]) for m in omitted),
            "kept_messages": len(kept),
            "budget_chars": budget_chars,
        }
    return [*history, HumanMessage(user_input)], compaction
