from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "Agencies"

    def ready(self) -> None:
        from agencies import schema, signals  # noqa: F401  (audit receivers, OpenAPI extensions)
