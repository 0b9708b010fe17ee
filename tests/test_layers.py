"""The suite's layers (unit, integration, e2e; see tests/conftest.py): every test is in exactly one, and the
table that assigns them names only files that exist."""

from __future__ import annotations

from pathlib import Path

from conftest import LAYER_OF, LAYERS

HERE = Path(__file__).parent


def test_every_test_file_has_a_layer_and_the_table_names_only_real_files():
    files = {path.name for path in HERE.glob("test_*.py")}
    assert sorted(files - set(LAYER_OF)) == [], "add these files to LAYERS in tests/conftest.py"
    assert sorted(set(LAYER_OF) - files) == [], "these files in LAYERS no longer exist"
    assert sum(len(names) for names in LAYERS.values()) == len(LAYER_OF)  # no file in two layers


def test_every_collected_test_is_in_exactly_one_layer(request):
    for item in request.session.items:
        layers = [layer for layer in LAYERS if any(m.name == layer for m in item.iter_markers())]
        assert len(layers) == 1, (item.nodeid, layers)
