"""Reports, checked the way a reader sees them: a small real evolution run and a real policy comparison,
rendered by headless Chromium (Debian's package, driven by Playwright) from file:// with no network; `serve`
answering on localhost and following a run that changes; `evolve` writing its report on Ctrl-C."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from clirun import run_cli

from policyforge.search.store import Store
from policyforge.trust.sandbox import sandbox_available

TINY = str(Path(__file__).parent / "data" / "tiny_cluster.yaml")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PNG = b"\x89PNG\r\n\x1a\n"

needs_sandbox = pytest.mark.skipif(
    not sandbox_available() and not os.environ.get("POLICYFORGE_REQUIRE_SANDBOX"),
    reason="bubblewrap not available (apt-get install bubblewrap); evolve runs generated code only in it")


def cli(*args: str):
    """In this process (`serve` and Ctrl-C below start real processes: their process is under test)."""
    return run_cli(*args)


def store_ids(run_dir: Path) -> set[int]:
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        return {row[0] for row in db.execute("SELECT id FROM candidates")}


def copy_run(source: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("run.sqlite", "run.sqlite-wal", "run.sqlite-shm"):
        if (source / name).exists():
            shutil.copy2(source / name, target / name)
    return target


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A small real run: the sandbox, the GP proposer, baselines and held-out test figures, all for real."""
    if not sandbox_available() and not os.environ.get("POLICYFORGE_REQUIRE_SANDBOX"):
        pytest.skip("bubblewrap not available (apt-get install bubblewrap); evolve runs generated code only in it")
    run = tmp_path_factory.mktemp("report") / "run"
    result = cli("evolve", "--workload", TINY, "--run-dir", str(run), "--max-samples", "4", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert f"report: {run / 'report' / 'index.html'}" in result.stdout  # evolve writes it at the end
    return run


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium through Playwright; never Playwright's own browser download."""
    def unavailable(reason: str):
        if os.environ.get("POLICYFORGE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason} (POLICYFORGE_REQUIRE_BROWSER=1)")
        pytest.skip(reason)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright not installed (pip install playwright; do not run `playwright install`)")
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} missing (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, url: str):
    """A loaded page, and every console error, page error, failed or non-local request seen on the way."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    local = ("file://", "http://127.0.0.1:") if url.startswith("http") else ("file://",)
    page.on("request", lambda r: None if r.url.startswith(local) else problems.append(f"network: {r.url}"))
    page.goto(url, wait_until="load")
    return page, problems


def images(page) -> list[tuple[str, bool, int]]:
    return [tuple(x) for x in page.eval_on_selector_all(
        "img", "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth])")]


def duplicate_ids(page) -> list[str]:
    return page.evaluate("(() => { const ids = Array.from(document.querySelectorAll('[id]'), e => e.id);"
                         " return ids.filter((x, i) => ids.indexOf(x) !== i); })()")


def leaderboard_ids(page) -> list[int]:
    return page.eval_on_selector_all("#leaderboard-table tr[data-id]", "els => els.map(e => Number(e.dataset.id))")


# --- evolution run report ----------------------------------------------------------------------------------
def test_report_command_writes_a_self_contained_page(run_dir, tmp_path):
    out = tmp_path / "out"
    result = cli("report", str(run_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {out / 'index.html'}"
    page = (out / "index.html").read_text()
    for name in ("progress.png", "statuses.png", "alloc_test1.png"):
        assert f'src="{name}"' in page and (out / name).read_bytes().startswith(PNG)
    assert not re.search(r"""(src|href)="(https?:)?//""", page)  # nothing outside the folder
    assert sorted(int(i) for i in re.findall(r'data-id="(\d+)"', page)) == sorted(store_ids(run_dir))
    missing = cli("report", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "not a run directory" in missing.stderr


def test_run_report_in_chromium(run_dir, browser, tmp_path):
    out = tmp_path / "report"
    assert cli("report", str(run_dir), "--out", str(out)).returncode == 0
    page, problems = open_page(browser, (out / "index.html").as_uri())
    shown = images(page)
    assert {src for src, _, _ in shown} >= {"progress.png", "statuses.png", "alloc_test1.png"}
    assert all(complete and width > 0 for _, complete, width in shown), shown
    ids = leaderboard_ids(page)
    assert sorted(ids) == sorted(store_ids(run_dir)) and len(ids) == len(set(ids))
    assert page.locator("#leaderboard-table details[id^=details-]").count() == len(ids)
    best = page.locator("#leaderboard-table tr.best")
    assert best.count() == 1
    details = page.locator(f"#details-{best.get_attribute('data-id')}")
    details.locator(":scope > summary").click()  # its own summary, not a nested one (prompt, raw reply)
    assert "def score(" in details.inner_text() and "tiny_cluster.yaml/seed42" in details.inner_text()  # code, per-instance scores
    for title in ("Progress", "Candidate outcomes", "Allocation on test instances", "Proposers: tokens and cost",
                  "Lineage of the best"):
        assert page.get_by_role("heading", name=title).count() == 1
    assert duplicate_ids(page) == []
    page.evaluate("window.scrollTo(0, 0)")  # the click scrolled; sticky headers would draw mid-page
    page.screenshot(path=str(tmp_path / "run-report.png"), full_page=True)
    assert problems == []


def test_hostile_candidate_is_shown_as_text_and_its_curve_is_not_simulated(run_dir, browser, tmp_path):
    run = copy_run(run_dir, tmp_path / "run")
    store = Store(run / "run.sqlite")
    parent = min(c.id for c in store.all("status = 'ok' AND proposer = 'seed'"))
    hostile = ('import os\n# </pre></details><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">\n'
               "def score(pod, nodes, cluster):\n    return [len(os.environ)] * len(nodes)\n")
    evil = store.insert(sample=store.next_sample(), proposer="llm:<i>evil</i>", parents=[parent], code=hostile,
                        status="ok", reason="<script>window.pwned = 3</script>", feedback="</pre><b>bold</b>",
                        score=999.0, validation_score=999.0, scores={"x<y": 999.0}, tokens_in=10, tokens_out=5,
                        cost_usd=0.25)
    store.close()
    result = cli("report", str(run))
    assert result.returncode == 0, result.stderr
    assert f"best #{evil}: not drawn (rejected: line 1: import of 'os' is not allowed" in result.stderr
    page, problems = open_page(browser, (run / "report" / "index.html").as_uri())
    assert page.evaluate("window.pwned") is None
    assert page.locator("#leaderboard-table tr.best").get_attribute("data-id") == str(evil)
    page.locator(f"#details-{evil} summary").click()
    assert "<script>window.pwned = 1</script>" in page.locator(f"#details-{evil}").inner_text()
    assert "not drawn (rejected" in page.locator("#task-1").inner_text()
    assert "cost.png" in {src for src, _, _ in images(page)}  # an LLM spent something: its cost is drawn
    assert all(complete and width > 0 for _, complete, width in images(page))
    assert problems == []


def test_report_of_a_run_that_has_only_just_started(tmp_path):
    from policyforge.report.run_report import write_run_report

    store = Store(tmp_path / "run.sqlite")
    store.set_config({"config": {"task": "k8s-gpu", "proposer": "gp", "max_samples": 10, "limits": {"wall_seconds": 60},
                                 "task_options": {"workload": TINY, "test_workloads": [TINY]}}})
    in_flight = store.insert(sample=0, proposer="gp", status="proposed", code="def score(pod, nodes, cluster): ...\n")
    store.close()
    report = write_run_report(tmp_path)
    page = report.index.read_text()
    assert report.notes == ["no valid candidate yet: only the baselines are drawn"]
    assert f'data-id="{in_flight}"' in page and "No valid candidate yet." in page
    for name in ("progress.png", "statuses.png", "alloc_test1.png"):
        assert (tmp_path / "report" / name).read_bytes().startswith(PNG)


# --- comparison report -------------------------------------------------------------------------------------
def test_simulate_report_in_chromium(browser, tmp_path):
    out = tmp_path / "compare"
    result = cli("simulate", "--workload", TINY, "--policy", "fgd,bestfit,random", "--seeds", "1-2", "--jobs", "1",
                 "--report", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"report: {out / 'index.html'}")
    page, problems = open_page(browser, (out / "index.html").as_uri())
    shown = images(page)
    assert {src for src, _, _ in shown} == {"allocation.png", "fragmentation.png"}
    assert all(complete and width > 0 for _, complete, width in shown), shown
    assert page.locator("#aggregate-table tbody tr").count() == 3
    assert page.locator("#per-seed-table tbody tr").count() == 6
    assert "fgd" in page.locator("#aggregate-table").inner_text()
    assert duplicate_ids(page) == []
    page.screenshot(path=str(tmp_path / "compare-report.png"), full_page=True)
    assert problems == []


def test_simulate_report_replay_and_json_stdout_stays_json(tmp_path):
    out = tmp_path / "replay"
    result = cli("simulate", "--workload", TINY, "--policy", "fgd", "--seeds", "1", "--mode", "replay", "--jobs", "1",
                 "--json", "--report", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("{") and f"report: {out / 'index.html'}" in result.stderr
    assert (out / "timeline.png").read_bytes().startswith(PNG)
    assert 'id="per-seed-table"' in (out / "index.html").read_text()


# --- serve -------------------------------------------------------------------------------------------------
def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode("utf-8", "replace")


def poll(condition, seconds: float = 60.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_serve_answers_and_follows_a_changing_run(run_dir, tmp_path):
    run = copy_run(run_dir, tmp_path / "run")
    server = subprocess.Popen([sys.executable, "-m", "policyforge.cli", "serve", str(run), "--port", "0",
                               "--interval", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        port = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert port, first + server.stderr.read()
        url = f"http://127.0.0.1:{port.group(1)}/"

        def full_report() -> tuple[int, str] | None:
            answer = fetch(url)
            return answer if 'id="leaderboard-table"' in answer[1] else None

        status, body = poll(full_report)
        assert status == 200 and "<title>policyforge run: run</title>" in body
        assert fetch(url + "progress.png")[0] == 200
        store = Store(run / "run.sqlite")  # the run moves on: a new candidate appears in its database
        new = store.insert(sample=store.next_sample(), proposer="gp", status="proposed", code="def score(): pass\n")
        store.close()
        poll(lambda: f'data-id="{new}"' in fetch(url)[1])
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_served_page_reloads_itself_when_regenerated(run_dir, browser, tmp_path):
    run = copy_run(run_dir, tmp_path / "run")
    server = subprocess.Popen([sys.executable, "-m", "policyforge.cli", "serve", str(run), "--port", "0",
                               "--interval", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = "http://127.0.0.1:{}/".format(re.search(r":(\d+)/", server.stdout.readline()).group(1))
        poll(lambda: 'id="leaderboard-table"' in fetch(url)[1])
        page, problems = open_page(browser, url)
        page.evaluate("window.sameDocument = true")
        before = len(leaderboard_ids(page))
        store = Store(run / "run.sqlite")
        store.insert(sample=store.next_sample(), proposer="gp", status="proposed", code="def score(): pass\n")
        store.close()

        def reloaded() -> bool:  # polled from here: the page's CSP forbids wait_for_function's string eval
            try:
                return page.evaluate("window.sameDocument") is None and len(leaderboard_ids(page)) == before + 1
            except Exception:  # the document is being replaced under us
                return False

        poll(reloaded, 30)
        assert problems == []
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0


# --- evolve ------------------------------------------------------------------------------------------------
@needs_sandbox
def test_evolve_writes_the_report_on_ctrl_c(tmp_path):
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "policyforge.cli", "evolve", "--workload", TINY, "--run-dir",
                                str(run), "--max-samples", "200", "--seed", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def under_way() -> bool:
        try:
            with sqlite3.connect(run / "run.sqlite") as db:
                return db.execute("SELECT COUNT(*) FROM candidates").fetchone()[0] >= 1
        except sqlite3.OperationalError:  # the file exists before its tables do
            return False

    try:
        poll(lambda: (run / "run.sqlite").exists() and under_way(), 300)
    except (AssertionError, sqlite3.Error):
        process.kill()
        raise
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "interrupted; resume with" in err
    assert f"report: {run / 'report' / 'index.html'}" in out
    assert sorted(int(i) for i in re.findall(r'data-id="(\d+)"', (run / "report" / "index.html").read_text())) \
        == sorted(store_ids(run))


def test_a_failing_report_is_one_warning_not_the_runs_outcome(tmp_path, monkeypatch, capsys):
    from policyforge import cli as cli_module
    from policyforge.report import run_report

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(run_report, "write_run_report", broken)
    lines: list[str] = []
    cli_module._report_after_run(tmp_path, lines.append)
    assert lines[-1].startswith("warning: report not written (OSError: disk full)")
    assert capsys.readouterr().out == ""
