from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Face search"

    def ready(self) -> None:
        from django.core.checks import register

        from search import checks, signals  # noqa: F401  (signals: receivers connect on import)

        register(checks.check_dlib_blas, deploy=True)
        register(checks.check_ef_search)
        register(checks.check_calibration)
        register(checks.check_recipes)
