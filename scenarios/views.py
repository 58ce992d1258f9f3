from django.shortcuts import render

from scenarios.models import Scenario


def home(request):
    scenarios = Scenario.objects.filter(is_active=True)
    return render(request, "scenarios/home.html", {"scenarios": scenarios})
