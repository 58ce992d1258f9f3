from accounts.rls import acting_as_learner, acting_as_staff


class RowLevelSecurityMiddleware:
    """Runs every request in one transaction, as the learner making it.

    Staff get the all-rows role only inside the admin; anywhere else a staff member is a learner
    like any other. Anonymous requests run as a learner with no id, so they see no learner rows.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if request.path.startswith("/admin/") and user.is_active and user.is_staff:
            context = acting_as_staff()
        else:
            context = acting_as_learner(user.pk if user.is_authenticated else None)
        with context:
            return self.get_response(request)
