"""Trace readers: the three formats agree, windows are traces of their own, malformed files fail in one line."""

from __future__ import annotations

import numpy as np
import pytest
import zstandard

from policyforge.errors import PolicyforgeError
from policyforge.tasks.cache.trace import ORACLE_GENERAL, parse_window, read_trace

REQUESTS = [(0, 7, 100), (1, 8, 50), (2, 7, 100), (3, 9, 10), (4, 8, 50), (5, 7, 100)]


def write_binary(path, rows):
    data = np.zeros(len(rows), dtype=ORACLE_GENERAL)
    for k, (t, o, s) in enumerate(rows):
        data[k] = (t, o, s, -1)
    path.write_bytes(data.tobytes())
    return path


def write_csv(path, rows, header="# time, object, size, next_access_vtime"):
    path.write_text(header + "\n" + "".join(f"{t}, {o}, {s}, -1\n" for t, o, s in rows))
    return path


@pytest.fixture()
def files(tmp_path):
    binary = write_binary(tmp_path / "t.oracleGeneral.bin", REQUESTS)
    csv = write_csv(tmp_path / "t.csv", REQUESTS)
    zst = tmp_path / "t.csv.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(csv.read_bytes()))
    named = tmp_path / "named.csv"
    named.write_text("version,time,op,size,lbn\n" + "".join(f"1,{t},2a,{s},{o}\n" for t, o, s in REQUESTS))
    return binary, csv, zst, named


def test_all_formats_read_the_same_requests(files):
    traces = [read_trace(path) for path in files]
    for trace in traces:
        assert trace.obj_id.tolist() == [7, 8, 7, 9, 8, 7]
        assert trace.size.tolist() == [100, 50, 100, 10, 50, 100]
        assert trace.time.tolist() == [0, 1, 2, 3, 4, 5]
        assert trace.ids.tolist() == [0, 1, 0, 2, 1, 0]
        assert trace.next_access.tolist() == [2, 4, 5, -1, -1, -1]
        assert (trace.wss_objects, trace.wss_bytes) == (3, 160)


def test_a_window_is_a_trace_of_its_own(files):
    trace = read_trace(files[2], "2:5")
    assert trace.obj_id.tolist() == [7, 9, 8]
    assert trace.next_access.tolist() == [-1, -1, -1]
    assert (trace.wss_objects, trace.wss_bytes) == (3, 160)
    assert read_trace(files[0], "1:").obj_id.tolist() == [8, 7, 9, 8, 7]


def test_cache_size_fraction_truncates_like_libcachesim(files):
    trace = read_trace(files[0])
    assert trace.cache_size(0.5, "bytes") == 80
    assert trace.cache_size(0.5, "objects") == 1
    assert trace.cache_size(1000, "bytes") == 1000


@pytest.mark.parametrize("text", ["5", "a:b", "5:3", "3:3"])
def test_bad_windows_are_refused(text):
    with pytest.raises(PolicyforgeError, match="window"):
        parse_window(text)


def test_a_window_past_the_end_is_refused(files):
    with pytest.raises(PolicyforgeError, match="ends after the trace"):
        read_trace(files[1], "2:100")


def one_line_error(path, window=None) -> str:
    with pytest.raises(PolicyforgeError) as info:
        read_trace(path, window)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_truncated_binary(tmp_path):
    path = write_binary(tmp_path / "t.oracleGeneral.bin", REQUESTS)
    path.write_bytes(path.read_bytes()[:-5])
    assert "truncated oracleGeneral record" in one_line_error(path)


def test_csv_with_a_missing_field(tmp_path):
    path = write_csv(tmp_path / "t.csv", REQUESTS)
    path.write_text(path.read_text() + "6, 10\n")
    assert "line 8" in one_line_error(path) and "fields" in one_line_error(path)


def test_csv_with_text_in_a_number_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# time, object, size\n0, 1, 10\n1, abc, 10\n")
    message = one_line_error(path)
    assert "line 3" in message and "field 2" in message


def test_csv_with_a_zero_size(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# time, object, size\n0, 1, 10\n1, 2, 0\n")
    assert "line 3: object size must be positive" in one_line_error(path)


def test_csv_header_without_an_id_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("when,what\n1,2\n")
    assert "names no object id column" in one_line_error(path)


def test_corrupt_zstd(tmp_path):
    path = tmp_path / "t.csv.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 10)
    assert "cannot decompress" in one_line_error(path)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "t.csv"
    empty.write_text("")
    assert "empty file" in one_line_error(empty)
    assert "no such trace file" in one_line_error(tmp_path / "nope.bin")
    binary = tmp_path / "t.bin"
    binary.write_bytes(b"")
    assert "no requests" in one_line_error(binary)
