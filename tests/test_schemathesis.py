"""Schemathesis checks the emulator against its own OpenAPI description, over loopback HTTP:
every documented status and body, no 5xx, rejections of invalid data, auth enforced.

It drives Schemathesis through its Python API (``operation.as_strategy()`` under Hypothesis'
``@given``), not its pytest plugin: the plugin's lazy fixture parametrization reaches into
pytest internals and broke on pytest 9.2 (``'Function' object has no attribute '_nodeid'``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from magicgif_widget.emulator import BackgroundServer, Emulator
from magicgif_widget.emulator.openapi import OPENAPI

TOKEN = "emulator-schema-token"
SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
OPERATIONS = {
    f"{op.method.upper()} {op.path}": op for op in (r.ok() for r in SCHEMA.get_all_operations())
}


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with BackgroundServer(Emulator(render_seconds=0.05, token=TOKEN)) as srv:
        yield srv.url


def test_every_contract_route_is_described():
    assert set(OPERATIONS) == {
        "POST /v1/ai-gif-generator",
        "GET /v1/image-projects/{id}",
        "DELETE /v1/image-projects/{id}",
        "POST /v1/files/upload-urls",
        "GET /v1/account",
    }


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_the_emulator_keeps_its_contract(emulator_url: str, operation: str, mode: Any):
    calls = []

    @given(case=OPERATIONS[operation].as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: Any) -> None:
        response = case.call_and_validate(
            base_url=emulator_url, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        calls.append(response.status_code)

    check()
    assert calls, "Schemathesis sent no request"
