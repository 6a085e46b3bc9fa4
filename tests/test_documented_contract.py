"""The emulator, and the OpenAPI description it serves, against the contract as the vendor
documents it (``documented_contract.py``, transcribed from the vendor's API reference as
summarised in the project's API notes, not from the package's constants).

Everything goes over real HTTP on loopback to the test session's emulator, with an API key
required as the real service requires one. Every answer any test here receives must have a
documented status (the client's response hook checks each one).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from . import documented_contract as doc
from .conftest import Server
from .fired import assert_fired
from .loopback import HTTP

TOKEN = "mhk_live_documented_contract"
PROMPT = {"prompt": "Cute dancing cat, pixel art"}
TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}


def _documented_status(response: httpx.Response) -> None:
    if response.request.url.path.startswith("/emulator/"):
        return  # the test hooks and signed file URLs are not the API
    assert response.status_code in doc.DOCUMENTED_STATUSES, (
        f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}, not a documented status"
    )


@pytest.fixture
def api(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client of the loopback emulator, which now requires the key."""
    server.emulator.token = TOKEN
    try:
        with httpx.Client(
            base_url=server.url,
            headers={doc.AUTH_HEADER: f"{doc.AUTH_SCHEME} {TOKEN}", "accept": doc.JSON},
            event_hooks={"response": [_documented_status]},
            timeout=10,
        ) as client:
            yield client
    finally:
        server.emulator.token = None


def check_fields(body: Any, fields: dict[str, doc.Field], where: str) -> None:
    """Every documented key is present with its documented type, nullability and values."""
    assert isinstance(body, dict), f"{where}: {body!r} is not an object"
    for name, spec in fields.items():
        assert name in body, f"{where}: documented key {name!r} missing from {sorted(body)}"
        value = body[name]
        if value is None:
            assert spec.nullable, f"{where}.{name} is null; the contract does not allow null"
            continue
        kind = TYPES[spec.type]
        is_type = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        assert is_type, f"{where}.{name} = {value!r}: expected a JSON {spec.type}"
        if spec.values is not None:
            assert value in spec.values, f"{where}.{name} = {value!r} not in {spec.values}"
        if spec.const is not None:
            assert value == spec.const, f"{where}.{name} = {value!r}, documented {spec.const!r}"
        if spec.min_length is not None:
            assert len(value) >= spec.min_length, f"{where}.{name} is too short"
        if spec.format == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        if spec.format == "uri":
            assert urlsplit(value).scheme in ("http", "https"), f"{where}.{name}: {value!r}"
        if spec.fields is not None and spec.type == "array":
            for n, item in enumerate(value):
                check_fields(item, spec.fields, f"{where}.{name}[{n}]")
        elif spec.fields is not None:
            check_fields(value, spec.fields, f"{where}.{name}")


