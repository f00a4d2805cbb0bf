from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"
    verbose_name = "Agencies"

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from agencies.accounts import schema, signals  # noqa: F401
        from agencies.audit import checkpoints
        from agencies.tenancy import row_security

        register(row_security.check_application_role, Tags.database, deploy=True)
        register(checkpoints.check_audit_guards, Tags.database, deploy=True)
