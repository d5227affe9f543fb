"""Command line: `python -m sandbox.patching apply --root DIR PATCHFILE`.

Exit status (EXIT_STATUS, also in --help): 0 applied, 1 refused, 2 usage error or unreadable
input. Imports no Django, so it starts in tens of milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_STATUS = """\
exit status:
  0    applied (with --dry-run: it would apply; nothing written); the result JSON on stdout
  1    refused, nothing changed; the failure JSON (ok: false, failures, summary) on stdout.
       Also for a patch that is not UTF-8 text and an --expected-sha256 that does not match.
  2    usage error or unreadable input; the reason on stderr, nothing on stdout: a bad option,
       --root not a directory, --expected-sha256 not PATH=SHA256, a patch or --checks file
       that cannot be read, --checks not a JSON object
  141  stdout closed before the JSON was written (e.g. | head); nothing on stderr"""

# Help text laid out as written: the exit-status table keeps its lines.
_FORMAT = argparse.RawDescriptionHelpFormatter
# What a shell reports for a program that SIGPIPE ended (128 + 13).
CLOSED_OUTPUT_EXIT = 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.patching",
        description="Apply a unified diff or a `*** Begin Patch` patch to a workspace, all or nothing.",
        epilog=EXIT_STATUS,
        formatter_class=_FORMAT,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser(
        "apply",
        help="apply a patch file (format detected from its text)",
        description="Apply a patch file to the workspace at --root: all its files or none.\n"
        "The format (unified diff or `*** Begin Patch`) is detected from its text.",
        epilog=EXIT_STATUS,
        formatter_class=_FORMAT,
    )
    apply.add_argument("--root", required=True, help="workspace root directory")
    apply.add_argument("patch", help="patch file, or - for standard input")
    apply.add_argument(
        "--expected-sha256",
        action="append",
        default=[],
        metavar="PATH=SHA256",
        help="refuse the patch unless PATH currently has this sha256 (repeatable)",
    )
    apply.add_argument("--checks", metavar="JSON_FILE", help="declared checks, for the verification plan")
    apply.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    if not os.path.isdir(args.root):
        print(f"error: --root {args.root!r} is not a directory", file=sys.stderr)
        return 2
    expected = {}
    for item in args.expected_sha256:
        path, sep, digest = item.rpartition("=")
        if not sep or not path:
            print(f"error: --expected-sha256 wants PATH=SHA256, got {item!r}", file=sys.stderr)
            return 2
        expected[path] = digest
    checks = None
    try:
        if args.patch == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(args.patch, "rb") as fh:
                raw = fh.read()
        if args.checks:
            with open(args.checks, encoding="utf-8") as fh:
                checks = json.load(fh)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if checks is not None and not isinstance(checks, dict):
        print(
            f"error: --checks {args.checks!r} must hold a JSON object of checks: "
            '{"name": {"argv": [...], "paths": [...]}, ...}',
            file=sys.stderr,
        )
        return 2

    from sandbox.patching.apply import apply_patch
    from sandbox.patching.hunks import failure
    from sandbox.patching.model import MALFORMED_PATCH
    from sandbox.patching.result import PatchResult, failure_summary

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        failures = [
            failure(
                None,
                None,
                MALFORMED_PATCH,
                f"The patch is not UTF-8 text ({err.reason} at byte {err.start}).",
            )
        ]
        result = PatchResult(ok=False, format=None, failures=failures, summary=failure_summary(failures))
    else:
        result = apply_patch(
            args.root, text, expected_sha256=expected or None, checks=checks, dry_run=args.dry_run
        )
    try:
        json.dump(result.as_dict(), sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
    except BrokenPipeError:
        # The reader went away (`| head`): end quietly, as `git log | head -1` does. What is
        # still buffered goes to /dev/null, or Python's flush at exit would fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return CLOSED_OUTPUT_EXIT
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
