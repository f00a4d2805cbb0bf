from django.apps import AppConfig


class BenchConfig(AppConfig):
    """Installed only so that Django finds the measurement commands; it has no models."""

    name = "search.bench"
    label = "bench"
    verbose_name = "Casebound measurements"
