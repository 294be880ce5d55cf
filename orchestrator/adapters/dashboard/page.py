"""The dashboard's HTML: one fragment per release, and the page that holds them.

A fragment is a whole `<details id="release-<id>">`: the page is its fragments, and a live
update over SSE replaces one fragment, so what the page shows after an update is exactly what a
fresh load would show. Everything from a status file is escaped; only http(s) PR links and
Cursor agent links (built by us) become links.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from html import escape
from importlib import resources
from string import Template

from orchestrator.adapters.dashboard.timeline_svg import status_class, timeline_svg
from orchestrator.adapters.dashboard.units import duration_text, percent_text
from orchestrator.models.dashboard import (
    BatchView,
    FuView,
    GateView,
    Metrics,
    ReleaseView,
)

_SHA = 12
_ERRORS_SHOWN = 20
LIVE_RELEASES = frozenset({"running", "pending"})


@cache
def asset_text(name: str) -> str:
    """A file of the page (template, CSS, JS) shipped in orchestrator/data/dashboard."""
    return resources.files("orchestrator").joinpath("data/dashboard", name).read_text("utf-8")


def _t(value: object) -> str:
    return escape("" if value is None else str(value))


def _when(value: datetime | None) -> str:
    if value is None:
        return "–"
    iso = value.isoformat()
    return f'<time datetime="{escape(iso)}">{value.strftime("%Y-%m-%d %H:%M:%S")}Z</time>'


def _code(value: str | None, length: int | None = None) -> str:
    if not value:
        return "–"
    return f"<code>{_t(value[:length] if length else value)}</code>"


def _link(url: str | None, text: str) -> str:
    if not url or not url.startswith(("https://", "http://")):
        return _t(text) if text else "–"
    return f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{_t(text)}</a>'


def _agent(url: str | None, agent_id: str | None) -> str:
    """A Cursor agent link, its id shortened (the full id in the tooltip)."""
    if not agent_id:
        return "–"
    short = agent_id if len(agent_id) <= 16 else agent_id[:12] + "…" + agent_id[-4:]
    if url is None:
        return f'<span title="{_t(agent_id)}">{_t(short)}</span>'
    return (
        f'<a href="{escape(url)}" title="{_t(agent_id)}" target="_blank" '
        f'rel="noopener noreferrer">{_t(short)}</a>'
    )


def _badge(status: str) -> str:
    return f'<span class="badge {status_class(status)}">{_t(status)}</span>'


def _banners(view: ReleaseView) -> list[str]:
    parts = []
    for alert in view.alerts:
        where = " · ".join(
            x for x in (alert.batch_id and f"batch {alert.batch_id}", alert.fu_id, alert.at) if x
        )
        parts.append(
            f'<div class="banner alert" role="alert"><strong>{_t(alert.kind)}</strong> '
            f"{_t(alert.message)}{f' <span class=muted>({_t(where)})</span>' if where else ''}"
            "</div>"
        )
    question = view.awaiting
    if question is not None:
        what = question.kind.replace("_", " ")
        if question.batch_id is not None:
            what += f" of batch {question.batch_id}"
        commands = "".join(
            f'<li><code class="command">{_t(c)}</code> '
            f'<button type="button" class="copy" data-copy="{escape(c)}">copy</button></li>'
            for c in question.commands
        )
        reason = f"<p>{_t(question.reason)}</p>" if question.reason else ""
        deadline = f" · deadline {_t(question.deadline)}" if question.deadline else ""
        parts.append(
            f'<div class="banner question" role="alert"><strong>orchd is waiting for a '
            f"decision: {_t(what)}</strong> <span class=muted>since {_t(question.since)}"
            f"{deadline}</span>{reason}<ul class=commands>{commands}</ul></div>"
        )
    if view.read_error:
        parts.append(
            f'<div class="banner alert" role="alert">cannot read the status file: '
            f"{_t(view.read_error)}</div>"
        )
    return parts


def _progress(view: ReleaseView) -> str:
    p = view.progress
    eta = "–" if p.eta_s is None else duration_text(p.eta_s)
    return (
        f'<div class="progress"><progress value="{p.landed}" max="{max(p.total, 1)}"></progress>'
        f' <span class="progress-text" data-landed="{p.landed}" data-total="{p.total}">'
        f"{p.landed}/{p.total} landed ({p.percent:.1f}%)</span>"
        f' <span class="kv">elapsed <b class="elapsed">{duration_text(p.elapsed_s)}</b></span>'
        f' <span class="kv">ETA <b class="eta">{eta}</b></span>'
        f' <span class="kv">current batch <b class="current-batch">'
        f"{_t(view.current_batch or '–')}</b></span></div>"
    )


def _branch(view: ReleaseView) -> str:
    b = view.release_branch
    if not b.name and not b.head:
        return ""
    base = f" (from {_code(b.base_branch)})" if b.base_branch else ""
    return (
        f'<p class="branch">release branch {_code(b.name)} at '
        f'<span class="head">{_code(b.head, _SHA)}</span>{base}</p>'
    )


def _agents(view: ReleaseView) -> str:
    if not view.active_agents:
        return "<p class=muted>No agent at work.</p>"
    rows = "".join(
        f'<tr data-fu="{_t(a.fu_id)}"><td>{_t(a.fu_id)}</td><td>{_badge(a.status)}</td>'
        f"<td>{_agent(a.agent_url, a.agent_id)}</td><td>{_code(a.branch)}</td>"
        f"<td>{_link(a.pr_url, 'PR' if a.pr_url else '')}</td>"
        f"<td>{duration_text(a.running_s)}</td></tr>"
        for a in view.active_agents
    )
    return (
        '<table class="agents"><thead><tr><th>FU</th><th>status</th><th>agent</th>'
        f"<th>branch</th><th>PR</th><th>running</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _fu_row(fu: FuView) -> str:
    problem = fu.error or fu.note or ""
    return (
        f'<tr class="fu-row" data-fu="{_t(fu.fu_id)}" data-status="{_t(fu.status)}">'
        f"<td>{_t(fu.fu_id)}</td><td>{_t(fu.batch_id)}</td>"
        f'<td class="status">{_badge(fu.status)}</td><td class="num">{fu.attempts}</td>'
        f"<td>{_agent(fu.agent_url, fu.agent_id)}</td><td>{_code(fu.branch)}</td>"
        f"<td>{_link(fu.pr_url, 'PR' if fu.pr_url else '')}</td>"
        f"<td>{_when(fu.started_at)}</td><td class=num>{duration_text(fu.duration_s)}</td>"
        f"<td>{_code(fu.merge_commit, _SHA)}</td><td class=problem>{_t(problem)}</td></tr>"
    )


def _fus(view: ReleaseView) -> str:
    if not view.fus:
        return "<p class=muted>No FU in the status file.</p>"
    return (
        '<table class="fus"><thead><tr><th>FU</th><th>batch</th><th>status</th>'
        "<th>attempts</th><th>agent</th><th>branch</th><th>PR</th><th>launched</th>"
        "<th>duration</th><th>merge</th><th>error / note</th></tr></thead><tbody>"
        + "".join(_fu_row(fu) for fu in view.fus)
        + "</tbody></table>"
    )


def _gate(gate: GateView | None) -> str:
    """The gate's verdict, its tests inline, and its log once when the tests share one."""
    if gate is None:
        return "–"
    tests = " ".join(
        f'<span class="test">{_t(t.id)} {_badge(t.status)} {duration_text(t.duration_s)}</span>'
        for t in gate.tests
    )
    logs = sorted({t.log for t in gate.tests if t.log})
    log = (
        "".join(f'<div class="log muted">log: <code>{_t(name)}</code></div>' for name in logs)
        if len(logs) <= 3
        else f'<div class="log muted">{len(logs)} logs</div>'
    )
    return f"{_badge(gate.status)} {tests}{log}"


