"""Proxy instances (multi-fidelity screening): every task's are train-split stand-ins of its train instances,
one each, in the same group under an id of their own, and cheaper by construction: fewer pods on a sampled
cluster, a shorter window, a shorter scenario, fewer items. A policy's decisions on a proxy replay in the
trusted half as on any instance. Sizes are asserted, never timings."""

from __future__ import annotations

import json
import math
import types
from pathlib import Path

import numpy as np
import pytest
from cache_data import CACHE_DATA

from policyforge.contract import Instance, Task
from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.simulate import sample_cluster, sample_pods
from policyforge.tasks.k8s_gpu.task import _inputs, _proxy_inputs
from policyforge.tasks.k8s_gpu.workload import target_workload
from policyforge.tasks.registry import get_task

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "tests" / "data" / "tiny_cluster.yaml")
BINPACKING = f"{ROOT / 'examples' / 'binpacking' / 'task.py'}:OnlineBinPacking"
SMALL_CACHE = {"window": 8_000, "train_windows": [0, 20_000], "validation_windows": [40_000],
               "test_windows": [60_000], "modes": ["bytes", "objects"], "fractions": [0.1], "cloudphysics": False}


def _task(name: str, tmp_path: Path) -> Task:
    if name == "k8s-gpu":
        return get_task("k8s-gpu", workload=TINY)
    if name == "pipelines":
        return get_task("pipelines")
    if name == "pipelines-params":
        params = tmp_path / "short.toml"
        params.write_text("duration = 40\nnum_pipelines = 6\nnum_pools = 2\nwaiting_seconds_mean = 2.0\n")
        return get_task("pipelines", params=str(params))
    if name == "cache":
        if not (CACHE_DATA / "twitter_cluster52_10m.csv.zst").exists():
            pytest.skip("cache trace not fetched (policyforge data fetch cache)")
        return get_task("cache", **SMALL_CACHE, data_dir=str(CACHE_DATA))
    return get_task(BINPACKING)


def _baseline(task: Task, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(task.baselines()[name].read_text(), name, "exec"), module.__dict__)
    return module


def _pairs(task: Task) -> list[tuple[Instance, Instance]]:
    """(proxy, the train instance it stands for): one proxy per train instance, in order."""
    train = [i for i in task.instances() if i.split == "train"]
    proxies = list(task.search_hints().proxy_instances)
    assert len(proxies) == len(train)
    return list(zip(proxies, train, strict=True))


@pytest.mark.parametrize("name", ["k8s-gpu", "pipelines", "pipelines-params", "cache", "binpacking"])
def test_proxies_are_train_stand_ins_with_ids_of_their_own(name, tmp_path):
    task = _task(name, tmp_path)
    ids = [i.id for i in task.instances()]
    proxies = list(task.search_hints().proxy_instances)
    assert proxies and all(p.split == "train" for p in proxies)
    assert len({p.id for p in proxies}) == len(proxies) and not {p.id for p in proxies} & set(ids)
    for proxy, full in _pairs(task):
        assert proxy.group == full.group and proxy.id == f"{full.id}@proxy"
        assert 0 < proxy.params["scale"] < 1
    again = get_task(task.name if name != "binpacking" else BINPACKING, **json.loads(json.dumps(task.options())))
    assert list(again.search_hints().proxy_instances) == proxies  # rebuilt from its options (the sandbox, the judge): the same


@pytest.mark.parametrize("name", ["k8s-gpu", "pipelines", "cache"])
def test_proxy_scale_zero_turns_them_off_and_a_bad_one_is_refused(name, tmp_path):
    task = _task(name, tmp_path)
    ref = task.name
    options = task.options()
    assert list(get_task(ref, **{**options, "proxy_scale": 0}).search_hints().proxy_instances) == []
    with pytest.raises(PolicyforgeError, match="proxy_scale"):
        get_task(ref, **{**options, "proxy_scale": 1.5})


