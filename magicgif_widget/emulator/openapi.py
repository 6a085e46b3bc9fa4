"""The emulator's OpenAPI 3.0 description of the contract's routes, served at ``/openapi.json``.

It describes what the emulator does (the shared contract, as measured), so Schemathesis can
check the emulator against it. Test hooks under ``/emulator/`` are not part of it.
"""

from __future__ import annotations

from typing import Any

from ..contract import ACCOUNT_TIERS, OUTPUT_FORMATS, PROMPT_MAX_CHARS, STATUSES, UPLOAD_TYPES


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


COMMON = {
    "401": _error("missing or invalid API key"),
    "500": _error("internal server error; retry later"),
    "429": _error("rate limited; Retry-After says when to try again"),
}
PROJECT_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}

PROJECT_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "status": {"type": "string", "enum": list(STATUSES)},
    "type": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "enabled": {"type": "boolean"},
    "image_count": {"type": "integer", "minimum": 0},
    "credits_charged": {"type": "integer", "minimum": 0},
    "total_frame_cost": {"type": "integer", "minimum": 0},
    "downloads": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["url", "expires_at"],
            "properties": {
                "url": {"type": "string", "format": "uri"},
                "expires_at": {"type": "string", "format": "date-time"},
            },
        },
    },
    "error": {
        "nullable": True,
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "Magic Hour AI GIF API (magicgif-widget emulator)",
        "version": "1.0.0",
        "description": "The routes of Magic Hour's API that magicgif-widget uses, as the "
        "emulator implements them. Jobs are charged when created.",
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/ai-gif-generator": {
            "post": {
                "operationId": "createAiGif",
                "summary": "Start an AI GIF job (costs credits)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Create"}}
                    },
                },
                "responses": {
                    "200": _json("Created"),
                    "400": _error("the body is not JSON"),
                    "402": _error("not enough credits"),
                    "422": _error("the body breaks the contract"),
                    **COMMON,
                },
            }
        },
        "/v1/image-projects/{id}": {
            "parameters": [PROJECT_ID],
            "get": {
                "operationId": "getImageProject",
                "summary": "A project's status and, once complete, its signed download URLs",
                "responses": {"200": _json("Project"), "404": _error("no such project"), **COMMON},
            },
            "delete": {
                "operationId": "deleteImageProject",
                "summary": "Delete a project and its outputs for good",
                "responses": {
                    "204": {"description": "deleted"},
                    "404": _error("no such project (or already deleted)"),
                    **COMMON,
                },
            },
        },
        "/v1/files/upload-urls": {
            "post": {
                "operationId": "createUploadUrls",
                "summary": "Signed URLs to PUT assets to, in request order",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/UploadUrlsRequest"}
                        }
                    },
                },
                "responses": {
                    "200": _json("UploadUrls"),
                    "400": _error("the body is not JSON"),
                    "422": _error("items must be a non-empty list of {extension, type}"),
                    **COMMON,
                },
            }
        },
        "/v1/account": {
            "get": {
                "operationId": "getAccount",
                "summary": "The account behind the key and its credits",
                "responses": {"200": _json("Account"), **COMMON},
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "Create": {
                "type": "object",
                "required": ["style"],
                "properties": {
                    "style": {
                        "type": "object",
                        "required": ["prompt"],
                        "properties": {
                            "prompt": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": PROMPT_MAX_CHARS,
                            }
                        },
                    },
                    # unset keys are omitted; the contract sets no length limit on names
                    "name": {"type": "string"},
                    "output_format": {"type": "string", "enum": list(OUTPUT_FORMATS)},
                },
            },
            "Created": {
                "type": "object",
                "required": ["id", "credits_charged", "frame_cost"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "credits_charged": {"type": "integer", "minimum": 0},
                    "frame_cost": {"type": "integer", "minimum": 0, "deprecated": True},
                },
            },
            "Project": {
                "type": "object",
                "required": list(PROJECT_PROPERTIES),  # every key is present, some null
                "properties": PROJECT_PROPERTIES,
            },
            "UploadUrlsRequest": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["extension", "type"],
                            "properties": {
                                "extension": {"type": "string", "pattern": "^[A-Za-z0-9]+$"},
                                "type": {"type": "string", "enum": list(UPLOAD_TYPES)},
                            },
                        },
                    }
                },
            },
            "UploadUrls": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["upload_url", "file_path", "expires_at"],
                            "properties": {
                                "upload_url": {"type": "string", "format": "uri"},
                                "file_path": {"type": "string"},
                                "expires_at": {"type": "string", "format": "date-time"},
                            },
                        },
                    }
                },
            },
            "Account": {
                "type": "object",
                "required": ["id", "email", "tier", "credits", "subscription"],
                "properties": {
                    "id": {"type": "string"},
                    "email": {"type": "string", "nullable": True},
                    "tier": {"type": "string", "enum": list(ACCOUNT_TIERS)},
                    "credits": {"type": "integer"},
                    "subscription": {"type": "object", "nullable": True},
                },
            },
        },
    },
}
