"""The workshop's flag definitions: one row per flag, edited by people (admin, notebook, CLI)
and read by every process from memory (see store.py). A trigger in migration 0002 sends a
NOTIFY on every committed change, so processes reload instead of polling."""

from __future__ import annotations

from workshop.django_setup import require_setup

require_setup()  # a notebook cell run before the set-up cell: say what to run

from django.conf import settings  # noqa: E402
from django.core.exceptions import ValidationError  # noqa: E402
from django.db import models  # noqa: E402

from workshop.errors import WorkshopError  # noqa: E402
from workshop.flags import validation  # noqa: E402


class FlagDefinition(models.Model):
    """A flag. Evaluated in this order (see rules.py): the kill switch (`enabled` off: nobody),
    `everyone`, listed users, listed groups, then `percentage` of everybody else by a stable
    hash of (flag key, user)."""

    key = models.CharField(max_length=validation.MAX_KEY_LENGTH, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True, help_text="Kill switch: off turns the flag off for everyone.")
    everyone = models.BooleanField(default=False, help_text="On for every user (a full rollout).")
    percentage = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Share of other users who get it (0-100), sticky per user."
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    groups = models.ManyToManyField("auth.Group", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the flag last became on for everybody (everyone, or 100%): the stale-flag detector's
    # "fully rolled out for more than N days". Kept by a database trigger (migration 0004) on
    # every write, whichever path made it (save(), .update(), raw SQL, the kill switch).
    fully_on_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(percentage__gte=0, percentage__lte=100), name="flag_percentage_0_to_100"
            ),
        ]

    def __str__(self) -> str:
        return self.key

    @property
    def fully_on(self) -> bool:
        return self.enabled and (self.everyone or self.percentage >= 100)

    def clean(self) -> None:
        try:
            validation.check_key(self.key)
            validation.check_percentage(self.percentage)
        except WorkshopError as error:
            raise ValidationError(str(error)) from None

    def save(self, *args, **kwargs) -> None:
        validation.check_key(self.key)
        validation.check_percentage(self.percentage)
        super().save(*args, **kwargs)
        # What the trigger decided (this instance's value may be from before another write).
        saved = type(self).objects.using(self._state.db).filter(pk=self.pk)
        self.fully_on_since = saved.values_list("fully_on_since", flat=True).get()
