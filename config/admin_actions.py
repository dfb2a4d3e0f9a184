"""Admin actions write through the services, one selected object at a time, and say what
changed and why anything was refused (a refusal of one does not stop the others)."""

from django.contrib import messages

from config.api_errors import ApplicationError


class ThroughServices:
    """A ModelAdmin mixin: ``each`` applies a service call to every selected object."""

    def each(self, request, queryset, apply, *, done: str, label=str) -> None:
        """``done`` opens the success line ("Featured: 2 listing(s)."); ``label`` names an
        object in a refusal."""
        succeeded, failures = 0, []
        for item in queryset:
            try:
                apply(item)
                succeeded += 1
            except ApplicationError as error:
                failures.append(f"{label(item)}: {error.message}")
        if succeeded:
            noun = self.model._meta.verbose_name
            self.message_user(request, f"{done}: {succeeded} {noun}(s).", messages.SUCCESS)
        for failure in failures:
            self.message_user(request, failure, messages.ERROR)
