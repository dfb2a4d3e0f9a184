from django.db import models


class AppendOnly(models.Model):
    """A ledger row: written once, never changed or deleted (the database's triggers refuse
    it too, see billing migrations 0002 and 0006)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError(f"{type(self).__name__} rows are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(f"{type(self).__name__} rows are immutable.")
