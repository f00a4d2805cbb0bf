from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "Agencies"

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from agencies import checkpoints, row_security, schema, signals  # noqa: F401

        register(row_security.check_application_role, Tags.database, deploy=True)
        register(checkpoints.check_audit_guards, Tags.database, deploy=True)
