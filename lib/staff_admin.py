"""Who may do what in the admin: every active staff member, nothing finer.

Maraum has one kind of staff. The middleware already gives every active staff member the
all-rows database role under /admin/, so Django's per-model permissions would only add a second,
easily forgotten switch; these base classes tie the admin to `is_staff` instead.
"""

import hashlib

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.timezone import localtime


def is_active_staff(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff)


class _StaffOnly:
    def has_view_permission(self, request, obj=None):
        return is_active_staff(request)

    def has_add_permission(self, request):
        return is_active_staff(request)

    def has_change_permission(self, request, obj=None):
        return is_active_staff(request)

    def has_delete_permission(self, request, obj=None):
        return is_active_staff(request)


# The change form's fingerprint of the row as it was drawn (admin/staff_change_form.html).
DRAWN_AS = "_drawn_as"


class StaffModelAdmin(_StaffOnly, admin.ModelAdmin):
    """Every change form refuses to save over a change made since it was drawn: a form opened
    before another staff member took away an account's staff rights, or deactivated a scene,
    gave them back with its next save, of any field (the attacker's replay)."""

    change_form_template = "admin/staff_change_form.html"

    def has_module_permission(self, request):
        return is_active_staff(request)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None:
            # A form sent back for an error still holds what was drawn then: saving it again
            # must not pass for fresh.
            posted = request.POST.get(DRAWN_AS) if request.method == "POST" else None
            drawn = posted or self._fingerprint(request, obj, context["adminform"].form)
            context[DRAWN_AS.lstrip("_")] = drawn
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or request.method != "POST":
            return form
        drawn = request.POST.get(DRAWN_AS, "")
        fingerprint = self._fingerprint

        class RefusingAStaleSave(form):
            def clean(self):
                cleaned = super().clean()
                # A form without its drawing is refused too: one opened before this check
                # came, or made by hand, saved unchecked (the last note's left item).
                if not drawn:
                    raise ValidationError(
                        f"This form did not say which version of “{obj}” it was opened on "
                        "(a page opened before an update, say): nothing was saved. Reload "
                        "the page, then make your change again.",
                        code="drawn_as_unknown",
                    )
                # Locked until this save commits (the admin's view is one transaction), so
                # of two saves from one drawing the second finds the first's change.
                if fingerprint(request, obj, self, lock=True) != drawn:
                    raise ValidationError(
                        f"“{obj}” was changed since this page was opened (in another tab, or "
                        "by someone else): nothing was saved. Reload the page to see the "
                        "change, then make yours again.",
                        code="changed_since_drawn",
                    )
                return cleaned

        RefusingAStaleSave.__name__ = form.__name__
        return RefusingAStaleSave

    def _fingerprint(self, request, obj, form, lock: bool = False) -> str:
        """A digest of the row's stored values of the fields `form` edits, and of its inline
        rows' (a scene's goals: a stale page undid another's edit of them, or a swap of two:
        the attacker's recheck). Locked, the row keeps them: inlines are saved under it."""
        model = type(obj)
        rows = model._default_manager.filter(pk=obj.pk)
        rows = rows.select_for_update() if lock else rows
        stored = [rows.values_list(*_edited(form, model)).first()]
        for inline in self.get_inline_instances(request, obj):
            formset = inline.get_formset(request, obj)
            edited = _edited(formset.form, inline.model)
            related = inline.model._default_manager.filter(**{formset.fk.name: obj})
            stored.append(list(related.order_by("pk").values_list("pk", *edited)))
        return hashlib.sha256(repr(stored).encode()).hexdigest()[:32]


def _edited(form_class_or_form, model) -> list[str]:
    """The names of `model`'s columns a form edits."""
    form = form_class_or_form
    fields = form.base_fields if isinstance(form, type) else form.fields
    return sorted(
        field.name
        for field in model._meta.concrete_fields
        if field.name in fields and not fields[field.name].disabled
    )


class StaffTabularInline(_StaffOnly, admin.TabularInline):
    def has_add_permission(self, request, obj=None):  # inlines are asked about their parent
        return is_active_staff(request)


class ReadOnlyStaffModelAdmin(StaffModelAdmin):
    """Staff look, nobody writes: rows that only the app or the database create."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows of a list: counting a table of 100,000,000 log rows on every
    page view took seconds (bench/scale.py), this costs what counting 10,000 does. Past the
    cap the list says "more than 10,000" and the pages beyond are reached by filtering."""

    cap = 10_000
    capped = False

    @cached_property
    def count(self) -> int:
        # COUNT over a LIMITed subquery, unordered: any cap + 1 rows tell, not the newest.
        counted = self.object_list.order_by()[: self.cap + 1].count()
        self.capped = counted > self.cap
        return min(counted, self.cap)


class LargeListAdmin(StaffModelAdmin):
    """The admin of a table that grows without bound (logs, sessions): no full count, and a
    capped one for the list, except for a search, which is counted exactly. (A LIMIT on a
    search's count led PostgreSQL away from its parallel scan: ten times slower.)"""

    show_full_result_count = False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = Paginator if request.GET.get(SEARCH_VAR) else CappedCountPaginator
        return paginator(queryset, per_page, orphans, allow_empty_first_page)


def listed(things: list[str]) -> str:
    """ "a, b and c" (it ended "…, the offline script, offline helper tips": a newcomer's
    recheck)."""
    return " and ".join(filter(None, [", ".join(things[:-1]), *things[-1:]]))


def admin_time(moment) -> str:
    """A moment in a list or a read-only field as the admin's own dates are written ("5 Dec
    2026, 19:27 UTC", maraum/formats): a method's value on a change page was shown as Python
    prints it ("2026-12-07 00:00:00+00:00"), and the sessions list named no time zone."""
    return date_format(localtime(moment), "DATETIME_FORMAT") if moment else "-"
