"""schemathesis against the real service's own ``/openapi.json`` (issue 8, item 9; DESIGN §6).

For every operation of the route table, requests generated from the document (with the bearer
token) must get no server error, only documented status codes and content types, and bodies
that match the documented schemas: requests that follow the document (positive) and requests
that break it on purpose (negative: wrong types, out-of-range ids, invalid names). The run is
bounded and deterministic: a fixed number of cases per operation from a fixed seed
(Hypothesis' ``derandomize``), with no example database.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from known_faces.service.routes import ROUTES, Body, Route

from .helpers import ServiceRunner, enroll

OBAMA_1 = "people/barack_obama/barack_obama_1.jpg"
POSITIVE_EXAMPLES = 40
NEGATIVE_EXAMPLES = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Archives are bytes like any other: send them as generated.
schemathesis.serializer.alias("application/zip", "application/octet-stream")


def run(start_service: Callable[..., ServiceRunner], photo: Callable[[str], bytes],
        route: Route, mode: GenerationMode, examples: int,
        checks: list[CheckFunction]) -> None:
    """Generate ``examples`` cases of ``route``'s operation and check every answer."""
    runner = start_service()
    # Someone to find (the document's example slug and face id), so generated requests reach
    # the success answers too.
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    auth = {"Authorization": f"Bearer {runner.service.token}"}
    schema = schemathesis.openapi.from_url(runner.url("/openapi.json"), headers=auth)
    operation = schema.find_operation_by_id(route.handler)
    strategy = operation.as_strategy(mode)
    if mode is GenerationMode.POSITIVE:
        strategy = st.one_of(strategy, *schema.get_strategies_from_examples(operation))
    base_url = runner.url("")

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=auth, checks=checks, timeout=30)

    check()


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.handler)
def test_valid_requests_get_documented_answers(start_service: Callable[..., ServiceRunner],
                                               photo: Callable[[str], bytes],
                                               route: Route) -> None:
    # Where the document can say everything that makes a request valid (not whether some
    # bytes are a photo with one clear face, or a zip made by export), valid data must be
    # accepted: answered 2xx, or 404/409 for a person or name that is not / already there.
    # (Only for JSON answers: this check of schemathesis reads every answer as text.)
    json_only = route.body in (None, Body.NAME) and route.produces == "application/json"
    checks = [*CHECKS, positive_data_acceptance] if json_only else CHECKS
    run(start_service, photo, route, GenerationMode.POSITIVE, POSITIVE_EXAMPLES, checks)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.body or r.query or "{" in r.path],
                         ids=lambda r: r.handler)
def test_invalid_requests_get_documented_refusals(start_service: Callable[..., ServiceRunner],
                                                  photo: Callable[[str], bytes],
                                                  route: Route) -> None:
    """Only operations that take something can be given something invalid."""
    run(start_service, photo, route, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, CHECKS)


def test_real_recognitions_and_events_match_their_documented_schemas(
        start_service: Callable[..., ServiceRunner], photo: Callable[[str], bytes]) -> None:
    """Generated requests rarely hold a face; these answers do: a known face, a stranger and
    a face too small to name, through ``/recognize``, then the stored ``/events``."""
    runner = start_service()
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    auth = {"Authorization": f"Bearer {runner.service.token}"}
    schema = schemathesis.openapi.from_url(runner.url("/openapi.json"), headers=auth)
    statuses = set()
    for image in ("people/barack_obama/barack_obama_2.jpg", "people/joe_biden/joe_biden_1.jpg",
                  "groups/compreface_016_8.jpg"):
        answer = requests.post(runner.url("/recognize?camera=door&publish=true"),
                               data=photo(image), headers=auth, timeout=30)
        assert answer.status_code == 200
        schema.find_operation_by_id("recognize").validate_response(answer)
        statuses |= {face["status"] for face in answer.json()["faces"]}
    assert {"known", "unknown"} <= statuses
    events = requests.get(runner.url("/events"), headers=auth, timeout=30)
    assert len(events.json()["events"]) >= 2
    schema.find_operation_by_id("events").validate_response(events)
    health = requests.get(runner.url("/health"), timeout=30)
    schema.find_operation_by_id("health").validate_response(health)
