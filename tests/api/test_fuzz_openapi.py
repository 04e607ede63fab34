"""Schema-driven fuzzing of every operation in the OpenAPI document (issue 9,
item 19), with schemathesis against the in-process app on SQLite.

The caller is a co-author (ben) and the path parameters name a real packet,
section, source, prerequisite, objection, release and lane most of the time,
so the generated bodies reach the domain rather than stopping at a 404. Every
answer must be documented (status, content type, body schema, the error
envelope included), and none may be a 5xx.

CI runs `QUIRE_FUZZ_EXAMPLES` (default 25) examples per operation;
`make fuzz` runs many more.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from projections.runner import ProjectionRunner
from tests.api.conftest import Api
from workspace.config import Settings

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(1800)]

EXAMPLES = int(os.environ.get("QUIRE_FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

#: Every answer seen, by status, printed at the end (`make fuzz` reports it).
SEEN: Counter[int] = Counter()


@pytest.fixture(scope="module")
def api_backend() -> str:
    return "sqlite"  # where a huge integer used to reach a column and fail


@pytest.fixture(scope="module")
def world(api: Api) -> dict[str, str]:
    """A packet with one of everything, and a lane ben may release to."""
    lane = api.post(
        "root",
        "/v1/lanes",
        {
            "id": "intake",
            "title": "Intake",
            "members": ["olga"],
            "accepts_kinds": ["k"],
        },
    )
    assert lane.status_code == 201, lane.text
    packet_id = api.open_packet(kind="k")
    base = f"/v1/packets/{packet_id}"

    def made(path: str, body: dict[str, Any], user: str = "ben") -> dict[str, Any]:
        response = api.post(user, base + path, body)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    section = made("/sections", {"heading": "Entitlement", "text": "Credits."})
    source = made(
        "/sources",
        {
            "kind": "order-form",
            "title": "Order form",
            "reference": "crm://1",
            "digest": "sha256:1",
            "precedence": 1,
        },
    )
    prerequisite = made("/prerequisites", {"title": "Contacts current"})
    objection = made("/objections", {"text": "Why monthly?"}, user="rita")
    worksheet = made(
        "/worksheets",
        {
            "title": "Credit",
            "facts": {"period": "2024-04", "fee_amount": 100},
            "cites": {"outages": source["source_id"]},
        },
    )
    made("/revisions", {"label": "v1"})
    release = made("/releases", {"revision": 1, "lane": "intake"})
    return {
        "packet_id": packet_id,
        "section_id": section["section_id"],
        "source_id": source["source_id"],
        "prerequisite_id": prerequisite["prerequisite_id"],
        "objection_id": objection["objection_id"],
        "release_id": release["release_id"],
        "worksheet_id": worksheet["worksheet_id"],
        "lane": "intake",
        "lane_id": "intake",
    }


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    started = time.monotonic()
    yield
    seconds = time.monotonic() - started
    print(
        f"\nfuzz: {sum(SEEN.values())} cases in {seconds:.0f} s, "
        f"{EXAMPLES} examples per operation; statuses {dict(sorted(SEEN.items()))}"
    )


# The document alone (no lifespan, no database): the same for every app.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="memory://")).openapi()
)


@schema.parametrize()
@schema.given(real=st.booleans())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: Any, real: bool, api: Api, world: dict[str, str]
) -> None:
    if real and case.path_parameters:
        for name in case.path_parameters:
            if name in world:
                case.path_parameters[name] = world[name]
    headers = api.headers("ben")
    if real:  # a generated Authorization header would shadow ben's token
        case.headers = {**(case.headers or {}), **headers}
    sent = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    response = api.client.request(
        sent["method"],
        sent["url"],
        headers=sent.get("headers"),
        params=sent.get("params"),
        json=sent.get("json"),
        content=sent.get("data"),
    )
    SEEN[response.status_code] += 1
    case.validate_response(
        response, checks=CHECKS, headers=headers, transport_kwargs=sent
    )


def test_every_operation_documents_every_error_status_with_the_error_body() -> None:
    document = create_app(Settings(database_url="memory://")).openapi()
    envelope = {"$ref": "#/components/schemas/ErrorPublic"}
    undocumented = [
        (method.upper(), path, status)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status in ("400", "401", "403", "404", "409", "413", "422", "503")
        if operation["responses"]
        .get(status, {})
        .get("content", {})
        .get("application/json", {})
        .get("schema")
        != envelope
    ]
    assert undocumented == []
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message"}


def test_the_read_models_took_in_everything_the_fuzzer_wrote(api: Api) -> None:
    # Runs after the fuzzing above (file order): an accepted value that a
    # read model cannot store (a 2^70 revision, a NUL on PostgreSQL) stops
    # its projection for good, though the request itself got a 2xx.
    runners = [b for b in api.services.background if isinstance(b, ProjectionRunner)]
    assert runners
    for runner in runners:
        assert runner.wait(timeout=30.0), "a projection stopped short of the head"
