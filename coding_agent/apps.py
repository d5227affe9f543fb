from django.apps import AppConfig


class CodingAgentConfig(AppConfig):
    name = "coding_agent"
    verbose_name = "Coding agent"
