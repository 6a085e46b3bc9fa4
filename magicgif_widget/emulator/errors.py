"""The emulator's refusals as the contract's JSON ``{"code", "message"}``, with 404, 405 and
500 answered in that shape too (the traceback of a 500 goes to the log, not the body)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status, headers=headers)


def crash(request: Request, exc: Exception) -> Response:
    """A JSON 500, as the contract shapes every error; the traceback goes to the log."""
    return error(500, "internal_server_error", "the emulator failed; see its log")


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404s and 405s (with ``Allow``) and other HTTP errors, as JSON."""
    if not isinstance(exc, HTTPException):  # Starlette routes only HTTPException here
        return crash(request, exc)
    if exc.status_code == 404:
        return error(404, "not_found", f"no route for {request.method} {request.url.path}")
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return error(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}",
            {"allow": allowed} if allowed else None,
        )
    return error(exc.status_code, "invalid_request", str(exc.detail))
