"""The HTML report of one evolution run, rebuilt from its run.sqlite alone.

It reads the store the way `runs show` does (so it works on a finished, interrupted or live run) and writes
DIR/index.html with its PNG images beside it. The page has no external reference of any kind, so it can be
opened from disk, attached to a ticket or served by `policyforge serve`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policyforge.report.lineage import ancestors, main_line, similarity, unified_diff
from policyforge.report.run_plots import STATUS_GROUPS, cost_plot, progress_plot, status_plot
from policyforge.report.task_sections import task_sections
from policyforge.search.runs import open_run, run_verdict, selected_best
from policyforge.search.store import Candidate
from policyforge.search.verdict import Verdict, label
from policyforge.toolkit import html as h


@dataclass
class RunData:
    """What the report needs from the store, read once and closed, so a live run is not held up."""

    run_dir: Path
    config: dict[str, Any]
    candidates: list[Candidate]
    best: Candidate | None
    verdict: Verdict | None = None

    @property
    def by_id(self) -> dict[int, Candidate]:
        return {c.id: c for c in self.candidates}

    @property
    def samples(self) -> list[Candidate]:
        return sorted((c for c in self.candidates if c.sample is not None), key=lambda c: c.sample or 0)

    @property
    def baselines(self) -> dict[str, Candidate]:
        return {c.name or f"#{c.id}": c for c in self.candidates if c.proposer == "baseline" and c.status == "ok"}


@dataclass
class RunReport:
    index: Path
    notes: list[str] = field(default_factory=list)


def load(run_dir: Path) -> RunData:
    store = open_run(run_dir)
    try:
        stored = store.config()
        config = dict(stored.get("config", {}))
        if stored.get("instance_key") and config:  # the task sections replay the run's own instances
            config["instance_key"] = stored["instance_key"]
        return RunData(run_dir, config, store.all(), selected_best(store), run_verdict(store))
    finally:
        store.close()


def write_run_report(run_dir: str | Path, out_dir: str | Path | None = None) -> RunReport:
    """Write the report of `run_dir` into `out_dir` (default RUN_DIR/report); returns index.html's path.

    The page always carries the small reload script: it does nothing from disk, and when served it follows
    regenerations whoever writes them (`serve`, or `evolve` writing its final report into the same folder)."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    data = load(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    sections = [
        h.Section("summary", "Summary", _summary(data)),
        h.Section("verdict", "Verdict on held-out test instances", _verdict(data)),
        h.Section("progress", "Progress", _progress(data, out)),
        h.Section("outcomes", "Candidate outcomes", _outcomes(data, out)),
        *_task_sections(data, out, notes),
        h.Section("proposers", "Proposers: tokens and cost", _proposers(data, out)),
        h.Section("lineage", "Lineage of the best", _lineage(data)),
        h.Section("leaderboard", f"Leaderboard ({len(data.candidates)} candidates)", _leaderboard(data)),
    ]
    config = data.config
    subtitle = (f"{run_dir} · task {config.get('task', '?')} · proposer {config.get('proposer', '?')} · "
                f"seed {config.get('seed', '?')} · generated {time.strftime('%Y-%m-%d %H:%M:%S')}")
    index = h.finish_page(out, h.page(f"policyforge run: {run_dir.name}", subtitle, sections, live=True))
    return RunReport(index, notes)


