"""Checks made before a run folder is created: a run that cannot work fails in one line, not after minutes.

For an LLM proposer: the key variable is set (a local server needs none) and the endpoint answers one cheap
request, `GET {base_url}/models`, which costs no tokens. Any HTTP answer other than 401/403 counts as a
server that is there (some servers have no /models route); no answer, or a refused key, is an error.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlparse

from policyforge.errors import PolicyforgeError
from policyforge.search.proposers.llm.proposer import LOCAL_HOSTS

OPENAI_BASE_URL = "https://api.openai.com/v1"


def check_llm(llm: dict[str, Any], timeout: float = 10.0) -> None:
    """Refuse an LLM configuration whose key is missing or whose endpoint does not answer (PolicyforgeError)."""
    base_url = (llm.get("base_url") or OPENAI_BASE_URL).rstrip("/")
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise PolicyforgeError(f"--base-url {base_url!r}: not an http(s) URL (e.g. http://localhost:11434/v1)")
    variable = llm.get("api_key_env") or "OPENAI_API_KEY"
    key = os.environ.get(variable, "")
    if not key and parsed.hostname not in LOCAL_HOSTS:
        raise PolicyforgeError(f"environment variable {variable} is not set: export the API key for {base_url} "
                               "there, or name another variable with --api-key-env")
    request = urllib.request.Request(f"{base_url}/models", headers={"Authorization": f"Bearer {key or 'none'}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise PolicyforgeError(f"{base_url}: the server refused the key in {variable} "
                                   f"(HTTP {exc.code})") from None
        return  # the server is there; it just has no (open) /models route
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PolicyforgeError(f"{base_url}: no LLM server answers there ({reason}); check --base-url") from None
