"""`tasks check` is `evolve`'s dress rehearsal: what evolve refuses, the check fails, naming the culprit.

Each test copies the example bin-packing task into a fresh folder and breaks one thing a task author could:
a baseline that imports the task's own simulator, a GP seed that does not parse or type-check, a feature
module that leaks what it imports or declares no `__all__`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from policyforge.search.conformance import check_task
from policyforge.trust.static_check import check_source

EXAMPLE = Path(__file__).parent.parent / "examples" / "binpacking"


def copy_task(tmp_path: Path, feature_module: str) -> Path:
    """The example task in `tmp_path`, its feature module renamed (each test's module name is its own, as
    modules are cached by name in this process)."""
    folder = tmp_path / "bp"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "binpacking_features.py").rename(folder / f"{feature_module}.py")
    for path in [folder / "task.py", *(folder / "baselines").glob("*.py")]:
        path.write_text(path.read_text().replace("binpacking_features", feature_module))
    return folder


def ref(folder: Path) -> str:
    return f"{folder / 'task.py'}:OnlineBinPacking"


def failures(folder: Path) -> list[str]:
    return check_task(ref(folder), items=40, train_seeds=[1], validation_seeds=[2], test_seeds=[3])


def test_a_baseline_importing_the_tasks_simulator_fails_the_check_named(tmp_path: Path) -> None:
    folder = copy_task(tmp_path, "bp_features_a")
    (folder / "baselines" / "first_fit.py").write_text(
        "from task import Packing\n\n\ndef score(item, bins):\n    return -bins.index * 1.0\n")
    found = failures(folder)
    assert any(f.startswith("baseline first-fit passes the static check: evolve would refuse it: ")
               and "import of 'task' is not allowed" in f for f in found), found
    assert not any("best-fit" in f for f in found), found  # the others pass (and, with bubblewrap, run)


def test_a_gp_seed_that_does_not_parse_or_type_check_fails_the_check_named(tmp_path: Path) -> None:
    folder = copy_task(tmp_path, "bp_features_b")
    task = folder / "task.py"
    task.write_text(task.read_text().replace('"first-fit": "(neg bins.index)"', '"first-fit": "(neg bins.index"')
                    .replace('"best-fit": "(neg remaining)"', '"best-fit": "(neg bins.nosuch)"'))
    found = failures(folder)
    assert any(f.startswith("GP seed first-fit parses and type-checks: does not parse") for f in found), found
    assert any(f.startswith("GP seed best-fit parses and type-checks: does not type-check") for f in found), found


def test_an_outside_feature_module_exposes_exactly_its_all(tmp_path: Path) -> None:
    folder = copy_task(tmp_path, "bp_features_c")
    features = folder / "bp_features_c.py"
    features.write_text(features.read_text().replace("import numpy as _np\n", "import numpy as _np\nimport zlib\n"))
    allowed = ("math", "numpy", "bp_features_c")
    assert failures(folder) == []  # conformant: what it imports stays out of a policy's reach
    for code in ("from bp_features_c import zlib\n", "import bp_features_c as f\nx = f.zlib\n",
                 "import bp_features_c\nx = bp_features_c.zlib\n"):
        reason = check_source(code + "\n\ndef score(item, bins):\n    return bins.free\n", allowed, ("score",))
        assert reason and "exports only fill_after, remaining, tight_fit" in reason, (code, reason)
    assert check_source("from bp_features_c import remaining\n\n\ndef score(item, bins):\n"
                        "    return remaining(item, bins)\n", allowed, ("score",)) is None


def test_a_feature_module_without_all_fails_the_check(tmp_path: Path) -> None:
    folder = copy_task(tmp_path, "bp_features_e")
    features = folder / "bp_features_e.py"
    features.write_text(features.read_text().replace('__all__ = ("remaining", "fill_after", "tight_fit")\n', ""))
    found = failures(folder)
    assert any("feature module bp_features_e exports exactly its __all__" in f and "declares no __all__" in f
               for f in found), found
    reason = check_source("from bp_features_e import remaining\n\n\ndef score(item, bins):\n"
                          "    return remaining(item, bins)\n", ("numpy", "bp_features_e"), ("score",))
    assert reason and "bp_features_e declares no __all__, so a policy may use nothing from it" in reason


def test_the_check_runs_every_baseline_and_gp_seed_as_evolve_does(tmp_path: Path) -> None:
    """Baselines and (for a task that opts in) GP seeds run where evolve runs them: a worker process of the
    engine's pool that loads the task from its reference, then the judge."""
    reports: list[str] = []
    folder = copy_task(tmp_path, "bp_features_d")
    assert check_task(ref(folder), report=reports.append, items=40, train_seeds=[1], validation_seeds=[2],
                      test_seeds=[3]) == []
    for name in ("first-fit", "best-fit", "worst-fit"):
        assert f"ok   baseline {name} runs in the engine's worker pool and is judged, as evolve runs it" in reports
    assert sum("runs in the trusted interpreter and is judged" in line for line in reports) == 3
