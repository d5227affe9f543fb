"""The builder page at /apps/{app_id}/builder: files, preview and the agent panel of one app.

The page is a shell: it names the app and the endpoints, and the scripts in
static/builder/ do the rest through the public REST API and the run streams
(DESIGN.md §2, §3), exactly as any other client would.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from published_apps import serving
from published_apps.models import PublishedApp


@require_safe
@login_required
def builder(request, app_id):
    app = PublishedApp.objects.get_for_page(request.user, app_id)
    agent_url = reverse("api_models", args=[app.id]).removesuffix("models").rstrip("/")
    return render(
        request,
        "coding_agent/builder.html",
        {
            "app": app,
            "app_url": reverse("api_app", args=[app.id]),
            "agent_url": agent_url,
            "ws_path": f"/ws{agent_url}",
            "preview_url": serving.preview_url(app, request.user, session=request.session),
            # Prior turns beyond this are left out by the server (prompts.conversation), so
            # the page need not send them.
            "message_budget": settings.APPS_CODING_AGENT_MESSAGE_BUDGET_CHARS,
        },
    )
