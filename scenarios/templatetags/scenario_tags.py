from django import template

from scenarios.models import Scenario

register = template.Library()


@register.filter
def suggested_from_above(scenario: Scenario, level: str) -> str:
    """Scenario.suggested_from_above, for the picker's cards."""
    return scenario.suggested_from_above(level)


@register.filter
def suggested_up_to_below(scenario: Scenario, level: str) -> str:
    """Scenario.suggested_up_to_below, for the picker's cards."""
    return scenario.suggested_up_to_below(level)
