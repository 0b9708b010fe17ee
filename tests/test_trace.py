"""Malformed traces stop with one line naming file, line, column and reason."""

from __future__ import annotations

import numpy as np
import pytest
from clirun import run_cli

from policyforge.errors import InputError
from policyforge.tasks.k8s_gpu.trace import ALL_MODELS_MASK, MODEL_INDEX, load_nodes, load_pods

POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"
GOOD_POD = "p0,4000,8192,1,500,,LS,Running,0,100,0"


def write(tmp_path, text, name="pods.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_good_pods_and_nodes(tmp_path):
    pods = load_pods(write(tmp_path, f"{POD_HEADER}\n{GOOD_POD}\np1,1000,10,2,1000,V100M16|T4,LS,Running,5,6,5\n"))
    assert list(pods.num_gpu) == [1, 2] and list(pods.gpu_milli) == [500, 1000]
    assert pods.model_mask[0] == ALL_MODELS_MASK
    assert pods.model_mask[1] == (1 << MODEL_INDEX["V100M16"]) | (1 << MODEL_INDEX["T4"])
    assert pods.has_times and list(pods.deletion_time) == [100.0, 6.0]
    nodes = load_nodes(write(tmp_path, "sn,cpu_milli,memory_mib,gpu,model\nn0,8000,100,2,T4\nn1,8000,100,0,\n", "n.csv"))
    assert nodes.total_gpus == 2 and list(nodes.gpu_model) == [MODEL_INDEX["T4"], -1]


def test_multigpu_files_without_time_columns_load(tmp_path):
    pods = load_pods(write(tmp_path, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1000,10,8,1000\n"))
    assert not pods.has_times and np.isnan(pods.creation_time).all()


@pytest.mark.parametrize(
    ("row", "line", "column", "reason"),
    [
        ("p0,abc,8192,1,500,,LS,Running,0,100,0", 2, "cpu_milli", "not a number"),
        ("p0,4000,-5,1,500,,LS,Running,0,100,0", 2, "memory_mib", "negative"),
        ("p0,4000,8192,1,1500,,LS,Running,0,100,0", 2, "gpu_milli", "over 1000"),
        ("p0,4000,8192,2,500,,LS,Running,0,100,0", 2, "gpu_milli", "fractional GPU"),
        ("p0,4000,8192,1,500,H200,LS,Running,0,100,0", 2, "gpu_spec", "unknown GPU model 'H200'"),
        ("p0,4000,8192,1,500,,LS,Running,50,10,0", 2, "deletion_time", "before creation_time"),
        ("p0,4000,8192,1.5,500,,LS,Running,0,100,0", 2, "num_gpu", "not a whole number"),
        ("p0,4000", 2, "memory_mib", "row has 2 fields"),
    ],
)
def test_malformed_pod_rows_name_file_line_column(tmp_path, row, line, column, reason):
    path = write(tmp_path, f"{POD_HEADER}\n{row}\n")
    with pytest.raises(InputError) as info:
        load_pods(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: column '{column}'") and reason in message
    assert "\n" not in message


def test_error_line_counts_the_header_and_earlier_rows(tmp_path):
    path = write(tmp_path, f"{POD_HEADER}\n{GOOD_POD}\n{GOOD_POD}\np9,1,1,1,2000,,LS,Running,0,1,0\n")
    with pytest.raises(InputError, match=r":4: column 'gpu_milli'"):
        load_pods(path)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty file"), (f"{POD_HEADER}\n", "no data rows"), ("name,cpu_milli\np,1\n", "missing column")],
)
def test_empty_or_headless_files(tmp_path, text, reason):
    with pytest.raises(InputError, match=reason):
        load_pods(write(tmp_path, text))


def test_missing_file():
    with pytest.raises(InputError, match="file not found"):
        load_pods("/nonexistent/pods.csv")


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [("n0,8000,100,2,", "model", "no GPU model"), ("n0,8000,100,2,K80", "model", "unknown GPU model"),
     ("n0,8000,x,2,T4", "memory_mib", "not a number"), ("n0,-1,100,2,T4", "cpu_milli", "negative")],
)
def test_malformed_node_rows(tmp_path, row, column, reason):
    path = write(tmp_path, f"sn,cpu_milli,memory_mib,gpu,model\n{row}\n", "nodes.csv")
    with pytest.raises(InputError, match=rf"nodes.csv:2: column '{column}': .*{reason}"):
        load_nodes(path)


def test_cli_reports_bad_trace_in_one_line_without_traceback(tmp_path):
    pods = write(tmp_path, f"{POD_HEADER}\np0,4000,8192,3,500,,LS,Running,0,100,0\n")
    nodes = write(tmp_path, "sn,cpu_milli,memory_mib,gpu,model\nn0,8000,100,2,T4\n", "nodes.csv")
    result = run_cli("simulate", "--workload", str(pods), "--nodes", str(nodes), "--seeds", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pods.csv:2: column 'gpu_milli'" in lines[0] and "Traceback" not in result.stderr
