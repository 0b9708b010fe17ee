"""Getting the trace: from a local folder (copy or link) or over HTTP, always checksum-verified."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from functools import partial

import pytest

from policyforge.errors import PolicyforgeError
from policyforge.toolkit import fetch as fetch_module
from policyforge.toolkit.fetch import fetch


@pytest.fixture()
def dataset(tmp_path, monkeypatch):
    """A two-file dataset with known checksums, served from a folder."""
    source = tmp_path / "source"
    source.mkdir()
    files = {"a.csv": b"sn,cpu_milli\nn0,1\n", "b.csv": b"name\np0\n"}
    for name, data in files.items():
        (source / name).write_bytes(data)
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    monkeypatch.setitem(fetch_module.CHECKSUMS, "toy", sums)
    return source, files


def test_copy_and_link_from_a_folder(tmp_path, dataset):
    source, files = dataset
    copied = fetch("toy", tmp_path / "copy", source_dir=source)
    assert {p.name: p.read_bytes() for p in copied} == files
    linked = fetch("toy", tmp_path / "link", source_dir=source, link=True)
    assert all(p.is_symlink() for p in linked)


def test_a_corrupt_source_is_refused_and_nothing_is_left(tmp_path, dataset):
    source, _ = dataset
    (source / "b.csv").write_bytes(b"tampered\n")
    with pytest.raises(PolicyforgeError, match="SHA-256"):
        fetch("toy", tmp_path / "out", source_dir=source)
    assert not (tmp_path / "out" / "b.csv").exists()


def test_download_over_http_with_checksums(tmp_path, dataset):
    source, files = dataset
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(source))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        out = fetch("toy", tmp_path / "dl", base_url=url, timeout=10)
        assert {p.name: p.read_bytes() for p in out} == files
        # A tampered file on the server is rejected and no partial file remains.
        (source / "a.csv").write_bytes(b"evil\n")
        (tmp_path / "dl" / "a.csv").unlink()
        with pytest.raises(PolicyforgeError, match="does not match"):
            fetch("toy", tmp_path / "dl", base_url=url, timeout=10)
        assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["b.csv"]
    finally:
        server.shutdown()


def test_unreachable_source_says_what_to_do(tmp_path, dataset):
    with pytest.raises(PolicyforgeError, match="download failed .* use --from DIR"):
        fetch("toy", tmp_path / "dl", base_url="http://127.0.0.1:9/", timeout=2)


def test_shipped_checksums_cover_every_openb_file():
    sums = json.loads((fetch_module.Path(fetch_module.__file__).parent / "data_checksums.json").read_text())["openb"]
    assert len(sums) == 26 and all(len(v) == 64 for v in sums.values())