def _batch_row(batch: BatchView) -> str:
    return (
        f'<tr data-batch="{_t(batch.batch_id)}"><td>{_t(batch.batch_id)}</td>'
        f"<td>{_badge(batch.status)}</td><td class=num>{batch.landed}/{batch.fus}</td>"
        f"<td class=num>{duration_text(batch.mean_fu_duration_s)}</td>"
        f"<td class=num>{duration_text(batch.seconds_since_progress)}</td>"
        f"<td>{_gate(batch.gate)}</td><td>{_code(batch.landed_sha, _SHA)}</td></tr>"
    )


def _batches(view: ReleaseView) -> str:
    if not view.batches:
        return ""
    full = (
        f'<p class="full-suite">full suite: {_gate(view.full_suite)}</p>' if view.full_suite else ""
    )
    return (
        '<table class="batches"><thead><tr><th>batch</th><th>status</th><th>landed</th>'
        "<th>mean FU</th><th>since progress</th><th>gate and its tests</th><th>landed at</th>"
        "</tr></thead><tbody>"
        + "".join(_batch_row(b) for b in view.batches)
        + f"</tbody></table>{full}"
    )


def _metrics(m: Metrics) -> str:
    limit = "unknown" if m.max_parallel_fus is None else str(m.max_parallel_fus)
    items = [
        ("agent utilization", f"{percent_text(m.utilization)} ({m.active_agents} / {limit})"),
        ("mean FU duration", duration_text(m.mean_fu_duration_s)),
        ("failure rate", f"{percent_text(m.failure_rate)} ({m.failures})"),
        ("retry rate", f"{percent_text(m.retry_rate)} ({m.retries})"),
        (
            "calendar time saved",
            f"{duration_text(m.time_saved_s)} (calendar {duration_text(m.calendar_s)} vs "
            f"sequential {duration_text(m.sequential_s)})",
        ),
        ("FUs by status", ", ".join(f"{k} {v}" for k, v in m.fus_by_status.items()) or "–"),
    ]
    return (
        '<dl class="metrics">'
        + "".join(f"<dt>{k}</dt><dd>{_t(v)}</dd>" for k, v in items)
        + "</dl>"
    )


