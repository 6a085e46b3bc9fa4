"""Schemathesis checks the emulator against its own OpenAPI description, over loopback HTTP:
every documented status and body, no 5xx, rejections of invalid data, auth enforced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from magicgif_widget.emulator import BackgroundServer, Emulator

TOKEN = "emulator-schema-token"


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with BackgroundServer(Emulator(render_seconds=0.05, token=TOKEN)) as srv:
        yield srv.url


@pytest.fixture(scope="module")
def api_schema(emulator_url: str):
    return schemathesis.openapi.from_url(f"{emulator_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_emulator_keeps_its_contract(case):
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})