def check_error(response: httpx.Response, status: int) -> str:
    """A documented error answer: the status, a JSON ``{"code", "message"}`` body, and a code
    the error table gives for that status. Returns the code."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].split(";")[0] == doc.JSON
    body = response.json()
    check_fields(body, doc.ERROR_BODY, f"{status} body")
    assert body["code"] in doc.ERROR_CODES[status], f"{status} with code {body['code']!r}"
    assert body["message"].strip(), "an empty message"
    return str(body["code"])


def create(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post(doc.CREATE[1], json={"style": PROMPT, **body})


def project(api: httpx.Client, project_id: str) -> httpx.Response:
    return api.get(doc.GET_PROJECT[1].format(id=project_id))


def final(api: httpx.Client, project_id: str) -> tuple[dict[str, Any], list[str]]:
    """Poll until a final status; every answer checked. Returns the last and all statuses."""
    seen: list[str] = []
    while True:
        response = project(api, project_id)
        assert response.status_code == 200, response.text
        body = response.json()
        check_fields(body, doc.PROJECT, "project")
        seen.append(body["status"])
        if body["status"] in doc.FINAL_STATUSES:
            return body, seen
        time.sleep(0.05)


def credits(api: httpx.Client) -> int:
    response = api.get(doc.ACCOUNT[1])
    assert response.status_code == 200
    return int(response.json()["credits"])


# -- the create ------------------------------------------------------------------------------


def test_the_documented_example_create_answers_the_documented_fields(api: httpx.Client):
    response = api.post(doc.CREATE[1], json=doc.EXAMPLE_CREATE)
    assert response.status_code == doc.OPERATIONS[doc.CREATE].success
    assert response.headers["content-type"].split(";")[0] == doc.JSON
    body = response.json()
    check_fields(body, doc.CREATED, "created")
    assert body["credits_charged"] == body["frame_cost"] == doc.CREDITS_PER_GIF


def test_a_create_charges_the_documented_cost_when_it_is_made(api: httpx.Client):
    before = credits(api)
    assert create(api).status_code == 200
    assert credits(api) == before - doc.CREDITS_PER_GIF  # charged at once, before any render


@pytest.mark.parametrize("output_format", doc.OUTPUT_FORMATS)
def test_every_documented_output_format_is_accepted_and_delivered(
    api: httpx.Client, output_format: str
):
    response = create(api, output_format=output_format)
    assert response.status_code == 200, response.text
    body, _ = final(api, response.json()["id"])
    assert body["status"] == "complete"
    file = HTTP.get(body["downloads"][0]["url"])
    assert file.status_code == 200
    assert file.headers["content-type"].split(";")[0] == doc.MEDIA_TYPE[output_format]


def test_unset_optional_keys_take_the_documented_defaults(api: httpx.Client):
    response = create(api)  # neither name nor output_format
    assert response.status_code == 200
    body, _ = final(api, response.json()["id"])
    assert body["name"].startswith(doc.DEFAULT_NAME_PREFIX)
    datetime.fromisoformat(body["name"][len(doc.DEFAULT_NAME_PREFIX) :].replace("Z", "+00:00"))
    file = HTTP.get(body["downloads"][0]["url"])
    assert file.headers["content-type"] == doc.MEDIA_TYPE[doc.DEFAULT_OUTPUT_FORMAT]


@pytest.mark.parametrize(
    "prompt", ["x" * doc.PROMPT_MIN_CHARS, "y" * doc.PROMPT_MAX_CHARS], ids=["min", "max"]
)
def test_prompts_at_the_documented_limits_are_accepted(api: httpx.Client, prompt: str):
    response = api.post(doc.CREATE[1], json={"style": {"prompt": prompt}})
    assert response.status_code == 200, response.text


def test_a_name_of_any_length_is_accepted(api: httpx.Client):
    """ "no length limit in the spec" """
    response = create(api, name="n" * 5000)
    assert response.status_code == 200, response.text
    assert final(api, response.json()["id"])[0]["name"] == "n" * 5000


# -- polling ---------------------------------------------------------------------------------


def test_a_job_shows_every_documented_key_at_every_poll_until_complete(
    api: httpx.Client, server: Server
):
    server.reset(render_seconds=0.6)  # (the key stays required)
    response = create(api, name="documented")
    project_id = response.json()["id"]
    body, seen = final(api, project_id)
    assert set(seen) <= set(doc.STATUSES) and seen[-1] == "complete"
    assert len(seen) >= 2  # the job was seen before it was final
    assert body["id"] == project_id and body["name"] == "documented"
    assert body["type"] == doc.PROJECT_TYPE and body["enabled"] is True
    assert body["error"] is None and body["credits_charged"] == doc.CREDITS_PER_GIF
    assert body["downloads"], "a complete project lists its downloads"
    for item in body["downloads"]:
        file = HTTP.get(item["url"])  # "it takes no auth header"
        assert file.status_code == 200 and file.content


def test_a_failed_job_shows_the_documented_error_and_refunds(api: httpx.Client, server: Server):
    before = credits(api)
    server.fault(route="create", outcome="error", code="content_policy_violation")
    response = create(api)
    assert response.status_code == 200
    assert response.json()["credits_charged"] == doc.CREDITS_PER_GIF  # charged at the create
    body, _ = final(api, response.json()["id"])
    assert body["status"] == "error" and body["downloads"] == []
    check_fields(body["error"], doc.JOB_ERROR, "project.error")
    assert body["error"]["code"] == "content_policy_violation"
    assert body["credits_charged"] == doc.CREDITS_CHARGED_AFTER_REFUND
    assert credits(api) == before  # refunded
    assert_fired(server, 1)


def test_a_deleted_project_is_gone_with_its_outputs(api: httpx.Client):
    project_id = create(api).json()["id"]
    body, _ = final(api, project_id)
    url = body["downloads"][0]["url"]
    response = api.delete(doc.DELETE_PROJECT[1].format(id=project_id))
    assert response.status_code == doc.OPERATIONS[doc.DELETE_PROJECT].success
    assert response.content == b""
    after = project(api, project_id)
    assert after.status_code == 200 and after.json()["enabled"] is False
    check_fields(after.json(), doc.PROJECT, "deleted project")
    assert after.json()["downloads"] == []
    assert HTTP.get(url).status_code >= 400  # the outputs went with it


def test_a_project_the_create_accepted_can_be_read_back(api: httpx.Client):
    response = api.post(
        doc.CREATE[1],
        content=b'{"style": {"prompt": "a cat"}, "name": "odd \\ud800 name"}',
        headers={"content-type": doc.JSON},
    )
    if response.status_code != 200:  # refusing such a name is within the contract too
        check_error(response, 422)
        return
    assert project(api, response.json()["id"]).status_code == 200


# -- uploads and the account -----------------------------------------------------------------


def test_upload_urls_answer_in_request_order_and_take_the_bytes(api: httpx.Client):
    items = [
        {"extension": "png", "type": "image"},
        {"extension": "mp4", "type": "video"},
        {"extension": "mp3", "type": "audio"},
    ]
    response = api.post(doc.UPLOAD_URLS[1], json={"items": items})
    assert response.status_code == 200
    body = response.json()
    check_fields(body, doc.UPLOAD_URLS_RESPONSE, "upload-urls")
    assert len(body["items"]) == len(items)
    for asked, got in zip(items, body["items"], strict=True):
        assert got["file_path"].startswith(doc.UPLOAD_FILE_PATH_PREFIX)
        assert got["file_path"].endswith("." + asked["extension"])
        put = HTTP.put(got["upload_url"], content=b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        assert put.status_code < 300, put.text


def test_the_account_shows_the_documented_fields(api: httpx.Client):
    response = api.get(doc.ACCOUNT[1])
    assert response.status_code == 200
    check_fields(response.json(), doc.ACCOUNT_FIELDS, "account")


# -- errors: each documented status the emulator can produce ---------------------------------


def test_400_for_a_body_that_is_not_json(api: httpx.Client):
    for path in (doc.CREATE[1], doc.UPLOAD_URLS[1]):
        response = api.post(path, content=b"{not json", headers={"content-type": doc.JSON})
        assert check_error(response, 400) == "invalid_request"


VALID_BODY: dict[tuple[str, str], Any] = {
    doc.CREATE: {"style": PROMPT},
    doc.UPLOAD_URLS: {"items": [{"extension": "png", "type": "image"}]},
}


@pytest.mark.parametrize("operation", list(doc.OPERATIONS), ids=" ".join)
@pytest.mark.parametrize(
    "authorization",
    [None, f"{doc.AUTH_SCHEME} wrong-key", TOKEN, f"Basic {TOKEN}"],
    ids=["none", "wrong-key", "no-scheme", "basic"],
)
def test_401_on_every_operation_without_a_valid_key(
    api: httpx.Client, server: Server, operation: tuple[str, str], authorization: str | None
):
    method, path = operation
    project_id = create(api).json()["id"]  # a real project, so only the key can be wrong
    headers = {doc.AUTH_HEADER: authorization} if authorization else {}
    body = VALID_BODY.get(operation)
    before = server.stats()["creates"]
    with httpx.Client(base_url=server.url, event_hooks={"response": [_documented_status]}) as bare:
        response = bare.request(method, path.format(id=project_id), json=body, headers=headers)
    assert check_error(response, 401) == "unauthorized"
    assert server.stats()["creates"] == before  # refused, so nothing was made or charged
    assert project(api, project_id).json()["enabled"] is True  # nor deleted


def test_402_when_the_credits_cannot_pay_for_a_gif(api: httpx.Client, server: Server):
    server.emulator.store.initial_credits = doc.CREDITS_PER_GIF + 10
    assert create(api).status_code == 200
    response = create(api)
    assert check_error(response, 402) == "insufficient_credits"
    assert credits(api) == 10  # the refused create charged nothing


def test_404_for_an_unknown_id_or_route(api: httpx.Client):
    assert check_error(project(api, "cm-no-such-project"), 404) == "not_found"
    missing = api.delete(doc.DELETE_PROJECT[1].format(id="cm-no-such-project"))
    assert check_error(missing, 404) == "not_found"
    assert check_error(api.get("/v1/no-such-route"), 404) == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"style": {}},
        {"style": "a cat"},
        {"style": {"prompt": ""}},
        {"style": {"prompt": "x" * (doc.PROMPT_MAX_CHARS + 1)}},
        {"style": {"prompt": 42}},
        {"style": PROMPT, "output_format": "png"},
        {"style": PROMPT, "name": 7},
        [PROMPT],
    ],
    ids=repr,
)
def test_422_for_create_values_outside_the_contract(api: httpx.Client, server: Server, body):
    response = api.post(doc.CREATE[1], json=body)
    assert check_error(response, 422) == "unprocessable_entity"
    assert server.stats()["creates"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": []},
        {"items": [{"extension": "png"}]},
        {"items": [{"type": "image"}]},
        {"items": [{"extension": "png", "type": "picture"}]},
    ],
    ids=repr,
)
def test_422_for_upload_items_outside_the_contract(api: httpx.Client, body):
    assert check_error(api.post(doc.UPLOAD_URLS[1], json=body), 422) == "unprocessable_entity"


@pytest.mark.parametrize("operation", list(doc.OPERATIONS), ids=" ".join)
def test_500_has_the_documented_code(api: httpx.Client, server: Server, operation):
    """The emulator answers 500 only when it fails (or is told to): the body is the table's."""
    method, path = operation
    route = {
        doc.CREATE: "create",
        doc.GET_PROJECT: "poll",
        doc.DELETE_PROJECT: "delete",
        doc.UPLOAD_URLS: "upload-urls",
        doc.ACCOUNT: "account",
    }[operation]
    project_id = create(api).json()["id"]
    server.fault(route=route, status=500)
    response = api.request(method, path.format(id=project_id), json=VALID_BODY.get(operation))
    assert check_error(response, 500) == "internal_server_error"
    assert_fired(server, 1)


