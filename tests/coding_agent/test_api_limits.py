"""Request bodies over the server's size limit answer the contract's JSON error."""

import json

from django.conf import settings

BASE = "/admin/apps/{app}/coding-agent"


def test_a_body_over_the_size_limit_is_a_json_413_saying_what_to_do(api, app):
    messages = [{"role": "user", "content": "x" * 100_000} for _ in range(30)]
    body = json.dumps({"input": "small", "messages": messages})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = api.generic("POST", BASE.format(app=app.id) + "/runs", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    error = response.json()
    assert error["code"] == "REQUEST_TOO_LARGE"
    assert "MB" in error["message"] and "messages" in error["message"]
    assert not app.runs.exists()
