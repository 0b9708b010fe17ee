"""The k8s-gpu search task: evolve node-scoring policies for the FGD paper's experiment.

Instances are (workload, seed) pairs of the inflation experiment; the objective is the GPU allocation (%)
when the arrived GPU request reaches 100% of capacity. By default (`default`/`auto` on the OpenB trace) the
search trains on one seed of each of several workloads, one per OpenB family (no baseline wins them all:
FirstFit wins `gpuspec*`, LeastAllocated `cpu300`, FGD most others), validates on another seed of each, and
is tested on held-out seeds of those and of every other OpenB workload, never trained on. A single workload
(`--workload X`) trains, validates and tests on that one with disjoint seeds. A reported figure is never one
the search selected on.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from policyforge.contract import (
    CommandLine,
    Decisions,
    Evaluation,
    Instance,
    PolicySpec,
    Reporting,
    SearchHints,
    Task,
    as_int_array,
    check_held_out,
    versus_best_baseline,
)
from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.inputs import BUNDLED_SPECS, Inputs, check_workload, openb_dir, resolve
from policyforge.tasks.k8s_gpu.interface import K8S_GPU_GP_TABLE, K8S_GPU_POLICY
from policyforge.tasks.k8s_gpu.policy import BASELINES, baseline_path, policy_of_module
from policyforge.tasks.k8s_gpu.simulate import (
    InflationResult,
    Streams,
    replay_inflation,
    run_inflation,
    sample_cluster,
    sample_pods,
)
from policyforge.tasks.k8s_gpu.trace import NodeTable, PodTable
from policyforge.tasks.k8s_gpu.workload import TargetWorkload, target_workload

OPENB_WORKLOADS = (
    "default", "cpu0", "cpu037", "cpu050", "cpu072", "cpu100", "cpu200", "cpu235", "cpu250", "cpu300",
    "gpushare20", "gpushare40", "gpushare60", "gpushare80", "gpushare100",
    "gpuspec05", "gpuspec10", "gpuspec20", "gpuspec25", "gpuspec33",
    "multigpu20", "multigpu30", "multigpu40", "multigpu50",
)
"""The 24 pod lists of OpenB (openb_pod_list_<name>.csv)."""
DEFAULT_TRAIN_WORKLOADS = ("default", "cpu300", "gpushare60", "gpuspec33", "multigpu50")
"""The default search trains (one seed each) and validates (another seed each) on these: one per family,
each at a variant where a different baseline leads or the family's pressure is high."""
DEFAULT_TEST_WORKLOADS = OPENB_WORKLOADS
"""Tested on held-out seeds of every OpenB workload: the 5 seen in training and the 19 never seen."""
SUITE_SEEDS = ((42,), (43,), (47, 48, 49))
"""Train, validation and test seeds of the default multi-workload suite (each instance is a full FGD-size
experiment, ~1-3 s per policy: 5 train, 5 validation, 72 test instances)."""
QUICK_TRAIN_WORKLOADS = ("default", "gpuspec33", "multigpu50")
QUICK_TEST_WORKLOADS = ("default", "gpuspec33", "multigpu50", "cpu050", "gpushare40", "gpuspec20")
QUICK_SEEDS = ((42,), (43,), (47, 48))
"""The quick suite (`suite="quick"`, what `--workload auto` searches): three families trained on, three
unseen, two held-out seeds each, so a first run reaches a verdict in minutes; the full suite is the claim."""
SUITES = ("full", "quick")
SINGLE_SEEDS = ((42, 43, 44, 45, 46), (52, 53, 54), (47, 48, 49, 50, 51))
"""Train, validation and test seeds when one workload is searched on its own."""
METRICS = ("alloc_at_100", "alloc_at_130", "frag_ratio_at_100", "frag_amount_at_100", "failed_pods")
PROXY_SCALE = 0.1
"""The proxies' share of the cluster and of the trace's pods (benchmarks/proxy_fidelity.py measured it)."""


def openb_available(data_dir: str | None = None) -> bool:
    base = openb_dir(data_dir)
    return (base / "openb_pod_list_default.csv").exists() and (base / "openb_node_list_gpu_node.csv").exists()