# -- the OpenAPI document the emulator serves --------------------------------------------------


@pytest.fixture(scope="module")
def served(_background: Any) -> dict[str, Any]:
    response = HTTP.get(f"{_background.url}/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, name = node["$ref"].split("/")
        node = spec["components"]["schemas"][name]
    return node


def served_operation(served: dict[str, Any], operation: tuple[str, str]) -> dict[str, Any]:
    method, path = operation
    assert path in served["paths"], f"{path} is not served"
    assert method.lower() in served["paths"][path], f"{method} {path} is not served"
    return dict(served["paths"][path][method.lower()])


def response_schema(served: dict[str, Any], entry: dict[str, Any], status: int) -> dict[str, Any]:
    answer = entry["responses"][str(status)]
    return resolve(served, answer["content"][doc.JSON]["schema"])


def compare(
    served: dict[str, Any], got: dict[str, Any], fields: dict[str, doc.Field], where: str
) -> list[str]:
    """How the served schema ``got`` differs from the documented ``fields`` (empty: agrees)."""
    problems = []
    properties = got.get("properties", {})
    for name, spec in fields.items():
        if name not in properties:
            problems.append(f"{where}.{name}: not described")
            continue
        prop = resolve(served, properties[name])
        if prop.get("type") != spec.type:
            problems.append(f"{where}.{name}: type {prop.get('type')!r}, documented {spec.type}")
        if bool(prop.get("nullable")) != spec.nullable:
            problems.append(
                f"{where}.{name}: nullable {bool(prop.get('nullable'))}, documented {spec.nullable}"
            )
        if spec.values is not None:
            values = [v for v in prop.get("enum", []) if v is not None]
            if set(values) != set(spec.values):
                problems.append(f"{where}.{name}: values {values}, documented {list(spec.values)}")
        for key, want in (("minLength", spec.min_length), ("maxLength", spec.max_length)):
            if want is not None and prop.get(key) != want:
                problems.append(f"{where}.{name}: {key} {prop.get(key)}, documented {want}")
        if spec.fields is not None:
            inner = resolve(served, prop["items"]) if spec.type == "array" else prop
            problems += compare(served, inner, spec.fields, f"{where}.{name}")
    return problems


def test_the_served_description_covers_every_documented_operation(served: dict[str, Any]):
    for operation, op in doc.OPERATIONS.items():
        entry = served_operation(served, operation)
        assert str(op.success) in entry["responses"], f"{operation}: no {op.success}"
        statuses = {int(s) for s in entry["responses"]}
        extra = statuses - doc.DOCUMENTED_STATUSES - set(doc.SENT_THOUGH_UNDOCUMENTED)
        assert not extra, f"{operation} describes statuses the contract has not: {extra}"
    assert served["components"]["securitySchemes"]
    scheme = next(iter(served["components"]["securitySchemes"].values()))
    assert (scheme["type"], scheme["scheme"].lower()) == ("http", doc.AUTH_SCHEME.lower())


# Each (operation, status) the error table gives it; the ones the served description lacks
# are marked with what is missing.
SERVED_ERRORS = [
    pytest.param(
        operation,
        status,
        id=f"{' '.join(operation)} {status}",
    )
    for operation, op in doc.OPERATIONS.items()
    for status in op.errors
]


@pytest.mark.parametrize(("operation", "status"), SERVED_ERRORS)
def test_the_served_description_lists_each_documented_error(
    served: dict[str, Any], operation: tuple[str, str], status: int
):
    entry = served_operation(served, operation)
    assert str(status) in entry["responses"], f"{operation}: {status} not described"
    error = response_schema(served, entry, status)
    assert compare(served, error, doc.ERROR_BODY, f"{status}") == []
    assert set(error.get("required", [])) >= set(doc.ERROR_BODY)


RESPONSE_DISAGREEMENTS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(
            operation,
            id=" ".join(operation),
            marks=[pytest.mark.xfail(strict=True, reason=RESPONSE_DISAGREEMENTS[operation])]
            if operation in RESPONSE_DISAGREEMENTS
            else [],
        )
        for operation, op in doc.OPERATIONS.items()
        if op.response is not None
    ],
)
def test_the_served_response_schema_agrees_with_the_documented_one(
    served: dict[str, Any], operation: tuple[str, str]
):
    op = doc.OPERATIONS[operation]
    assert op.response is not None
    got = response_schema(served, served_operation(served, operation), op.success)
    problems = compare(served, got, op.response, " ".join(operation))
    missing = sorted(set(op.required) - set(got.get("required", [])))
    if missing:
        problems.append(f"keys always present but not required: {missing}")
    assert problems == []


