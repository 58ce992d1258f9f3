from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from accounts import emails
from lib.postgres import RandomUUIDPrimaryKey


class CIEmailField(models.EmailField):
    """An email stored as PostgreSQL `citext`: unique and compared case-insensitively."""

    def db_type(self, connection):
        return "citext"

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": emails.EmailField, **kwargs})


class UserManager(BaseUserManager):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        return emails.canonical(email or "")

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def insert_if_email_is_new(self, user: "User") -> bool:
        """Store a new account; False where its email has one already, one that signed up
        meanwhile (the form had checked): ON CONFLICT DO NOTHING makes that race an answer,
        not a failing INSERT with the password's hash for the server's log."""
        self.bulk_create([user], ignore_conflicts=True)
        return self.filter(pk=user.pk).exists()

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A learner or a staff member. Takes the place of Supabase's `auth.users` in the seeds."""

    id = RandomUUIDPrimaryKey()
    email = CIEmailField("email address", unique=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


class GermanLevel(models.TextChoices):
    """The learner's German, on the CEFR scale: it shapes the character's German and the
    helper's explanations (prompts/levels/<LEVEL>.md)."""

    A1 = "A1", "A1 · beginner"
    A2 = "A2", "A2 · elementary"
    B1 = "B1", "B1 · intermediate"


class Profile(models.Model):
    """A learner's counters, created by the database when a user row is inserted (seed #27).

    Completion counts are kept by triggers on `sessions`; the app only reads them.
    """

    user = models.OneToOneField(
        User,
        primary_key=True,
        db_column="id",
        on_delete=models.DO_NOTHING,  # ON DELETE CASCADE is in the database
        db_constraint=False,
        related_name="profile",
    )
    email = CIEmailField(unique=True)
    completed_scenario_count = models.IntegerField(default=0, db_default=0)
    current_week_completion_count = models.IntegerField(default=0, db_default=0)
    week_reset_date = models.DateTimeField()
    # What an earlier account with this email completed in the week starting
    # `carried_week_start`, when it was deleted: it counts in that week (scenarios 0020).
    carried_completions = models.IntegerField(default=0, db_default=0)
    carried_week_start = models.DateTimeField(null=True, blank=True)
    level = models.CharField(
        max_length=2, choices=GermanLevel.choices, default=GermanLevel.A1, db_default=GermanLevel.A1
    )
    created_at = models.DateTimeField(db_default=models.functions.Now())
    updated_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        db_table = "profiles"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(completed_scenario_count__gte=0)
                & models.Q(current_week_completion_count__gte=0),
                name="profiles_counts_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(level__in=GermanLevel.values), name="profiles_level_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.email


class ThrottleBucket(models.Model):
    """One throttle's token bucket (accounts/throttles.py); only `take_tokens()` and
    `fill_bucket()` write it. The key is a salted hash: no email or address."""

    key = models.TextField(primary_key=True)
    tokens = models.FloatField()
    updated_at = models.DateTimeField(db_default=models.Func(function="clock_timestamp"))
    refusal_logged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "throttle_buckets"

    def __str__(self) -> str:
        return self.key