def _absolute(workload: str) -> str:
    """File workloads become absolute paths: evaluations run in a sandbox whose working directory differs."""
    if workload.endswith((".yaml", ".yml", ".csv")) and Path(workload).exists():
        return str(Path(workload).resolve())
    return workload


def _streams(instance: Instance) -> Streams | None:
    """A search instance's keyed streams; None (its public seed) for `simulate` and other public runs."""
    return Streams.keyed(instance) if instance.key else None


@lru_cache(maxsize=32)
def _inputs(workload: str, data_dir: str | None, nodes: str | None = None) -> Inputs:
    return resolve(workload, nodes, data_root=data_dir)


@lru_cache(maxsize=32)
def _proxy_inputs(workload: str, data_dir: str | None, nodes: str | None, share: float
                  ) -> tuple[NodeTable, PodTable, TargetWorkload]:
    """A proxy's sampled cluster and pods, and the FULL trace's target workload: FGD plans for the workload
    the full trace describes (computed from pods), which a sample of the pods would only approximate."""
    full = _inputs(workload, data_dir, nodes)
    return sample_cluster(full.nodes, share), sample_pods(full.pods, share), target_workload(full.pods)


class K8sGpuTask(Task):
    """k8s-gpu: score feasible nodes for each arriving pod; maximise GPU allocation at 100% arrived.

    Decisions: per arriving pod, the node it was bound to (-1 when it failed) and its GPUs as a bit mask;
    the trusted half rebuilds the arrival sequence from the seed and binds them on a fresh cluster."""

    name = "k8s-gpu"
    spec: PolicySpec = K8S_GPU_POLICY

    def __init__(self, workload: str = "default", train_seeds: list[int] | tuple[int, ...] | None = None,
                 validation_seeds: list[int] | tuple[int, ...] | None = None,
                 test_seeds: list[int] | tuple[int, ...] | None = None,
                 test_workloads: list[str] | tuple[str, ...] | None = None, tune: float = 1.3,
                 data_dir: str | None = None, nodes: str | None = None,
                 train_workloads: list[str] | tuple[str, ...] | None = None,
                 proxy_scale: float = PROXY_SCALE, suite: str = "full") -> None:
        if suite not in SUITES:
            raise PolicyforgeError(f"k8s-gpu: suite {suite!r} is not one of {', '.join(SUITES)}")
        self.suite = suite
        if not 0 <= proxy_scale < 1:
            raise PolicyforgeError(f"k8s-gpu: proxy_scale {proxy_scale} must lie in [0, 1) (0: no proxies)")
        self.proxy_scale = float(proxy_scale)
        """Share of the cluster and pods in each proxy instance (0: none)."""
        self.data_dir = str(Path(data_dir).resolve()) if data_dir else str(Path(openb_dir().parent).resolve())
        self.nodes = str(Path(nodes).resolve()) if nodes else None
        """A node-list .csv replacing the workload's cluster (as `simulate --nodes`)."""
        self.workload = _absolute(workload)
        suite = workload == "default"  # the OpenB suite; any other workload is searched on its own
        quick = suite and self.suite == "quick"
        if train_workloads is None:
            train_workloads = (QUICK_TRAIN_WORKLOADS if quick else DEFAULT_TRAIN_WORKLOADS) if suite else (workload,)
        self.train_workloads = tuple(_absolute(w) for w in train_workloads)
        """Workloads of the train and validation instances (the "seen" ones); the first is `workload`'s
        stand-in wherever one workload is meant (the screen)."""
        if test_workloads is None:
            test_workloads = (QUICK_TEST_WORKLOADS if quick else DEFAULT_TEST_WORKLOADS) if suite else (workload,)
        self.test_workloads = tuple(_absolute(w) for w in test_workloads)
        seeds = (QUICK_SEEDS if quick else SUITE_SEEDS) if suite else SINGLE_SEEDS
        self.train_seeds = tuple(seeds[0] if train_seeds is None else train_seeds)
        self.validation_seeds = tuple(seeds[1] if validation_seeds is None else validation_seeds)
        self.test_seeds, self.tune = tuple(seeds[2] if test_seeds is None else test_seeds), float(tune)
        for name in dict.fromkeys((self.workload, *self.train_workloads, *self.test_workloads)):
            check_workload(name, self.data_dir)  # before anything is measured: a bad name fails the start
        if set(self.train_workloads) & set(self.test_workloads):  # other workloads are held out whatever their seeds
            check_held_out("k8s-gpu", self.train_seeds, self.validation_seeds, self.test_seeds)

    def options(self) -> dict[str, Any]:
        return {"workload": self.workload, "train_workloads": list(self.train_workloads),
                "train_seeds": list(self.train_seeds),
                "validation_seeds": list(self.validation_seeds), "test_seeds": list(self.test_seeds),
                "test_workloads": list(self.test_workloads), "tune": self.tune, "data_dir": self.data_dir,
                "proxy_scale": self.proxy_scale, "suite": self.suite, **({"nodes": self.nodes} if self.nodes else {})}

    def baselines(self) -> dict[str, Path]:
        return {name: baseline_path(name) for name in BASELINES}

    def data_paths(self) -> tuple[str, ...]:
        files = [w for w in dict.fromkeys((self.workload, *self.train_workloads, *self.test_workloads,
                                           self.nodes or "")) if Path(w).is_absolute()]
        return (self.data_dir, *files)

    def cache_dir(self) -> Path:
        return Path(self.data_dir) / "results"

    @classmethod
    def command_line(cls) -> CommandLine:
        from policyforge.tasks.k8s_gpu.cli import command_line

        return command_line(cls)

    @classmethod
    def options_from_cli(cls, workload: str | None, report=print) -> dict[str, Any]:
        return default_task_options(workload or "auto", report)

    def instances(self) -> list[Instance]:
        """Train: each seen workload x train seed; validation: each seen workload x validation seed; test:
        every test workload (seen or not) x test seed. Groups are workload names."""
        out = [Instance(f"{w}/seed{s}", "train", {"workload": w, "seed": s}, w)
               for w in self.train_workloads for s in self.train_seeds]
        out += [Instance(f"{w}/seed{s}", "validation", {"workload": w, "seed": s}, w)
                for w in self.train_workloads for s in self.validation_seeds]
        out += [Instance(f"{w}/seed{s}", "test", {"workload": w, "seed": s}, w)
                for w in self.test_workloads for s in self.test_seeds]
        return out

    def search_hints(self) -> SearchHints:
        return SearchHints(tuple(self.proxy_instances()), tuple(self.screen_instances()), gp_table=K8S_GPU_GP_TABLE,
                           trusted_tree_runs=True,  # `run` keeps only read-only caches (the loaded trace and cluster)
                           feedback=self.feedback)

    def reporting(self) -> Reporting:
        return Reporting(self.series, self.report_sections)

    def screen_instances(self) -> list[Instance]:
        return [i for i in self.instances() if i.split == "train"][:1]

    def proxy_instances(self) -> list[Instance]:
        """Per train instance, the same seed and tune on a proportional sample of the cluster and of the
        trace's pods (`proxy_scale` of each; the target workload stays the full trace's): about `proxy_scale`
        of the pods arrive, so a proxy costs about that share of a full instance."""
        if not self.proxy_scale:
            return []
        return [Instance(f"{i.id}@proxy", "train", {**i.params, "scale": self.proxy_scale}, i.group)
                for i in self.instances() if i.split == "train"]

    def _world(self, instance: Instance) -> tuple[NodeTable, PodTable, TargetWorkload | None]:
        """The cluster, pods and target workload of an instance (None: computed from the pods, as always);
        a proxy (params `scale`) gets its sample."""
        workload, scale = str(instance.params["workload"]), float(instance.params.get("scale", 1.0))
        if scale != 1.0:
            return _proxy_inputs(workload, self.data_dir, self.nodes, scale)
        inputs = _inputs(workload, self.data_dir, self.nodes)
        return inputs.nodes, inputs.pods, None

    def run(self, policy: ModuleType, instance: Instance) -> Decisions:
        nodes, pods, target = self._world(instance)
        result = run_inflation(nodes, pods, policy_of_module(policy, "candidate"), int(instance.params["seed"]),
                               self.tune, workload=target, fragmentation=False, streams=_streams(instance),
                               memo=instance.key or None)
        return result.decisions()

    def replay(self, instance: Instance, decisions: Decisions) -> InflationResult:
        """The trusted run the decisions describe (PolicyError at the first illegal one)."""
        nodes, pods, target = self._world(instance)
        node = as_int_array(decisions, "node")
        mask = as_int_array(decisions, "gpu_mask", len(node))
        return replay_inflation(nodes, pods, "candidate", int(instance.params["seed"]), self.tune, node, mask,
                                workload=target, streams=_streams(instance), memo=instance.key or None)

    def score(self, instance: Instance, decisions: Decisions) -> Evaluation:
        summary = self.replay(instance, decisions).summary()
        return Evaluation(float(summary["alloc_at_100"] or 0.0),
                          {k: float(summary[k]) for k in METRICS if summary.get(k) is not None})

    def series(self, instance: Instance, decisions: Decisions) -> dict[str, list[float]]:
        result = self.replay(instance, decisions)
        return {"allocation": result.allocation_curve().tolist(),
                "fragmentation_ratio": result.fragmentation_ratio_curve().tolist()}

    def report_sections(self, series: dict[str, dict[str, dict[str, list[float]]]], out: Path
                        ) -> list[tuple[str, str]]:
        from policyforge.tasks.k8s_gpu.report import allocation_sections

        return allocation_sections(series, out)

    def read_only_probe(self) -> str:
        """A policy that tries to write every view; the conformance check expects each write to fail."""
        return (
            "import numpy as np\n\n"
            "def score(pod, nodes, cluster):\n"
            "    for view in (nodes, cluster):\n"
            "        for name in ('cpu_free', 'memory_free', 'gpu_free', 'gpu_free_total', 'full_free_gpus'):\n"
            "            array = getattr(view, name)\n"
            "            try:\n"
            "                array[...] = 0\n"
            "            except ValueError:\n"
            "                continue\n"
            "            raise AssertionError(f'{name} is writable')\n"
            "    for name in ('cpu_milli', 'num_gpu'):\n"
            "        try:\n"
            "            setattr(pod, name, 0)\n"
            "        except AttributeError:\n"
            "            continue\n"
            "        raise AssertionError(f'pod.{name} is writable')\n"
            "    return np.zeros(len(nodes))\n"
        )

    def objective(self) -> str:
        return (f"GPU allocation (%) when the arrived GPU request reaches 100% of cluster capacity, mean over "
                f"instances (FGD paper experiment, tune {self.tune}); higher is better.")

    def feedback(self, scores: dict[str, float], metrics: dict[str, dict[str, float]],
                 baseline_scores: dict[str, dict[str, float]]) -> str:
        lines = []
        for instance, value in scores.items():
            m = metrics.get(instance, {})
            refs = ", ".join(f"{b} {s[instance]:.2f}" for b, s in baseline_scores.items() if instance in s)
            lines.append(f"{instance}: alloc@100% {value:.2f} (baselines: {refs}); "
                         f"frag ratio {m.get('frag_ratio_at_100', float('nan')):.1f}%, failed pods {m.get('failed_pods', 0):.0f}")
        lines.append(versus_best_baseline(scores, baseline_scores))
        return "\n".join(line for line in lines if line)


def default_task_options(workload: str, report=None) -> dict[str, Any]:
    """Options for `evolve --workload W`. `auto` is the OpenB suite's quick form when the trace has been
    fetched (a first look in minutes; `default` is the full suite), else the bundled OpenB-shaped spec (said
    out loud through `report`)."""
    if workload == "auto":
        if openb_available():
            return {"workload": "default", "suite": "quick"}
        else:
            if report:
                report(f"OpenB trace not found in {openb_dir()}: using the bundled OpenB-shaped workload "
                       "(openb-synthetic); run `policyforge data fetch openb` for the real trace")
            workload = "openb-synthetic"
    if workload in BUNDLED_SPECS or workload.endswith((".yaml", ".yml")):
        return {"workload": workload, "test_workloads": [workload]}
    if not openb_available():
        raise PolicyforgeError(f"{openb_dir()}: OpenB trace not found; run `policyforge data fetch openb` "
                               "or use --workload openb-synthetic")
    return {"workload": workload}
