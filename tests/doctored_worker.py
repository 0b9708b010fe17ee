"""A doctored sandbox worker for tests/test_judge.py: it reads the real request and answers with forgeries.

What it forges is chosen by a `# doctor: MODE` line in the candidate's code. It stands in for a candidate that
has taken over the whole child process: everything it prints is as untrusted as the candidate itself.
"""

from __future__ import annotations

import json
import os
import re
import sys


def main() -> int:
    request = json.loads(sys.stdin.buffer.read())
    mode = re.search(r"# doctor: (\S+)", request["code"]).group(1)
    ids = [i["id"] for i in request["instances"]]
    nonce = request["nonce"]
    if mode == "scores":  # the old protocol: claim a score directly
        result = {"status": "ok", "scores": {i: 1e9 for i in ids}, "metrics": {i: {} for i in ids}}
    elif mode == "wrong-instance":
        result = {"status": "ok", "decisions": {"someone/else": {}}}
    elif mode == "all-on-node-0":  # every pod bound to node 0, GPU 0
        result = {"status": "ok", "decisions": {i: _decisions(request, i, lambda n: (0, 1)) for i in ids}}
    elif mode == "refuse-all":  # every pod left unplaced, hoping a failure is never checked
        result = {"status": "ok", "decisions": {i: _decisions(request, i, lambda n: (-1, 0)) for i in ids}}
    elif mode.startswith("cache-"):
        result = {"status": "ok", "decisions": {i: _cache(request, i, mode) for i in ids}}
    elif mode in ("honest", "two-lines", "exit-1", "nan"):
        result = {"status": "ok", "decisions": {i: _honest(request, i) for i in ids}}
    else:
        raise SystemExit(f"unknown doctor mode {mode}")
    if mode == "nan":
        result = json.loads(json.dumps(result).replace('"gpu_mask"', '"gpu_mask_x"'))
    line = f"\n{nonce} {json.dumps(result)}\n"
    if mode == "two-lines":
        line += f"{nonce} " + json.dumps({"status": "ok", "scores": {i: 1e9 for i in ids}}) + "\n"
    os.write(1, line.encode())
    return 1 if mode == "exit-1" else 0


def _instance(request: dict, instance_id: str):
    from policyforge.contract import Instance

    return Instance(**next(i for i in request["instances"] if i["id"] == instance_id))


def _honest(request: dict, instance_id: str) -> dict:
    """The decisions BestFit really makes (what an honest child would send)."""
    from policyforge.tasks.k8s_gpu.policy import baseline_path
    from policyforge.tasks.registry import get_task
    from policyforge.toolkit.policy_files import import_policy_file
    from policyforge.wire import encode

    task = get_task(request["task"], **request["task_options"])
    module, _ = import_policy_file(baseline_path("bestfit"), "doctored")
    return encode(task.run(module, _instance(request, instance_id)))


def _cache(request: dict, instance_id: str, mode: str) -> dict:
    """LRU's true victims on a cache instance, forged as `mode` says."""
    import numpy as np

    from policyforge.tasks.registry import get_task
    from policyforge.wire import encode

    task = get_task(request["task"], **request["task_options"])
    victims = task.run(_lru(), _instance(request, instance_id))["victims"]
    if mode == "cache-extra":  # evicts one object more than the mechanism needs (it is evicted again later)
        victims = np.concatenate([victims[:100], victims[99:]])
    claims = {"miss_ratio": 0.0, "byte_miss_ratio": 0.0, "score": 1e9} if mode == "cache-claims" else {}
    return encode({"victims": victims, **claims})


def _lru():
    import types

    module = types.ModuleType("doctored_lru")
    module.score = lambda objs, stats: objs.last_access
    return module


def _decisions(request: dict, instance_id: str, choose) -> dict:
    """Decisions of the right length (as many as pods arrive), each from `choose(index)`."""
    import numpy as np

    from policyforge.wire import encode

    n = len(_honest_columns(request, instance_id))
    node, mask = zip(*(choose(k) for k in range(n)), strict=True)
    return encode({"node": np.array(node, np.int32), "gpu_mask": np.array(mask, np.uint64)})


def _honest_columns(request: dict, instance_id: str):
    from policyforge.wire import decode

    return decode(_honest(request, instance_id))["node"]


if __name__ == "__main__":
    sys.exit(main())