# --- sections ------------------------------------------------------------------------------------------
def _summary(data: RunData) -> str:
    config, samples, best = data.config, data.samples, data.best
    counts: dict[str, int] = {}
    for c in samples:
        counts[c.status] = counts.get(c.status, 0) + 1
    valid = sum(1 for c in samples if c.status in ("ok", "screened_out"))
    cost = sum(c.cost_usd for c in data.candidates)
    pairs = [
        ("run directory", h.esc(data.run_dir)),
        ("task options", h.esc(", ".join(f"{k}={v}" for k, v in (config.get("task_options") or {}).items()))),
        ("samples", f"{len(samples)} of {h.esc(config.get('max_samples', '?'))}"),
        ("valid (ok + screened out)", f"{valid}" + (f" ({100 * valid / len(samples):.0f}%)" if samples else "")),
        ("statuses", h.esc(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none yet")),
        ("LLM cost", f"${cost:.4f}"),
    ]
    baselines = data.baselines
    if baselines:
        name, top = max(baselines.items(), key=lambda kv: kv[1].score or 0)
        pairs.append(("best baseline (train)", f"{h.esc(name)} {h.num(top.score)}"))
        tested = {n: c.test_score for n, c in baselines.items() if c.test_score is not None}
        if tested:
            t_name, t_score = max(tested.items(), key=lambda kv: kv[1])
            pairs.append(("best baseline (test)", f"{h.esc(t_name)} {h.num(t_score)}"))
    if best is None:
        pairs.append(("selected best", "none yet"))
    else:
        pairs.append(("selected best", f'<a href="#cand-{best.id}">candidate {best.id}</a> ({h.esc(best.proposer)}): '
                      f"train {h.num(best.score)}, validation {h.num(best.validation_score) or 'n/a'}, "
                      f"test {h.num(best.test_score) or 'not measured yet'}"))
    return h.key_values(pairs)


def _verdict(data: RunData) -> str:
    """The selected candidate against every baseline per held-out group: paired differences over the
    group's seeds with 95% intervals, the best baseline of each group, and the conclusion in words."""
    verdict = data.verdict
    if verdict is None:
        return "<p>Not available yet: the selected candidate and the baselines are measured on the held-out " \
               "test instances when the search ends.</p>"
    names = sorted(verdict.overall.baselines, key=lambda b: -verdict.overall.baselines[b])
    rows = []
    for r in [*verdict.groups, *verdict.aggregates, verdict.overall] if len(verdict.groups) > 1 else verdict.groups:
        diff = r.vs_best
        rows.append([h.esc(label(r.group)), h.num(r.seeds), h.num(r.candidate, 2),
                     *[h.num(r.baselines[n], 2) for n in names], h.esc(r.best_baseline), h.esc(diff.text())])
    cls = "improved" if verdict.improved else "not-improved"
    parts = [f'<p class="verdict {cls}"><strong>{h.esc(verdict.conclusion)}</strong></p>']
    parts += [h.note(n) for n in verdict.notes]
    parts.append(h.table(["held-out group", "seeds", "selected", *names, "best baseline",
                          "selected − best (95% CI)"], rows, numeric=range(1, 3 + len(names))))
    detail = []
    for r in [*verdict.groups, *verdict.aggregates, verdict.overall] if len(verdict.groups) > 1 else verdict.groups:
        detail += [[h.esc(label(r.group)), h.esc(n), h.esc(r.differences[n].text())] for n in names]
    parts.append("<details><summary>selected − each baseline, per group (95% CI)</summary>"
                 + h.table(["held-out group", "baseline", "difference (95% CI)"], detail) + "</details>")
    parts.append("<p>Differences are paired: the selected candidate and each baseline run on the same held-out "
                 "instances, and a group's seeds are its repeats (Student t). The overall row weights every "
                 "group equally. A gain is claimed only when its interval excludes zero.</p>")
    return "".join(parts)


def _progress(data: RunData, out: Path) -> str:
    samples = data.samples
    seeds = [c.score for c in data.candidates if c.proposer == "seed" and c.status == "ok" and c.score is not None]
    baselines = {n: c.score for n, c in data.baselines.items() if c.score is not None}
    progress_plot([c.sample or 0 for c in samples], [c.score if c.status == "ok" else None for c in samples],
                  max(seeds) if seeds else None, baselines, out / "progress.png",
                  "best mean train score so far against sample number")
    return (h.image("progress.png", "best train score so far against sample number, baselines as lines")
            + "<p>The black line is the best train score among seed programs and samples up to that point; "
              "dashed lines are the baselines' train scores. Screened-out samples have no train score.</p>")


def _outcomes(data: RunData, out: Path) -> str:
    statuses = [c.status for c in data.samples]
    status_plot(statuses, out / "statuses.png")
    rows = [[h.esc(label), h.num(sum(s in members for s in statuses))] for label, members, _ in STATUS_GROUPS]
    return (h.image("statuses.png", "cumulative candidate outcomes over samples")
            + h.table(["outcome", "samples"], rows, numeric=[1]))


def _task_sections(data: RunData, out: Path, notes: list[str]) -> list[h.Section]:
    """The task's own sections (curves and the like), each a section of this page."""
    found = task_sections(data.config, data.best, out, notes)
    said = "".join(h.note(n) for n in notes)
    return [h.Section(f"task-{i}", title, (said if i == 1 else "") + body)
            for i, (title, body) in enumerate(found, start=1)]


def _proposers(data: RunData, out: Path) -> str:
    samples = data.samples
    by_proposer: dict[str, list[Candidate]] = {}
    for c in samples:
        by_proposer.setdefault(c.proposer, []).append(c)
    rows = []
    for name, group in sorted(by_proposer.items()):
        rows.append([h.esc(name), h.num(len(group)),
                     h.num(sum(1 for c in group if c.status in ("ok", "screened_out"))),
                     h.num(sum(c.tokens_in for c in group)), h.num(sum(c.tokens_out for c in group)),
                     f"{sum(c.cost_usd for c in group):.4f}",
                     h.num(sum(c.propose_seconds for c in group) / len(group), 2)])
    body = h.table(["proposer", "samples", "valid", "prompt tokens", "completion tokens", "cost USD",
                    "mean propose s"], rows, numeric=range(1, 7)) if rows else "<p>No samples yet.</p>"
    llm = data.config.get("llm") or {}
    if llm:
        body += h.key_values((k, h.esc(v)) for k, v in llm.items() if k != "api_key")
    used = any(c.tokens_in or c.tokens_out or c.cost_usd for c in samples)
    if used:
        cost_plot([c.sample or 0 for c in samples], [c.proposer for c in samples],
                  [c.tokens_in + c.tokens_out for c in samples], [c.cost_usd for c in samples], out / "cost.png")
        body += h.image("cost.png", "cumulative tokens and cost per proposer")
    else:
        (out / "cost.png").unlink(missing_ok=True)
        body += "<p>No LLM tokens were spent in this run.</p>"
    return body


def _lineage(data: RunData) -> str:
    best = data.best
    if best is None:
        return "<p>No valid candidate yet.</p>"
    by_id = data.by_id
    line = main_line(best, by_id)
    if len(line) == 1:
        return (f"<p>Candidate {_link(best.id)} ({h.esc(_who(best))}) has no parents: it is where the search "
                "started.</p>")
    rows = [[_link(c.id), h.esc(_who(c)), _badge(c.status), h.num(c.score),
             h.num(similarity(c.code, line[i + 1].code), 2) if i + 1 < len(line) else ""]
            for i, c in enumerate(line)]
    parts = ["<p>From the oldest ancestor to the selected best, following at each step the parent whose code "
             "is closest to the child's; every diff is from one version to the next.</p>",
             h.table(["candidate", "proposer", "status", "train", "similarity to next"], rows, numeric=[3, 4])]
    for old, new in zip(line, line[1:], strict=False):
        how = (new.prompt or "").splitlines()[0][:160] if new.prompt else ""
        parts.append(f'<details open><summary>{h.esc(f"candidate {old.id} → candidate {new.id}")}'
                     f'{(" · " + h.esc(how)) if how else ""}</summary>{h.diff_block(unified_diff(old, new))}</details>')
    everyone = ancestors(best, by_id)
    rows = [[_link(c.id), h.esc(c.sample if c.sample is not None else ""), h.esc(_who(c)), _badge(c.status),
             h.num(c.score), ", ".join(_link(p) for p in c.parents)] for c in everyone]
    parts.append(f"<h3>All ancestors ({len(everyone)})</h3>"
                 + h.table(["candidate", "sample", "proposer", "status", "train", "parents"], rows, numeric=[4]))
    return "".join(parts)


def _leaderboard(data: RunData) -> str:
    best_id = data.best.id if data.best else None

    def order(c: Candidate) -> tuple:
        return (c.score is None, -(c.score or 0.0), c.sample if c.sample is not None else -1, c.id)

    headers = ["id", "sample", "proposer", "status", "train", "validation", "test", "reason"]
    head = "".join(f'<th class="num">{x}</th>' if x in ("train", "validation", "test") else f"<th>{x}</th>"
                   for x in headers)
    rows = []
    for c in sorted(data.candidates, key=order):
        cls = "cand best" if c.id == best_id else "cand baseline" if c.proposer == "baseline" else "cand"
        mark = " ★" if c.id == best_id else ""
        cells = [f"{_link(c.id)}{mark}", h.esc(c.sample if c.sample is not None else ""), h.esc(_who(c)),
                 _badge(c.status), h.num(c.score), h.num(c.validation_score), h.num(c.test_score), h.esc(c.reason)]
        tds = "".join(f'<td class="num">{x}</td>' if i in (4, 5, 6) else f"<td>{x}</td>" for i, x in enumerate(cells))
        rows.append(f'<tr id="cand-{c.id}" class="{cls}" data-id="{c.id}">{tds}</tr>'
                    f'<tr class="more"><td colspan="{len(headers)}">{_candidate_details(c)}</td></tr>')
    return ('<p>Every candidate in the run, baselines and seed programs included, by train score; '
            "★ marks the selected best (best on validation among the top on train).</p>"
            f'<table id="leaderboard-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _candidate_details(c: Candidate) -> str:
    rows = []
    for split, scores in (("train", c.scores), ("validation", c.validation_scores), ("test", c.test_scores)):
        for instance, value in (scores or {}).items():
            metrics = c.metrics.get(instance, {}) if split == "train" and isinstance(c.metrics, dict) else {}
            extra = ", ".join(f"{k} {v:g}" if isinstance(v, int | float) else f"{k} {v}" for k, v in metrics.items()
                              if k != "alloc_at_100")
            rows.append([f'<span title="{h.esc(instance)}">{h.esc(_short(instance))}</span>', split,
                         h.num(value), h.esc(extra)])
    parts = []
    if c.parents:
        parts.append(f"<p>parents: {', '.join(_link(p) for p in c.parents)}</p>")
    parts.append(h.table(["instance", "split", "score", "metrics"], rows, numeric=[2]) if rows
                 else "<p>No per-instance scores.</p>")
    if c.feedback:
        parts.append("<h3>feedback</h3>" + h.pre(c.feedback))
    parts.append("<h3>code</h3>" + (h.pre(c.code) if c.code else "<p>No code.</p>"))
    if c.output:
        parts.append("<h3>evaluation output</h3>" + h.pre(c.output))
    if c.prompt:
        parts.append(f"<details><summary>prompt</summary>{h.pre(c.prompt)}</details>")
    if c.raw_reply:
        parts.append(f"<details><summary>raw reply</summary>{h.pre(c.raw_reply)}</details>")
    return f'<details id="details-{c.id}"><summary>code, per-instance scores, feedback</summary>{"".join(parts)}</details>'


# --- small helpers -------------------------------------------------------------------------------------
def _link(candidate_id: int) -> str:
    return f'<a href="#cand-{int(candidate_id)}">#{int(candidate_id)}</a>'


def _who(c: Candidate) -> str:
    return f"baseline {c.name}" if c.proposer == "baseline" and c.name else c.proposer


def _badge(status: str) -> str:
    return f'<span class="status {h.esc(status)}">{h.esc(status)}</span>'


def _short(instance: str) -> str:
    """`/long/path/tiny.yaml/seed47` -> `tiny.yaml/seed47`; OpenB ids (`default/seed47`) stay as they are."""
    return "/".join(instance.split("/")[-2:])
