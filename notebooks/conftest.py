"""nbval runs these notebooks on the sandbox, quickly and with no token from the environment."""

import os

os.environ.setdefault("MAGICGIF_SANDBOX_RENDER_SECONDS", "0.3")
os.environ.setdefault("MAGIC_HOUR_POLL_INTERVAL", "0.1")  # the sandbox's 0.3 s jobs, not 26 s
for name in ("MAGIC_HOUR_API_TOKEN", "MAGIC_HOUR_API_KEY", "API_TOKEN"):
    os.environ.pop(name, None)
