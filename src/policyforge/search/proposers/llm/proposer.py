"""LLM proposer over OpenAI-compatible chat completions (OpenAI, vLLM, llama.cpp, Ollama, ...).

Every failure (missing key, HTTP error, timeout, a reply that does not parse or apply) comes back as a
Proposal with `error` set and never as an exception, so one bad call cannot stop a search. Retries are done
here rather than by the SDK so their policy is explicit and tested: 408/409/429/5xx, timeouts and connection
errors are retried with exponential backoff and jitter (a Retry-After header wins); each attempt is bounded
by `timeout`. The API key is read from the environment on every call and never stored or recorded.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import threading
import time
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urlparse

from policyforge.errors import PolicyforgeError
from policyforge.search.proposers.base import ParentInfo, Proposal
from policyforge.search.proposers.llm.diffs import code_from_reply
from policyforge.search.proposers.llm.prompts import (
    MODES,
    build_messages,
    edit_target,
    effective_mode,
    prompt_text,
)

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
LOCAL_DUMMY_KEY = "local-no-key"
MAX_RETRY_AFTER = 60.0
_ADAPTABLE = ("max_tokens", "temperature", "seed")


class LLMProposer:
    """Proposes candidates by asking a chat model; see the module docstring for the failure contract.

    `concurrency` caps calls in flight across threads (a slot is held through retries, so a rate-limited
    server is not hit harder); `seconds` in a Proposal excludes waiting for a slot. The worst case per call is
    (max_retries + 1) * timeout plus the backoff delays.
    `backoff_base`/`backoff_max` shape the retry delay: base * 2**attempt, capped, times a jitter in [0.5, 1].
    """

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 mode: Literal["full", "diff"] = "diff", temperature: float = 0.8, max_tokens: int = 4096,
                 timeout: float = 120, max_retries: int = 4, price_in_per_mtok: float = 0.0,
                 price_out_per_mtok: float = 0.0, concurrency: int = 4, backoff_base: float = 0.5,
                 backoff_max: float = 30.0) -> None:
        if importlib.util.find_spec("openai") is None:  # fail at construction, not on every proposal
            raise PolicyforgeError("the LLM proposer needs the openai package: pip install 'policyforge[llm]'")
        if mode not in MODES:
            raise PolicyforgeError(f"LLM proposer mode must be one of {', '.join(MODES)}, not {mode!r}")
        if concurrency < 1 or max_retries < 0 or timeout <= 0 or max_tokens < 1:
            raise PolicyforgeError("LLM proposer: concurrency and max_tokens must be >= 1, max_retries >= 0, "
                                   "timeout > 0")
        self.name = f"llm:{model}"
        self.model, self.base_url, self.api_key_env, self.mode = model, base_url, api_key_env, mode
        self.temperature, self.max_tokens = temperature, max_tokens
        self.timeout, self.max_retries = timeout, max_retries
        self.price_in_per_mtok, self.price_out_per_mtok = price_in_per_mtok, price_out_per_mtok
        self.concurrency, self.backoff_base, self.backoff_max = concurrency, backoff_base, backoff_max
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self._refused: set[str] = set()  # request parameters this server rejected (see _adapt)

    def __getstate__(self) -> dict[str, Any]:  # picklable: locks are recreated, not copied
        return {k: v for k, v in self.__dict__.items() if k not in ("_slots", "_lock", "_refused")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def propose(self, parents: list[ParentInfo], context: dict[str, Any], seed: int) -> Proposal:
        result = Proposal(code=None, proposer=self.name, parents=tuple(p.id for p in parents))
        key = ""
        try:
            mode = effective_mode(self.mode, parents)
            messages = build_messages(parents, context, mode)
            result = replace(result, prompt=prompt_text(messages))
            key = self._api_key()
            if not key:
                return replace(result, error=f"environment variable {self.api_key_env} is not set")
            with self._slots:
                start = time.monotonic()
                completion, error = self._complete(key, messages, seed)
                seconds = time.monotonic() - start
            if completion is None:
                return replace(result, error=_scrub(error, key), seconds=seconds)
            target = edit_target(parents) if mode == "diff" else None
            return _scrub_proposal(self._read(result, completion, target, seconds), key)
        except Exception as exc:  # the contract is "never raise": say what happened instead
            return replace(result, error=_scrub(_one_line(f"{type(exc).__name__}: {exc}"), key))

    # --- request ----------------------------------------------------------------------------------------

    def _api_key(self) -> str:
        """The key from the environment now; a dummy one for a local server that needs none."""
        key = os.environ.get(self.api_key_env, "")
        host = urlparse(self.base_url).hostname if self.base_url else None
        return key or (LOCAL_DUMMY_KEY if host in LOCAL_HOSTS else "")

    def _complete(self, key: str, messages: list[dict[str, str]], seed: int) -> tuple[Any, str]:
        """(completion, "") or (None, one-line error) after retries."""
        import openai

        attempt, error = 0, ""
        with openai.OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=0) as client:
            while True:
                hint: float | None = None
                try:
                    return client.chat.completions.create(**self._params(messages, seed)), ""
                except openai.APIStatusError as exc:
                    if exc.status_code in (400, 422) and self._adapt(str(exc)):
                        continue  # retried without the refused parameter; not counted as a failure
                    error = _one_line(str(exc))
                    retryable = exc.status_code in (408, 409, 429) or exc.status_code >= 500
                    hint = _retry_after(exc.response.headers)
                except openai.APITimeoutError:
                    error, retryable = f"no reply within the {self.timeout:g} s timeout", True
                except openai.APIConnectionError as exc:
                    error, retryable = _one_line(f"connection failed: {exc.__cause__ or exc}"), True
                except (openai.APIError, ValueError) as exc:  # e.g. a body that is not JSON
                    error, retryable = _one_line(f"unreadable response: {type(exc).__name__}: {exc}"), False
                if not retryable or attempt >= self.max_retries:
                    return None, error + (f" (after {attempt + 1} attempts)" if attempt else "")
                time.sleep(self._delay(attempt, hint))
                attempt += 1

    def _params(self, messages: list[dict[str, str]], seed: int) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "messages": messages}
        with self._lock:
            refused = set(self._refused)
        if "temperature" not in refused:
            params["temperature"] = self.temperature
        params["max_completion_tokens" if "max_tokens" in refused else "max_tokens"] = self.max_tokens
        if "seed" not in refused:  # non-negative 31-bit: some servers read -1 as "random" or want an int32
            params["seed"] = seed % 2**31
        return params

    def _adapt(self, message: str) -> bool:
        """A 400/422 naming `seed`, `temperature` or `max_tokens`: drop it (max_tokens becomes
        max_completion_tokens, as newer OpenAI models require). True when something changed."""
        named = {p for p in _ADAPTABLE if re.search(rf"\b{p}\b", message)}
        with self._lock:
            new = named - self._refused
            self._refused |= new
        return bool(new)

    def _delay(self, attempt: int, hint: float | None) -> float:
        if hint is not None:
            return min(hint, MAX_RETRY_AFTER)
        return min(self.backoff_max, self.backoff_base * 2 ** attempt) * random.uniform(0.5, 1.0)

    # --- reply ------------------------------------------------------------------------------------------

    def _read(self, result: Proposal, completion: Any, target: ParentInfo | None, seconds: float) -> Proposal:
        """Accounting from `usage` (0 when absent), then code from the reply (edits apply to `target`)."""
        usage = getattr(completion, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = (tokens_in * self.price_in_per_mtok + tokens_out * self.price_out_per_mtok) / 1e6
        result = replace(result, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost, seconds=seconds)
        if not completion.choices:
            return replace(result, error="the reply has no choices")
        choice = completion.choices[0]
        reply = choice.message.content or ""
        code, error = code_from_reply(reply, target.code if target is not None else None)
        if error and choice.finish_reason == "length":
            error += f" (reply cut at max_tokens={self.max_tokens})"
        return replace(result, code=code, raw_reply=reply, error=error)


def _retry_after(headers: Any) -> float | None:
    """Seconds from retry-after-ms or retry-after (numeric form only); None when absent or unreadable."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                continue
    return None


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scrub(text: str, key: str) -> str:
    return text.replace(key, "[redacted]") if key and text else text


def _scrub_proposal(p: Proposal, key: str) -> Proposal:
    """Belt and braces: a server could echo the key back; it must not reach logs or the archive."""
    if not key or not any(key in s for s in (p.raw_reply, p.error, p.code or "")):
        return p
    return replace(p, raw_reply=_scrub(p.raw_reply, key), error=_scrub(p.error, key),
                   code=_scrub(p.code, key) if p.code else p.code)
