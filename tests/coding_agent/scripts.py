"""Scripted-model turns shared by the coding-agent tests."""

HELLO_PATCH = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n"
# One tool round that adds hello.txt, then the answer: a run that changes one file.
WRITE_HELLO = [
    {
        "text": "Writing a file.",
        "tool_calls": [{"id": "p", "name": "coding_agent_apply_patch", "args": {"patch": HELLO_PATCH}}],
    },
    {"text": "Wrote hello.txt."},
]
