"""HTML pages: the app list at `/` (create from a starter, open, publish)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from config.errors import Error
from published_apps import publishing, starters
from published_apps.models import PublishedApp


@require_safe
@login_required
def app_list(request):
    apps = PublishedApp.objects.accessible_to(request.user).select_related("owner").order_by("-created_at")
    rows = [{"app": app, "publish_url": publishing.publish_url(app, request)} for app in apps]
    return render(
        request,
        "published_apps/app_list.html",
        {
            "rows": rows,
            "starters": starters.available_starters().values(),
            "default_starter": starters.DEFAULT_STARTER,
        },
    )


@require_POST
@login_required
def create_app(request):
    try:
        app = starters.create_app(
            owner=request.user, name=request.POST.get("name", ""), template=request.POST.get("template")
        )
    except Error as exc:
        messages.error(request, exc.message)
        return redirect("app_list")
    messages.success(request, f"Created “{app.name}” from the {app.template} template.")
    return redirect("app_list")


@require_POST
@login_required
def publish_app(request, app_id):
    app = PublishedApp.objects.get_for_page(request.user, app_id)
    try:
        app = publishing.publish(app=app)
    except Error as exc:
        messages.error(request, exc.message)
        return redirect("app_list")
    messages.success(request, f"Published “{app.name}” at {publishing.publish_url(app, request)}")
    return redirect("app_list")