def _errors(view: ReleaseView) -> str:
    if not view.errors:
        return "<p class=muted>No errors.</p>"
    shown = view.errors[:_ERRORS_SHOWN]
    more = len(view.errors) - len(shown)
    items = "".join(
        f"<li>{_when(e.at)} {_t(e.fu_id or '')}"
        f"{f' batch {_t(e.batch_id)}' if e.batch_id else ''}: {_t(e.message)}</li>"
        for e in shown
    )
    tail = f"<p class=muted>{more} older in the status file</p>" if more > 0 else ""
    return f'<ol class="errors">{items}</ol>{tail}'


def release_fragment(view: ReleaseView, *, open_: bool) -> str:
    p = view.progress
    where = view.status_file or "no status file yet"
    written = f" · written {_when(view.file_written_at)}" if view.file_written_at else ""
    summary = (
        f"<summary><h2>{_t(view.release_id)}</h2> {_badge(view.status)} "
        f'<span class="summary-progress">{p.landed}/{p.total}</span> '
        f'<span class="muted">{_t(view.location)} · {_t(where)}{written}</span></summary>'
    )
    notes = (
        "<details class=notes><summary>"
        f"{len(view.notes)} note(s) on the file</summary><ul>"
        + "".join(f"<li>{_t(n)}</li>" for n in view.notes)
        + "</ul></details>"
        if view.notes
        else ""
    )
    body = [
        *_banners(view),
        _progress(view),
        _branch(view),
        _metrics(view.metrics),
        "<h3>Timeline</h3>",
        timeline_svg(view.timeline),
        f"<h3>Active agents ({len(view.active_agents)})</h3>",
        _agents(view),
        "<h3>Feature units</h3>",
        _fus(view),
        "<h3>Batches and gates</h3>",
        _batches(view),
        f"<h3>Error log ({len(view.errors)})</h3>",
        _errors(view),
        notes,
    ]
    return (
        f'<details class="release" id="release-{_t(view.release_id)}" '
        f'data-release="{_t(view.release_id)}" data-status="{_t(view.status)}"'
        f"{' open' if open_ else ''}>{summary}<div class=body>{''.join(body)}</div></details>"
    )


def opens_by_default(view: ReleaseView) -> bool:
    """Open what needs eyes: releases in progress, running, or asking a question."""
    return view.location == "in_progress" or view.status in LIVE_RELEASES or bool(view.awaiting)


def page(
    views: list[ReleaseView], *, repo_root: str, base: str, events_url: str, single: bool
) -> str:
    """The whole page; `base` is the relative way back to the dashboard's root (`./`, `../`),
    so it also works behind a proxy that serves it under a prefix."""
    fragments = (
        "".join(release_fragment(v, open_=single or opens_by_default(v)) for v in views)
        or f"<p class=muted>No release under {_t(repo_root)}/docs/releases.</p>"
    )
    title = f"orchd · {views[0].release_id}" if single and views else "orchd dashboard"
    return Template(asset_text("page.html")).substitute(
        title=_t(title),
        repo_root=_t(repo_root),
        base=escape(base),
        events_url=escape(events_url),
        releases=fragments,
        home="" if not single else f'<a href="{escape(base)}">all releases</a>',
    )


def login_page(*, failed: bool, base: str) -> str:
    message = '<p class="banner alert">That token is not right.</p>' if failed else ""
    return Template(asset_text("login.html")).substitute(message=message, base=escape(base))
