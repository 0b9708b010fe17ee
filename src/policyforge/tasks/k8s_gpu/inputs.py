"""Resolving what a user names on the command line into a cluster and a workload.

`--workload` takes an OpenB workload name (`default`, `cpu050`, `gpushare40`, ...), a pod-list CSV, a YAML
cluster spec (which brings its own nodes), or `openb-synthetic`, the bundled OpenB-shaped spec that needs no
download. `--nodes` takes a node-list CSV; by default the paper's 1,213-node GPU cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from policyforge.errors import PolicyforgeError
from policyforge.tasks.k8s_gpu.synthetic import load_spec
from policyforge.tasks.k8s_gpu.trace import NodeTable, PodTable, load_nodes, load_pods
from policyforge.toolkit.fetch import data_dir

SPEC_DIR = Path(__file__).parent / "specs"
BUNDLED_SPECS = {"openb-synthetic": SPEC_DIR / "openb_synthetic.yaml"}
OPENB_WORKLOADS = (
    "default", "cpu0", "cpu037", "cpu050", "cpu072", "cpu100", "cpu200", "cpu235", "cpu250", "cpu300",
    "gpushare20", "gpushare40", "gpushare60", "gpushare80", "gpushare100",
    "gpuspec05", "gpuspec10", "gpuspec20", "gpuspec25", "gpuspec33",
    "multigpu20", "multigpu30", "multigpu40", "multigpu50",
)
DEFAULT_NODES = "openb_node_list_gpu_node.csv"


def openb_dir(root: str | Path | None = None) -> Path:
    return (Path(root) if root else data_dir()) / "openb"


@dataclass(frozen=True)
class Inputs:
    name: str
    nodes: NodeTable
    pods: PodTable


def _missing(path: Path) -> PolicyforgeError:
    return PolicyforgeError(
        f"{path}: not found; run `policyforge data fetch openb` first, or use --workload openb-synthetic")


def check_workload(workload: str, data_root: str | Path | None = None) -> None:
    """Refuse a workload `resolve` would refuse, without loading a trace: names, files and specs are
    checked before a run folder is created or anything is measured."""
    spec = BUNDLED_SPECS.get(workload)
    if spec is None and workload.endswith((".yaml", ".yml")):
        spec = Path(workload)
    if spec is not None:
        load_spec(spec)  # small; its own one-line error names the file and entry
        return
    if workload in OPENB_WORKLOADS:
        needed = [openb_dir(data_root) / f"openb_pod_list_{workload}.csv", openb_dir(data_root) / DEFAULT_NODES]
    elif workload.endswith(".csv") or Path(workload).exists():
        needed = [Path(workload), openb_dir(data_root) / DEFAULT_NODES]
        if not Path(workload).is_file():
            raise PolicyforgeError(f"{workload}: pod-list file not found")
    else:
        raise PolicyforgeError(f"unknown workload {workload!r}: give an OpenB name ({', '.join(OPENB_WORKLOADS[:4])}, ...), "
                               "a pod-list .csv, a cluster spec .yaml, or openb-synthetic")
    for path in needed:
        if not path.exists():
            raise _missing(path)


def resolve(workload: str, nodes: str | None = None, data_root: str | Path | None = None) -> Inputs:
    """The cluster and pods for a `--workload` / `--nodes` pair; `data_root` overrides the data folder."""
    spec = BUNDLED_SPECS.get(workload)
    if spec is None and workload.endswith((".yaml", ".yml")):
        spec = Path(workload)
    if spec is not None:
        node_table, pods, name = load_spec(spec)
        if nodes:
            node_table = load_nodes(nodes)
        return Inputs(name, node_table, pods)
    if workload in OPENB_WORKLOADS:
        pod_path = openb_dir(data_root) / f"openb_pod_list_{workload}.csv"
        if not pod_path.exists():
            raise _missing(pod_path)
        name = workload
    elif workload.endswith(".csv") or Path(workload).exists():
        pod_path, name = Path(workload), Path(workload).stem
    else:
        raise PolicyforgeError(f"unknown workload {workload!r}: give an OpenB name ({', '.join(OPENB_WORKLOADS[:4])}, ...), "
                               "a pod-list .csv, a cluster spec .yaml, or openb-synthetic")
    node_path = Path(nodes) if nodes else openb_dir(data_root) / DEFAULT_NODES
    if not nodes and not node_path.exists():
        raise _missing(node_path)
    return Inputs(name, load_nodes(node_path), load_pods(pod_path))
