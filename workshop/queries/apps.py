from django.apps import AppConfig


class QueriesConfig(AppConfig):
    name = "workshop.queries"
    label = "queries"
    verbose_name = "Query expressions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The custom Transform becomes usable as `email__domain` in every queryset.
        from workshop.queries import expressions

        expressions.register()
