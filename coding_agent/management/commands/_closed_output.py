"""What a command does when the reader of its output goes away (`replay_run RUN | head -1`).

Python ignores SIGPIPE, so a write to a closed pipe raises BrokenPipeError: the commands catch
it and end quietly, as `git log | head -1` does, instead of printing a traceback.
"""

from __future__ import annotations

import os

# What a shell reports for a program that SIGPIPE ended (128 + 13), as for `git log | head -1`.
CLOSED_OUTPUT_EXIT = 141


def discard_output(stream) -> None:
    """Send the rest of `stream`'s output to /dev/null.

    What is still buffered would otherwise be written again when Python flushes its streams
    at exit, and fail again ("Exception ignored … BrokenPipeError", exit status 120). A stream
    without a file descriptor (a StringIO in tests) has nothing to redirect.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
