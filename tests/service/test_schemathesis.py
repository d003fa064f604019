"""schemathesis against the real service's own ``/openapi.json`` (issue 8, item 9; DESIGN §6).

For every operation of the route table, requests generated from the document (with the bearer
token) must get no server error, only documented status codes and content types, and bodies
that match the documented schemas. The run is bounded and deterministic: ``EXAMPLES`` cases per
operation, from a fixed seed (Hypothesis' ``derandomize``), with no example database.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
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
EXAMPLES = 50
# Archives are bytes like any other: send them as generated.
schemathesis.serializer.alias("application/zip", "application/octet-stream")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.handler)
def test_the_document_holds_for_generated_requests(
        start_service: Callable[..., ServiceRunner], photo: Callable[[str], bytes],
        route: Route) -> None:
    runner = start_service()
    # Someone to find, so generated requests can reach the success answers too.
    enroll(runner, "Barack Obama", photo(OBAMA_1))
    auth = {"Authorization": f"Bearer {runner.service.token}"}
    schema = schemathesis.openapi.from_url(runner.url("/openapi.json"), headers=auth)
    operation = schema.find_operation_by_id(route.handler)
    base_url = runner.url("")
    # Where the document can say everything that makes a request valid (not whether some
    # bytes are a photo with one clear face, or a zip made by export), valid data must be
    # accepted: answered 2xx, or 404/409 for a person or name that is not / already there.
    # (Only for JSON answers: this check of schemathesis reads every answer as text.)
    json_only = route.body in (None, Body.NAME) and route.produces == "application/json"
    checks = [*CHECKS, positive_data_acceptance] if json_only else CHECKS

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                     HealthCheck.data_too_large])
    @given(case=st.one_of(operation.as_strategy(),
                          *schema.get_strategies_from_examples(operation)))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=auth, checks=checks, timeout=30)

    check()
