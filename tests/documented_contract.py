"""The Magic Hour API contract as the vendor documents it, transcribed by hand for the tests.

Source: the vendor's API reference (its OpenAPI spec, OpenAPI 3.0.2, ``info.version`` "beta";
the public ``magic-hour`` Python SDK 0.90.0 generated from it; its errors page), as summarised
in the project's API notes. Written independently of ``magicgif_widget/contract.py`` and the
emulator's ``openapi.py``, and importing nothing from the package: checking the emulator
against the package's own constants would prove only that the package agrees with itself.

Where the notes leave something to inference, the comment says so (``derived:``).
``openapi()`` renders these facts as an OpenAPI 3.0 document for Schemathesis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BASE_URL = "https://api.magichour.ai"
# "Header `Authorization: Bearer <api_key>` ... Every operation requires it."
AUTH_HEADER = "Authorization"
AUTH_SCHEME = "Bearer"
JSON = "application/json"

CREATE = ("POST", "/v1/ai-gif-generator")
GET_PROJECT = ("GET", "/v1/image-projects/{id}")
DELETE_PROJECT = ("DELETE", "/v1/image-projects/{id}")
UPLOAD_URLS = ("POST", "/v1/files/upload-urls")
ACCOUNT = ("GET", "/v1/account")


@dataclass(frozen=True)
class Field:
    """One documented key: its JSON type, whether it may be null, and its documented values."""

    type: str  # string | integer | boolean | array | object
    nullable: bool = False
    values: tuple[Any, ...] | None = None  # the complete documented set, where one is given
    const: Any = None  # the one value the API's behaviour gives it (not a schema enum)
    fields: dict[str, Field] | None = None  # an object's keys, or an array's items' keys
    format: str | None = None  # date-time | uri
    min_length: int | None = None
    max_length: int | None = None
    deprecated: bool = False


# -- POST /v1/ai-gif-generator ---------------------------------------------------------------
PROMPT_MIN_CHARS = 1
PROMPT_MAX_CHARS = 500  # "style.prompt: required string, 1 to 500 characters"
OUTPUT_FORMATS = ("gif", "mp4", "webm")
DEFAULT_OUTPUT_FORMAT = "gif"
DEFAULT_NAME_PREFIX = "Ai Gif - "  # 'server default "Ai Gif - dateTime"'
CREDITS_PER_GIF = 50  # "Each GIF costs 50 credits, charged when the request is made"
MEDIA_TYPE = {"gif": "image/gif", "mp4": "video/mp4", "webm": "video/webm"}  # derived: by format

# Request: "unset optional keys are omitted" (so none of them is documented as nullable).
CREATE_REQUEST = {
    "style": Field(
        "object",
        fields={
            "prompt": Field("string", min_length=PROMPT_MIN_CHARS, max_length=PROMPT_MAX_CHARS)
        },
    ),
    "name": Field("string"),  # "optional string, no length limit in the spec"
    "output_format": Field("string", values=OUTPUT_FORMATS),
}
CREATE_REQUIRED = ("style",)
STYLE_REQUIRED = ("prompt",)
EXAMPLE_CREATE = {
    "style": {"prompt": "Cute dancing cat, pixel art"},
    "name": "Ai Gif gif",
    "output_format": "gif",
}

# Response 200: {"id": "cuid-example", "credits_charged": 50, "frame_cost": 50}
CREATED = {
    "id": Field("string", min_length=1),
    "credits_charged": Field("integer", const=CREDITS_PER_GIF),
    "frame_cost": Field("integer", const=CREDITS_PER_GIF, deprecated=True),
}

# -- GET /v1/image-projects/{id} -------------------------------------------------------------
STATUSES = ("draft", "queued", "rendering", "complete", "error", "canceled")
FINAL_STATUSES = ("complete", "error", "canceled")  # "The last three are final."
PROJECT_TYPE = "AI_GIF"  # "this generator's is "AI_GIF""
DOWNLOAD = {"url": Field("string", format="uri"), "expires_at": Field("string", format="date-time")}
JOB_ERROR = {"code": Field("string"), "message": Field("string")}  # code is free-form
# "Response 200 (every key present; null where noted)": only ``error`` is noted as null.
PROJECT = {
    "id": Field("string"),
    "name": Field("string"),
    "status": Field("string", values=STATUSES),
    "type": Field("string"),
    "created_at": Field("string", format="date-time"),
    "enabled": Field("boolean"),  # "enabled: false means the project was deleted"
    "image_count": Field("integer"),
    "credits_charged": Field("integer"),  # refunded (updated) when the render fails
    "total_frame_cost": Field("integer"),
    "downloads": Field("array", fields=DOWNLOAD),  # "On error: ... downloads: []"
    "error": Field("object", nullable=True, fields=JOB_ERROR),
}
# derived: "if the render fails they are refunded and credits_charged is updated" -- a full
# refund leaves nothing charged.
CREDITS_CHARGED_AFTER_REFUND = 0

# -- POST /v1/files/upload-urls --------------------------------------------------------------
UPLOAD_TYPES = ("image", "video", "audio")
UPLOAD_REQUEST_ITEM = {"extension": Field("string"), "type": Field("string", values=UPLOAD_TYPES)}
UPLOAD_REQUEST_ITEM_REQUIRED = ("extension", "type")
UPLOAD_URL_ITEM = {
    "upload_url": Field("string"),
    "file_path": Field("string"),  # "api-assets/..."
    "expires_at": Field("string"),
}
UPLOAD_FILE_PATH_PREFIX = "api-assets/"
UPLOAD_URLS_RESPONSE = {"items": Field("array", fields=UPLOAD_URL_ITEM)}  # "in request order"

# -- GET /v1/account -------------------------------------------------------------------------
# {"id": "...", "email": "...|null", "tier": "free|creator|pro|business", "credits": 12500,
#  "subscription": {...}|null}
ACCOUNT_FIELDS = {
    "id": Field("string"),
    "email": Field("string", nullable=True),
    "tier": Field("string", values=("free", "creator", "pro", "business")),
    "credits": Field("integer"),
    "subscription": Field("object", nullable=True),
}

# -- errors ----------------------------------------------------------------------------------
# "Every non-2xx answer has the body {"code": "...", "message": "..."}"
ERROR_BODY = {"code": Field("string"), "message": Field("string")}
ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: ("invalid_request",),
    401: ("unauthorized",),
    402: ("insufficient_credits", "subscription_required", "plan_upgrade_required"),
    404: ("not_found",),
    422: ("unprocessable_entity",),
    500: ("internal_server_error",),
}
# "The spec documents no 429, no 502/503/504 ... a real service behind proxies still sends
# them at times": statuses a client must expect, though the spec does not list them.
SENT_THOUGH_UNDOCUMENTED = (429, 502, 503, 504)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    success: int
    response: dict[str, Field] | None  # None: no body (204)
    # derived from the error table: 401 on every operation (each requires the key), 400 and
    # 422 where a JSON body is sent, 402 on the paid create, 404 on an id, 500 anywhere.
    errors: tuple[int, ...]
    body: dict[str, Field] | None = None
    body_required: tuple[str, ...] = ()
    path_id: bool = False
    required: tuple[str, ...] = field(default=())  # response keys always present


OPERATIONS = {
    CREATE: Operation(
        *CREATE,
        200,
        CREATED,
        (400, 401, 402, 422, 500),
        body=CREATE_REQUEST,
        body_required=CREATE_REQUIRED,
        required=tuple(CREATED),
    ),
    GET_PROJECT: Operation(
        *GET_PROJECT, 200, PROJECT, (401, 404, 500), path_id=True, required=tuple(PROJECT)
    ),
    DELETE_PROJECT: Operation(*DELETE_PROJECT, 204, None, (401, 404, 500), path_id=True),
    UPLOAD_URLS: Operation(
        *UPLOAD_URLS,
        200,
        UPLOAD_URLS_RESPONSE,
        (400, 401, 422, 500),
        body={"items": Field("array", fields=UPLOAD_REQUEST_ITEM)},
        body_required=("items",),
        required=("items",),
    ),
    # derived: the documented example shows every key, null where it may be
    ACCOUNT: Operation(*ACCOUNT, 200, ACCOUNT_FIELDS, (401, 500), required=tuple(ACCOUNT_FIELDS)),
}
DOCUMENTED_STATUSES = frozenset({op.success for op in OPERATIONS.values()} | set(ERROR_CODES))
ITEM_REQUIRED = {  # keys always present in each array item
    "downloads": tuple(DOWNLOAD),
    "items": tuple(UPLOAD_URL_ITEM),
}


# -- as OpenAPI, for Schemathesis ------------------------------------------------------------


def schema(spec: Field, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A documented field as an OpenAPI 3.0 schema object."""
    out: dict[str, Any] = {"type": spec.type}
    if spec.nullable:
        out["nullable"] = True
    if spec.values is not None:
        out["enum"] = [*spec.values, *([None] if spec.nullable else [])]
    if spec.const is not None:
        out["enum"] = [spec.const]
    if spec.format:
        out["format"] = spec.format
    if spec.min_length is not None:
        out["minLength"] = spec.min_length
    if spec.max_length is not None:
        out["maxLength"] = spec.max_length
    if spec.deprecated:
        out["deprecated"] = True
    if spec.fields is not None:
        shape = obj(spec.fields, required or tuple(spec.fields))
        if spec.type == "array":
            out["items"] = shape
        else:
            out.update(shape)
    return out