REQUEST_DISAGREEMENTS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(
            operation,
            id=" ".join(operation),
            marks=[pytest.mark.xfail(strict=True, reason=REQUEST_DISAGREEMENTS[operation])]
            if operation in REQUEST_DISAGREEMENTS
            else [],
        )
        for operation, op in doc.OPERATIONS.items()
        if op.body is not None
    ],
)
def test_the_served_request_schema_agrees_with_the_documented_one(
    served: dict[str, Any], operation: tuple[str, str]
):
    op = doc.OPERATIONS[operation]
    assert op.body is not None
    entry = served_operation(served, operation)
    assert entry["requestBody"]["required"] is True
    got = resolve(served, entry["requestBody"]["content"][doc.JSON]["schema"])
    problems = compare(served, got, op.body, " ".join(operation))
    if set(got.get("required", [])) != set(op.body_required):
        problems.append(f"required {got.get('required')}, documented {list(op.body_required)}")
    assert problems == []


def test_the_served_create_request_has_the_documented_prompt_rules(served: dict[str, Any]):
    entry = served_operation(served, doc.CREATE)
    got = resolve(served, entry["requestBody"]["content"][doc.JSON]["schema"])
    style = resolve(served, got["properties"]["style"])
    assert style.get("required") == list(doc.STYLE_REQUIRED)
    prompt = style["properties"]["prompt"]
    assert (prompt["type"], prompt.get("minLength"), prompt.get("maxLength")) == (
        "string",
        doc.PROMPT_MIN_CHARS,
        doc.PROMPT_MAX_CHARS,
    )


def test_the_served_upload_request_requires_both_keys_of_each_item(served: dict[str, Any]):
    entry = served_operation(served, doc.UPLOAD_URLS)
    got = resolve(served, entry["requestBody"]["content"][doc.JSON]["schema"])
    item = resolve(served, got["properties"]["items"]["items"])
    assert set(item.get("required", [])) == set(doc.UPLOAD_REQUEST_ITEM_REQUIRED)
