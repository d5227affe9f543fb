"""The patch engine: unified diffs and `*** Begin Patch` patches, applied all-or-nothing.

    from sandbox.patching import apply_patch
    result = apply_patch(root, patch_text, expected_sha256=None, checks=None)
    result.ok, result.as_dict()

Pure Python without Django, so the command line (`python -m sandbox.patching`) starts
fast. Semantics: /work/shared/patch_corpus/SPEC.md and DESIGN.md §4-5.
"""

from sandbox.patching.apply import apply_patch, detect_format, parse_patch
from sandbox.patching.model import FileOp, Hunk, PatchSyntaxError
from sandbox.patching.result import PatchResult

__all__ = ["apply_patch", "detect_format", "parse_patch", "FileOp", "Hunk", "PatchResult", "PatchSyntaxError"]