def test_k8s_proxy_samples_every_node_type_and_the_pods_but_keeps_the_full_target_workload():
    full = _inputs(TINY, get_task("k8s-gpu", workload=TINY).data_dir, None)
    nodes = sample_cluster(full.nodes, 0.1)
    types_of = lambda t: set(zip(t.gpu_model.tolist(), t.gpu_count.tolist(), t.cpu_milli.tolist(),  # noqa: E731
                                 t.memory_mib.tolist(), strict=True))
    assert types_of(nodes) == types_of(full.nodes) and len(nodes) < len(full.nodes)
    assert set(nodes.names) <= set(full.nodes.names)
    first = {}  # each type keeps its first nodes in list order
    for i, key in enumerate(zip(full.nodes.gpu_model.tolist(), full.nodes.gpu_count.tolist(), strict=True)):
        first.setdefault(key, full.nodes.names[i])
    assert set(first.values()) <= set(nodes.names)
    assert len(sample_cluster(full.nodes, 0.5)) > len(nodes)
    pods = sample_pods(full.pods, 0.1)
    assert len(pods) == round(0.1 * len(full.pods)) and set(pods.names) <= set(full.pods.names)
    sampled_nodes, sampled_pods, target = _proxy_inputs(TINY, get_task("k8s-gpu", workload=TINY).data_dir, None, 0.1)
    assert len(sampled_nodes) == len(nodes) and sampled_pods.names == pods.names
    expected = target_workload(full.pods)
    assert np.array_equal(target.probability, expected.probability)
    assert np.array_equal(target.gpu_milli, expected.gpu_milli)


def test_k8s_proxy_round_trips_a_baseline_with_fewer_pods():
    task = get_task("k8s-gpu", workload=TINY)
    proxy, full = _pairs(task)[0]
    decisions = task.run(_baseline(task, "fgd"), proxy)
    arrived = len(decisions["node"])
    assert arrived < len(task.run(_baseline(task, "fgd"), full)["node"])
    evaluation = task.score(proxy, decisions)
    assert math.isfinite(evaluation.score) and 0 < evaluation.score <= 100
    assert task.replay(proxy, decisions).node.tolist() == decisions["node"].tolist()
    with pytest.raises(Exception, match="decisions for"):  # the full instance's arrivals are not the proxy's
        task.score(full, decisions)


@pytest.mark.parametrize("name", ["pipelines", "pipelines-params"])
def test_pipelines_proxy_is_the_first_part_of_the_scenario(name, tmp_path):
    from policyforge.tasks.pipelines.task import instance_inputs

    task = _task(name, tmp_path)
    proxy, full = _pairs(task)[0]
    short, short_config, *_ = instance_inputs(proxy)
    whole, config, *_ = instance_inputs(full)
    assert short_config.max_ticks == round(config.max_ticks * proxy.params["scale"])
    assert 0 < len(short.pipelines) < len(whole.pipelines)
    assert short.pipelines == whole.pipelines[: len(short.pipelines)]  # same arrivals, stopped earlier
    evaluation = task.score(proxy, task.run(_baseline(task, "sized"), proxy))
    assert math.isfinite(evaluation.score)


def test_cache_proxy_is_the_first_part_of_the_window_with_the_cache_sized_to_it(tmp_path):
    task = _task("cache", tmp_path)
    for proxy, full in _pairs(task):
        short, whole = task.trace(proxy), task.trace(full)
        assert len(short) == int(len(whole) * proxy.params["scale"]) and short.start == whole.start
        assert np.array_equal(short.obj_id, whole.obj_id[: len(short)])
        assert task.capacity(proxy) == short.cache_size(full.params["fraction"], full.params["mode"])
        assert task.capacity(proxy) < task.capacity(full)
    proxy = _pairs(task)[0][0]
    evaluation = task.score(proxy, task.run(_baseline(task, "lru"), proxy))
    assert math.isfinite(evaluation.score)
    assert math.isfinite(task.reference_evaluation("arc", proxy).score)


def test_example_task_proxy_has_fewer_items_and_round_trips_a_baseline():
    task = get_task(BINPACKING)
    for proxy, full in _pairs(task):
        assert proxy.params["items"] < full.params["items"]
        decisions = task.run(_baseline(task, "best-fit"), proxy)
        assert len(decisions["bin"]) == proxy.params["items"]
        assert math.isfinite(task.score(proxy, decisions).score)


def test_a_proxy_of_a_held_out_instance_stops_the_run_before_anything_is_measured(tmp_path):
    """A proxy must stand for a train instance (`<train id>@...`, split train): a proxy of a test instance
    would screen every candidate on a sample of held-out data."""
    from policyforge.search.loop import Evolution, EvolveConfig, checked_proxies

    task = get_task(BINPACKING, items=40)
    instances = task.instances()
    test = next(i for i in instances if i.split == "test")
    leaky = Instance(f"{test.id}@proxy", "train", {**test.params, "scale": 0.25}, test.group)
    with pytest.raises(PolicyforgeError, match="stands for that train instance"):
        checked_proxies([*list(task.search_hints().proxy_instances), leaky], instances)
    assert checked_proxies(list(task.search_hints().proxy_instances), instances) == list(task.search_hints().proxy_instances)
    with pytest.raises(PolicyforgeError, match="promote_top"):
        Evolution(tmp_path / "run", EvolveConfig(task=BINPACKING, task_options={"items": 40}, promote_top=0.0))
    assert not (tmp_path / "run").exists()
