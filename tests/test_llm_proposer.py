"""The LLM proposer against a real local chat-completions server, plus its prompt and diff helpers.

Every failure mode must come back as a Proposal with an error (never an exception, never a hang), and the
API key must reach the Authorization header only.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
import time
from pathlib import Path

import pytest
from chat_server import ChatServer, hang, malformed, reply, status

from policyforge.search.proposers.base import ParentInfo, Proposal
from policyforge.search.proposers.llm.diffs import apply_blocks, code_from_reply, extract_code, parse_blocks
from policyforge.search.proposers.llm.prompts import build_messages, prompt_text
from policyforge.search.proposers.llm.proposer import LOCAL_DUMMY_KEY, LLMProposer
from policyforge.tasks.k8s_gpu.interface import K8S_GPU_POLICY

KEY_ENV = "PF_TEST_LLM_KEY"
SECRET = "sk-test-0123456789-secret"
POLICIES = Path(__file__).parent.parent / "src" / "policyforge" / "tasks" / "k8s_gpu" / "policies"

PARENT_CODE = '''import numpy as np


def score(pod, nodes, cluster):
    # prefer fuller nodes
    free = nodes.gpu_free_total
    return -free.astype(float)
'''
GOOD_POLICY = '''import numpy as np
from policyforge.tasks.k8s_gpu.features import fragmentation, fragmentation_after


def score(pod, nodes, cluster):
    gain = fragmentation(nodes, cluster) - fragmentation_after(pod, nodes, cluster)
    return gain - 0.01 * nodes.gpu_free_total
'''


def fenced(code: str, tag: str = "python") -> str:
    return f"Here is a better policy.\n\n```{tag}\n{code}```\n"


@pytest.fixture()
def server():
    pytest.importorskip("openai")  # the `llm` extra; the prompt and diff tests below run without it
    s = ChatServer().start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


@pytest.fixture()
def parent() -> ParentInfo:
    return ParentInfo(id=7, code=PARENT_CODE, score=91.25, scores={"default/42": 91.0, "default/43": 91.5},
                      feedback="fragmentation at 100%: 7.2% (fgd 5.1%)", status="ok")


@pytest.fixture()
def context() -> dict:
    return {"task": "k8s-gpu", "interface": K8S_GPU_POLICY.render_markdown(),
            "objective": "GPU allocation (%) when the arrived GPU request reaches 100% of capacity.",
            "baselines": {"fgd": 95.2, "bestfit": 92.9}}


def make(server: ChatServer, **kw) -> LLMProposer:
    kw = {"mode": "full", "timeout": 5, "max_retries": 2, "backoff_base": 0.05, "api_key_env": KEY_ENV, **kw}
    return LLMProposer("test-model", base_url=server.base_url, **kw)


def assert_no_secret(p: Proposal) -> None:
    for value in dataclasses.asdict(p).values():
        assert SECRET not in str(value)


# --- the proposer over HTTP --------------------------------------------------------------------------------

def test_full_mode_extracts_code_and_sends_prompt_key_and_seed(server, parent, context):
    server.script(reply(fenced(GOOD_POLICY), prompt_tokens=1200, completion_tokens=300))
    p = make(server, temperature=0.3, max_tokens=777).propose([parent], context, seed=1234)
    assert p.error == "" and p.code == GOOD_POLICY
    assert p.proposer == "llm:test-model" and p.parents == (7,)
    assert p.raw_reply == fenced(GOOD_POLICY) and p.seconds > 0
    (req,) = server.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {SECRET}"
    body = req.body
    assert (body["model"], body["seed"], body["temperature"], body["max_tokens"]) == ("test-model", 1234, 0.3, 777)
    user = body["messages"][-1]["content"]
    assert K8S_GPU_POLICY.render_markdown().strip() in user
    assert PARENT_CODE.strip() in user and parent.feedback in user
    assert "default/42" in user and "fgd" in user and "```python block" in user
    assert p.prompt.endswith(user) and "[system]" in p.prompt
    assert_no_secret(p)


def test_unparseable_code_is_returned_but_a_reply_without_code_is_an_error(server, context):
    broken = "def score(pod, nodes, cluster)\n    return nodes.cpu_free +\n"
    server.script(reply(fenced(broken)), reply("I cannot help with that."), reply(None))
    proposer = make(server)
    assert proposer.propose([], context, 1).code == broken  # the sandbox judges syntax
    no_code = proposer.propose([], context, 2)
    assert no_code.code is None and "no Python code" in no_code.error and no_code.raw_reply.startswith("I cannot")
    empty = proposer.propose([], context, 3)
    assert empty.code is None and empty.error == "empty reply"


def test_a_diff_that_applies_gives_the_edited_parent(server, parent, context):
    edit = ("Weigh CPU as well.\n<<<<<<< SEARCH\n    free = nodes.gpu_free_total\n    return -free.astype(float)\n"
            "=======\n    free = nodes.gpu_free_total + nodes.cpu_free / 100\n    return -free\n>>>>>>> REPLACE\n")
    server.script(reply(edit))
    p = make(server, mode="diff").propose([parent], context, 5)
    assert p.error == ""
    assert p.code == PARENT_CODE.replace("gpu_free_total\n    return -free.astype(float)",
                                         "gpu_free_total + nodes.cpu_free / 100\n    return -free")
    user = server.requests[0].body["messages"][-1]["content"]
    assert "<<<<<<< SEARCH" in user and "Program #7 (the program to edit)" in user


def test_a_diff_that_does_not_apply_is_an_error_with_the_reply_kept(server, parent, context):
    edit = "<<<<<<< SEARCH\n    return nodes.memory_free\n=======\n    return nodes.cpu_free\n>>>>>>> REPLACE\n"
    server.script(reply(edit))
    p = make(server, mode="diff").propose([parent], context, 5)
    assert p.code is None and "edit block 1 matches nothing" in p.error and p.raw_reply == edit
    assert "\n" not in p.error


def test_diff_mode_without_a_parent_asks_for_a_whole_module(server, context):
    server.script(reply(fenced(GOOD_POLICY)))
    p = make(server, mode="diff").propose([], context, 5)
    assert p.code == GOOD_POLICY
    assert "SEARCH" not in server.requests[0].body["messages"][-1]["content"]


def test_429_then_success_is_retried(server, context):
    server.script(status(429, "slow down", retry_after=0), reply(fenced(GOOD_POLICY)))
    p = make(server).propose([], context, 1)
    assert p.error == "" and p.code == GOOD_POLICY and len(server.requests) == 2


def test_500_then_success_is_retried_with_backoff(server, context):
    server.script(status(500, "boom"), reply(fenced(GOOD_POLICY)))
    p = make(server).propose([], context, 1)
    assert p.error == "" and p.code == GOOD_POLICY and len(server.requests) == 2


def test_retries_are_bounded_and_client_errors_are_not_retried(server, context):
    server.script(status(503), status(503), status(503), status(401, "bad key"))
    p = make(server, max_retries=2).propose([], context, 1)
    assert p.code is None and "503" in p.error and "after 3 attempts" in p.error and len(server.requests) == 3
    p = make(server, max_retries=2).propose([], context, 1)
    assert p.code is None and "401" in p.error and len(server.requests) == 4
    assert_no_secret(p)


def test_a_hanging_request_ends_at_the_timeout(server, context):
    server.script(hang(20))
    start = time.monotonic()
    p = make(server, timeout=1, max_retries=0).propose([], context, 1)
    elapsed = time.monotonic() - start
    assert p.code is None and "timeout" in p.error and 0.9 <= elapsed < 3


def test_a_timeout_is_retried(server, context):
    server.script(hang(20), reply(fenced(GOOD_POLICY)))
    p = make(server, timeout=1, max_retries=1).propose([], context, 1)
    assert p.code == GOOD_POLICY and len(server.requests) == 2


def test_a_malformed_body_is_an_error_not_an_exception(server, context):
    server.script(malformed())
    p = make(server).propose([], context, 1)
    assert p.code is None and "unreadable response" in p.error and len(server.requests) == 1


def test_unsafe_code_is_passed_through_for_the_sandbox_to_judge(server, context):
    unsafe = ('import os\nimport socket\n\n\ndef score(pod, nodes, cluster):\n    os.environ.get("HOME")\n'
              '    socket.create_connection(("example.com", 80))\n    return nodes.cpu_free\n')
    server.script(reply(fenced(unsafe)))
    assert make(server).propose([], context, 1).code == unsafe


def test_token_and_cost_accounting(server, context):
    server.script(reply(fenced(GOOD_POLICY), prompt_tokens=1000, completion_tokens=500),
                  reply(fenced(GOOD_POLICY), usage=False))
    proposer = make(server, price_in_per_mtok=2.0, price_out_per_mtok=8.0)
    p = proposer.propose([], context, 1)
    assert (p.tokens_in, p.tokens_out) == (1000, 500) and p.cost_usd == pytest.approx(0.006)
    p = proposer.propose([], context, 2)
    assert (p.tokens_in, p.tokens_out, p.cost_usd) == (0, 0, 0.0) and p.code == GOOD_POLICY


def test_concurrency_limit_is_honoured(server, context):
    server.script(*[reply(fenced(GOOD_POLICY), delay=0.3) for _ in range(6)])
    proposer = make(server, concurrency=2)
    results: list[Proposal] = []
    threads = [threading.Thread(target=lambda s=s: results.append(proposer.propose([], context, s))) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 6 and all(r.code == GOOD_POLICY for r in results)
    assert server.max_in_flight == 2


def test_missing_key_for_a_remote_server_is_an_error_without_a_request(server, context, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    remote = LLMProposer("m", base_url="https://api.example.invalid/v1", api_key_env=KEY_ENV)
    p = remote.propose([], context, 1)
    assert p.code is None and p.error == f"environment variable {KEY_ENV} is not set"
    server.script(reply(fenced(GOOD_POLICY)))
    assert make(server).propose([], context, 1).code == GOOD_POLICY  # local: a dummy key is fine
    assert server.requests[0].headers["authorization"] == f"Bearer {LOCAL_DUMMY_KEY}"


def test_a_server_refusing_seed_is_asked_again_without_it(server, context):
    server.script(status(400, "Unrecognized request argument supplied: seed"), reply(fenced(GOOD_POLICY)),
                  reply(fenced(GOOD_POLICY)))
    proposer = make(server)
    assert proposer.propose([], context, 1).code == GOOD_POLICY
    assert proposer.propose([], context, 2).code == GOOD_POLICY
    assert ["seed" in r.body for r in server.requests] == [True, False, False]


def test_an_echoed_key_is_redacted(server, context):
    server.script(reply(f"my key is {SECRET}\n" + fenced(GOOD_POLICY)))
    p = make(server).propose([], context, 1)
    assert p.code == GOOD_POLICY and "[redacted]" in p.raw_reply
    assert_no_secret(p)


def test_the_proposer_pickles_without_its_locks():
    pytest.importorskip("openai")
    proposer = pickle.loads(pickle.dumps(LLMProposer("m", base_url="http://127.0.0.1:1/v1", concurrency=3)))
    assert proposer.name == "llm:m" and proposer._slots._value == 3


# --- prompts ------------------------------------------------------------------------------------------------

def test_prompts_are_deterministic_and_compact(context):
    ids = [f"default/{s}" for s in range(42, 52)]
    context = {**context, "baselines": {"fgd": {i: 95.0 + 0.1 * (n % 3) for n, i in enumerate(ids)},
                                        "bestfit": {i: 92.9 for i in ids}, "random": 86.2}}
    parents = [ParentInfo(i, (POLICIES / name).read_text(), 91.0 + i, {x: 90.0 + i for x in ids},
                          "failed pods: 120; fragmentation at 100%: 7.2%\n" * 40, "ok")
               for i, name in ((1, "packing.py"), (2, "clustering.py"))]
    for mode in ("full", "diff"):
        texts = {prompt_text(build_messages(list(parents), dict(context), mode)) for _ in range(3)}
        assert len(texts) == 1
        text = texts.pop()
        assert len(text) / 4 < 4000, len(text)  # ~4 characters per token
        assert "beats the best baseline on 0 of 10" in text and "(2 more instances not shown)" in text
    diff = prompt_text(build_messages(parents, context, "diff"))
    assert "Program #2 (the program to edit)" in diff  # the best-scoring parent is edited


def test_a_failed_parent_shows_its_status_and_reason(context):
    bad = ParentInfo(3, PARENT_CODE, None, status="crashed", reason="ValueError: operands could not be broadcast")
    text = build_messages([bad], context, "full")[1]["content"]
    assert "Status: crashed; score: n/a" in text and "operands could not be broadcast" in text
    assert "Fix the error reported above." in text


# --- reply parsing and edits ---------------------------------------------------------------------------------

def test_extract_code_tolerates_a_missing_tag_and_prefers_the_last_substantial_block():
    assert extract_code("```\nx = 1\n```") == "x = 1\n"
    draft, final = "def score(a, b, c):\n    return 1\n", "def score(a, b, c):\n    return 2 * b.cpu_free\n"
    usage = "score(p, n, c)"
    assert extract_code(f"```python\n{draft}```\n```python\n{final}```\n```python\n{usage}\n```") == final
    assert extract_code("```json\n{}\n```") is None
    assert extract_code(final) == final  # unfenced but valid Python with a function
    assert extract_code("Sure! def is a keyword.") is None


def test_whitespace_tolerant_matching_reindents_the_replacement():
    code = "def score(pod, nodes, cluster):\n    x = nodes.cpu_free   \n    return x\n"
    blocks, error = parse_blocks("<<<<<<< SEARCH\nx = nodes.cpu_free\nreturn x\n\n=======\n"
                                 "x = nodes.cpu_free * 2\nreturn x\n>>>>>>> REPLACE")
    assert error == ""
    new, error = apply_blocks(code, blocks)
    assert error == "" and new == "def score(pod, nodes, cluster):\n    x = nodes.cpu_free * 2\n    return x\n"


def test_tab_indented_edits_keep_the_parents_spaces():
    code = "def score(p, n, c):\n    if p.num_gpu:\n        x = 1\n    return x\n"
    edit = "<<<<<<< SEARCH\n\tif p.num_gpu:\n\t\tx = 1\n=======\n\tif p.num_gpu > 1:\n\t\tx = 2\n>>>>>>> REPLACE"
    assert code_from_reply(edit, code) == (code.replace("num_gpu:", "num_gpu > 1:").replace("1\n", "2\n"), "")


@pytest.mark.parametrize(("reply_text", "reason"), [
    ("<<<<<<< SEARCH\n    return x\n=======\n    return 0\n>>>>>>> REPLACE", "matches 2 places"),
    ("<<<<<<< SEARCH\n    return x\n=======\n    return 0\n", "incomplete"),
    ("<<<<<<< SEARCH\n\n=======\n    return 0\n>>>>>>> REPLACE", "empty SEARCH"),
    ("<<<<<<< SEARCH\n    return x\n    y = 1\n=======\n    return 0\n>>>>>>> REPLACE", "matches nothing"),
    ("<<<<<<< SEARCH\ndef f():\n=======\ndef f():\n>>>>>>> REPLACE", "unchanged"),
    ("I would rather not.", "no SEARCH/REPLACE blocks"),
    ("", "empty reply"),
])
def test_bad_edits_are_one_line_errors(reply_text, reason):
    code = "def f():\n    return x\n\n\ndef g():\n    return x\n"
    new, error = code_from_reply(reply_text, code)
    assert new is None and reason in error and "\n" not in error


def test_a_diff_reply_with_a_whole_module_is_taken_as_a_rewrite():
    new, error = code_from_reply(fenced(GOOD_POLICY), PARENT_CODE)
    assert (new, error) == (GOOD_POLICY, "")
