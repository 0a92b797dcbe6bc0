"""Property-based tests of the whole JSON API, generated from its own ``/api/openapi.json``.

Schemathesis reads the document from a live server and sends every operation requests
built from it: schema examples, the edge cases of each parameter, valid data (which must
be answered as documented) and invalid data (which must be refused with a 4xx). Every
answer goes through schemathesis' checks: never a 5xx; a documented status, content type
and headers; a body that matches its schema; a refusal without a token. Each operation
runs without a token, and those that take one run again with an admin's.
"""

from __future__ import annotations

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from renovation import accounts, openapi
from renovation.models import User

#: Generated examples per operation (the edge cases and schema examples come on top).
MAX_EXAMPLES = 15
HYPOTHESIS = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
                      database=None, suppress_health_check=list(HealthCheck))

EXCLUDED: list = []

DOCUMENT = openapi.build_document()
OPERATIONS = [operation for item in DOCUMENT["paths"].values() for operation in item.values()]
#: Operations where a request of the documented shape may still be refused with 400, for a
#: rule that OpenAPI 3.0 cannot state and the document states in words: every change (a
#: move the workflow does not allow, a topic of another session...) and every map view
#: (bbox latitudes outside -90..90 or a minimum above its maximum: one schema covers all
#: four numbers) and every filter with built_from later than built_to.
SEMANTIC_400 = sorted(
    operation["operationId"] for operation in OPERATIONS
    if operation.get("requestBody")
    or any(p.get("name") in ("bbox", "built_from") or p.get("$ref", "").endswith("/Bbox")
           for p in operation.get("parameters", [])))
#: What schemathesis found in the sessions API (renovation/web/api_sessions.py, not ours):
#: a body the document forbids is accepted. Reported to its owner; delete each line once
#: fixed, so that the check guards it again.
ACCEPTS_INVALID_BODY: dict[str, str] = {}
#: The operations that take a token: ours, the sessions API's...
SECURED = sorted(operation["operationId"] for operation in OPERATIONS
                 if operation.get("security"))


def _config(token: str | None = None) -> SchemathesisConfig:
    """Schemathesis' own defaults, but for the exceptions above, and the token if any."""
    semantic = {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]}}
    lenient = {"negative_data_rejection": {"enabled": False}}
    known = {operation["operationId"] for operation in OPERATIONS}
    data = {"operations": [
        *({"include-operation-id": op, "checks": semantic} for op in SEMANTIC_400),
        *({"include-operation-id": op, "checks": lenient}
          for op in ACCEPTS_INVALID_BODY if op in known)]}
    if token:
        data["auth"] = {"openapi": {"bearerAuth": {"bearer": token}}}
    return SchemathesisConfig.from_dict(data)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    # schemathesis 4.32's lazy schema renames the test per operation through the private
    # `Node._nodeid`, which pytest 9.2 no longer has (it keeps a NodeId in `_id`). Give it
    # the attribute to write to; the report then names the test without the operation.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def admin_token(app_session) -> str:
    admin = app_session.scalar(sa.select(User).where(User.username == "admin"))
    token = accounts.issue_token(app_session, admin, "schemathesis")
    app_session.commit()
    return token


@pytest.fixture
def api_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server}/api/openapi.json", config=_config())


@pytest.fixture
def api_schema_with_token(live_server, admin_token):
    return schemathesis.openapi.from_url(f"{live_server}/api/openapi.json",
                                         config=_config(admin_token))


def test_the_exceptions_are_the_expected_operations():
    assert {"changeItem", "getMapCommunities", "getMapItems"} <= set(SEMANTIC_400)
    assert not {"listStreets", "listCommunities", "listItems", "getItem"} & set(SEMANTIC_400)
    assert {"changeItem", "getMe"} <= set(SECURED)


@schemathesis.pytest.from_fixture("api_schema").parametrize()
@HYPOTHESIS
def test_every_operation_without_a_token(case, live_server):
    case.call_and_validate(base_url=f"{live_server}/api", excluded_checks=EXCLUDED)


@schemathesis.pytest.from_fixture("api_schema_with_token").include(
    operation_id=SECURED).parametrize()
@pytest.mark.parametrize("backend", ["postgis"])  # writes: the production database only
@HYPOTHESIS
def test_operations_that_take_a_token_with_one(case, live_server):
    case.call_and_validate(base_url=f"{live_server}/api", excluded_checks=EXCLUDED)
