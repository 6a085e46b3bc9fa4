"""One HTTP client for the tests' own requests to loopback servers.

``httpx.get`` builds a client per call, and each loads the CA bundle: about 40 ms of CPU, which
thousands of hook and stats requests would pay again and again.
"""

from __future__ import annotations

import httpx

HTTP = httpx.Client(timeout=30)
