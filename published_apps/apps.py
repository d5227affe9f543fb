from django.apps import AppConfig


class PublishedAppsConfig(AppConfig):
    name = "published_apps"
    verbose_name = "Published apps"