def obj(fields: dict[str, Field], required: tuple[str, ...]) -> dict[str, Any]:
    props = {}
    for name, spec in fields.items():
        inner = ITEM_REQUIRED.get(name, ())
        props[name] = schema(spec, inner)
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    return out


def _request_body(op: Operation) -> dict[str, Any]:
    assert op.body is not None
    body = obj(op.body, op.body_required)
    if op.path == CREATE[1]:
        body["properties"]["style"]["required"] = list(STYLE_REQUIRED)
    else:
        body["properties"]["items"]["minItems"] = 1
        body["properties"]["items"]["items"]["required"] = list(UPLOAD_REQUEST_ITEM_REQUIRED)
    return {"required": True, "content": {JSON: {"schema": body}}}


def openapi() -> dict[str, Any]:
    """The documented contract as an OpenAPI 3.0 document."""
    error = {
        "description": "an error",
        "content": {JSON: {"schema": obj(ERROR_BODY, tuple(ERROR_BODY))}},
    }
    paths: dict[str, Any] = {}
    for op in OPERATIONS.values():
        responses: dict[str, Any] = {str(status): error for status in op.errors}
        if op.response is None:
            responses[str(op.success)] = {"description": "done, no body"}
        else:
            shape = obj(op.response, op.required)
            responses[str(op.success)] = {"description": "OK", "content": {JSON: {"schema": shape}}}
        entry: dict[str, Any] = {"operationId": f"{op.method} {op.path}", "responses": responses}
        if op.body is not None:
            entry["requestBody"] = _request_body(op)
        if op.path_id:
            entry["parameters"] = [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.0.3",
        "info": {"title": "Magic Hour API, as documented", "version": "beta"},
        "servers": [{"url": BASE_URL}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
