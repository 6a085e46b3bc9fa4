"""The Magic Hour API's facts, in one place: formats, limits, statuses, costs and error codes.

The client checks requests against these, the emulator serves them, and the widget sends the
front end the ones it shows. Nothing else spells them out.
"""

from __future__ import annotations

from typing import Final

# -- POST /v1/ai-gif-generator ---------------------------------------------------------------
CREATE_PATH: Final = "/v1/ai-gif-generator"
PROJECT_PATH: Final = "/v1/image-projects/{id}"
UPLOAD_URLS_PATH: Final = "/v1/files/upload-urls"
ACCOUNT_PATH: Final = "/v1/account"

PROMPT_MAX_CHARS: Final = 500
NAME_MAX_CHARS: Final = 1000  # the spec sets none; ours keeps names printable on one screen
OUTPUT_FORMATS: Final = ("gif", "mp4", "webm")
DEFAULT_FORMAT: Final = "gif"
MEDIA_TYPES: Final = {"gif": "image/gif", "mp4": "video/mp4", "webm": "video/webm"}
UPLOAD_TYPES: Final = ("image", "video", "audio")
CREDITS_PER_GIF: Final = 50  # charged at create, refunded when the render fails
PROJECT_TYPE: Final = "AI_GIF"
ACCOUNT_TIERS: Final = ("free", "creator", "pro", "business")  # GET /v1/account's ``tier``

# -- GET /v1/image-projects/{id} -------------------------------------------------------------
STATUSES: Final = ("draft", "queued", "rendering", "complete", "error", "canceled")
FINAL_STATUSES: Final = frozenset({"complete", "error", "canceled"})
ACTIVE_STATUSES: Final = frozenset({"draft", "queued", "rendering"})

# Magic Hour's processing-times page: POST /v1/ai-gif-generator takes 26 s at the median
# (179 API jobs, creation to completion, queueing included; "directional, not an SLA").
VENDOR_MEDIAN_SECONDS: Final = 26.0
# The integration guide: "images, check every 2-3 seconds"; the vendor's Go CLI polls every 2 s.
VENDOR_POLL_SECONDS: Final = 2.0

# -- errors ----------------------------------------------------------------------------------
# Every non-2xx answer: {"code": ..., "message": ...}; the errors page shows bodies with only
# "message", so code is optional.
HTTP_ERROR_CODES: Final = {
    400: ("invalid_request", "fix the request"),
    401: ("unauthorized", "provide a valid API key"),
    404: ("not_found", "unknown route or id"),
    422: ("unprocessable_entity", "change the request values"),
    500: ("internal_server_error", "retry later"),
}
PAYMENT_CODES: Final = {  # all 402
    "insufficient_credits": "buy credits",
    "subscription_required": "start a subscription",
    "plan_upgrade_required": "upgrade the plan",
}
BAD_GATEWAY_WAIT: Final = 30.0  # seconds: "502: retry after 30-60 s" (the errors page)
# What the errors page says to do about a server error (the spec itself documents only 500).
SERVER_ERROR_ADVICE: Final = {
    500: "retry after a few seconds",
    502: "Magic Hour is temporarily unavailable; retry after 30-60 s",
    503: "Magic Hour is overloaded; retry later, backing off",
}

# A failed job's error.code, and what a person should be told (credits are refunded).
JOB_ERRORS: Final = {
    "content_policy_violation": (
        "the prompt breaks Magic Hour's content rules; reword it and try again"
    ),
    "processing_timeout": "Magic Hour took too long to render this one; try again",
    "insufficient_credits": "the account ran out of credits before this job could render",
    "invalid_parameters": "Magic Hour refused the job's settings; check the prompt and format",
    "invalid_file_format": "an input file has a format Magic Hour cannot read",
    "file_too_large": "an input file is larger than Magic Hour accepts",
    "no_source_face": "no face was found in the input image",
}
JOB_ERROR_FALLBACK: Final = "Magic Hour could not render this job"


def job_error_line(code: str | None) -> str:
    """The friendly sentence for a failed job's ``error.code``; a safe general one if unknown."""
    return JOB_ERRORS.get(code or "", JOB_ERROR_FALLBACK)
