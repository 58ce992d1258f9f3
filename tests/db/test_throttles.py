"""Several throttles at once take a token from each bucket or from none."""

import pytest

from lib.rls import acting_as_staff
from lib.throttles import Throttle, take_all

ROOMY = Throttle("test-roomy", "TEST_ROOMY_RATE")
TIGHT = Throttle("test-tight", "TEST_TIGHT_RATE")


@pytest.fixture(autouse=True)
def rates(settings):
    settings.TEST_ROOMY_RATE = "5/hour"
    settings.TEST_TIGHT_RATE = "1/hour"


def test_a_refusal_gives_back_what_the_buckets_before_it_gave(db):
    with acting_as_staff():
        verdict, refused_by = take_all([(ROOMY, ("a",)), (TIGHT, ("a",))])
        assert verdict.allowed and refused_by is None and int(verdict.tokens_left) == 0
        verdict, refused_by = take_all([(ROOMY, ("a",)), (TIGHT, ("a",))])
        assert not verdict.allowed and refused_by is TIGHT and verdict.first_refusal
        assert verdict.retry_after > 3000  # about an hour for TIGHT's next token
        assert int(ROOMY.tokens_left("a")) == 4  # the second attempt's token came back


def test_a_refusal_by_the_first_bucket_takes_nothing_from_the_next(db):
    with acting_as_staff():
        assert TIGHT.take("b").allowed
        verdict, refused_by = take_all([(TIGHT, ("b",)), (ROOMY, ("b",))])
        assert not verdict.allowed and refused_by is TIGHT
        assert int(ROOMY.tokens_left("b")) == 5
