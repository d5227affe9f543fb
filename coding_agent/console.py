"""Events rendered for a terminal: what `run_agent` and `replay_run` print."""

from __future__ import annotations

import re
import time
from datetime import datetime

from django.core.management.base import OutputWrapper

from coding_agent.events import TERMINAL_EVENTS
from coding_agent.tools import running_title

# What a terminal obeys rather than prints: C0 controls but tab and newline, DEL, the C1
# controls (U+0080-U+009F, among them the 8-bit CSI and OSC) and the bidi overrides. A
# model's text and tool arguments are untrusted; written raw, they could rewrite lines
# already printed (a fake "Run completed."), hide a tool call, retitle the window or set
# the clipboard (OSC 52). They are shown as `\x1b`-style escapes instead; a carriage
# return is dropped, so CRLF text still reads as lines.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: object) -> str:
    """Untrusted text, made inert for a terminal."""
    return _CONTROLS.sub(_escape, str(text).replace("\r", ""))


class Printer:
    """Writes envelopes as a readable transcript: streamed text inline, one line per tool call.

    `out` is a command's `self.stdout` (Django's OutputWrapper). Every write passes `ending=""`:
    the wrapper would otherwise end each streamed piece of text with a line break.
    """

    def __init__(self, out: OutputWrapper, *, color: bool = False):
        self.out = out
        self.color = color
        self.in_text = False

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def _write(self, text: str) -> None:
        self.out.write(text, ending="")
        self.out.flush()

    def _line(self, text: str, code: str) -> None:
        """One line of the transcript: `text` made inert, then painted."""
        self.close()
        self._write(self._paint(terminal_safe(text), code) + "\n")

    def close(self) -> None:
        """End the streamed text's line, if one is open (a transcript that stops mid-text)."""
        if self.in_text:
            self._write("\n")
            self.in_text = False

    def __call__(self, envelope: dict) -> None:
        event, payload = envelope["event"], envelope["payload"]
        if event == "assistant.delta":
            if text := terminal_safe(payload.get("text", "")):
                self._write(text)
                self.in_text = True
        elif event == "run.accepted":
            self._line(
                f"Run accepted · model {payload.get('resolved_model_id')} ({payload.get('model_resolution', '')})",
                "2",
            )
        elif event == "tool.started":
            title = payload.get("title") or running_title(payload["tool"], payload.get("args"))
            self._line(f"  → {title}", "36")
        elif event == "tool.completed":
            self._line(
                f"  ✓ {payload.get('title') or payload['tool']} ({payload.get('duration_ms', 0)} ms)", "32"
            )
        elif event == "tool.failed":
            self._line(f"  ✗ {payload.get('title') or payload['tool']}: {payload.get('message', '')}", "31")
        elif event == "revision.created":
            files = ", ".join(f"{c['change']} {c['path']}" for c in payload.get("changed_files", []))
            kind = "partial revision" if payload.get("partial") else "revision"
            self._line(f"  Saved {kind} {payload['revision_id'][:8]}: {files}", "2")
        elif event == "checkpoint.created":
            self._line(f"  Checkpoint {payload['checkpoint_id'][:8]}: {payload.get('label', '')}", "2")
        elif event == "run.completed":
            self._line("Run completed.", "1;32")
        elif event == "run.failed":
            self._line(f"Run failed: {payload.get('code')}: {payload.get('message')}", "1;31")
        elif event == "run.cancelled":
            self._line(f"Run cancelled: {payload.get('reason', '')}", "1;33")


def pace(envelopes, *, speed: float):
    """Yield envelopes spaced as they were recorded (speed 2 = twice as fast)."""
    previous = None
    for envelope in envelopes:
        ts = datetime.fromisoformat(envelope["ts"].replace("Z", "+00:00"))
        if previous is not None and speed > 0:
            time.sleep(max(0.0, (ts - previous).total_seconds() / speed))
        previous = ts
        yield envelope


def is_terminal(envelope: dict) -> bool:
    return envelope["event"] in TERMINAL_EVENTS
