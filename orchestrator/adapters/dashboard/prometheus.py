"""`/metrics`: the seed's release metrics as Prometheus series, one set per release.

A custom collector reads the status files at scrape time (no global registry, no state kept
between scrapes), so the numbers are the dashboard's, for any release under the repo, whether
or not an orchd runs it. Series are labelled `release` (and `batch`, `status` where they say
so); ratios are 0–1, times in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from orchestrator.models.dashboard import ReleaseView
from orchestrator.models.status import FuStatus

_PER_RELEASE: tuple[tuple[str, str], ...] = (
    ("orchd_release_feature_units", "FUs of the release (all statuses)"),
    ("orchd_release_landed_ratio", "FUs landed on the release branch / all FUs"),
    ("orchd_release_active_agents", "Agents at work: FUs launching, running or stale"),
    ("orchd_release_max_parallel_fus", "The manifest's limit on FUs at once"),
    ("orchd_release_agent_utilization_ratio", "Active agents / max_parallel_fus"),
    ("orchd_release_failure_ratio", "FUs failed or needing a human / all FUs"),
    ("orchd_release_retry_ratio", "Attempts beyond each FU's first / all FUs"),
    ("orchd_release_fu_duration_mean_seconds", "Mean agent time to delivery of finished FUs"),
    ("orchd_release_calendar_seconds", "Release start to its end, or to now"),
    ("orchd_release_sequential_seconds", "Sum of FU durations: one after another"),
    ("orchd_release_calendar_time_saved_seconds", "Sequential sum minus calendar time"),
    ("orchd_release_eta_seconds", "Estimated time until the agents' work is done"),
    ("orchd_release_awaiting_decision", "1 while orchd waits for `orchd decide`"),
    ("orchd_release_alerts", "Entries in the status file's alerts[]"),
    ("orchd_release_status_file_timestamp_seconds", "When the status file was last written"),
)


def _value(view: ReleaseView, name: str) -> float | None:
    m, p = view.metrics, view.progress
    values: dict[str, float | None] = {
        "orchd_release_feature_units": p.total,
        "orchd_release_landed_ratio": p.landed / p.total if p.total else 0.0,
        "orchd_release_active_agents": m.active_agents,
        "orchd_release_max_parallel_fus": m.max_parallel_fus,
        "orchd_release_agent_utilization_ratio": m.utilization,
        "orchd_release_failure_ratio": m.failure_rate,
        "orchd_release_retry_ratio": m.retry_rate,
        "orchd_release_fu_duration_mean_seconds": m.mean_fu_duration_s,
        "orchd_release_calendar_seconds": m.calendar_s,
        "orchd_release_sequential_seconds": m.sequential_s,
        "orchd_release_calendar_time_saved_seconds": m.time_saved_s,
        "orchd_release_eta_seconds": p.eta_s,
        "orchd_release_awaiting_decision": 1.0 if view.awaiting else 0.0,
        "orchd_release_alerts": len(view.alerts),
        "orchd_release_status_file_timestamp_seconds": (
            view.file_written_at.timestamp() if view.file_written_at else None
        ),
    }
    return values[name]


class ReleaseCollector(Collector):
    """Reads every release's view when scraped; `views` is the dashboard's own reader."""

    def __init__(self, views: Callable[[], list[ReleaseView]]) -> None:
        self._views = views

    def describe(self) -> Iterable[Metric]:
        return []  # nothing is read when the collector is registered

    def collect(self) -> Iterator[Metric]:
        views = self._views()
        info = InfoMetricFamily(
            "orchd_release", "A release under the repo: its status and folder", labels=["release"]
        )
        for view in views:
            info.add_metric([view.release_id], {"status": view.status, "location": view.location})
        yield info
        read = [v for v in views if v.status_file is not None and v.read_error is None]
        for name, documentation in _PER_RELEASE:
            family = GaugeMetricFamily(name, documentation, labels=["release"])
            for view in read:
                value = _value(view, name)
                if value is not None:
                    family.add_metric([view.release_id], float(value))
            yield family
        yield from self._by_status(read)
        yield from self._by_batch(read)

    @staticmethod
    def _by_status(views: list[ReleaseView]) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "orchd_release_feature_units_by_status",
            "FUs of the release in each status (every known status, 0 when none)",
            labels=["release", "status"],
        )
        for view in views:
            counts = {s.value: 0 for s in FuStatus} | view.metrics.fus_by_status
            for status, count in sorted(counts.items()):
                family.add_metric([view.release_id, status], float(count))
        yield family

    @staticmethod
    def _by_batch(views: list[ReleaseView]) -> Iterator[Metric]:
        mean = GaugeMetricFamily(
            "orchd_batch_fu_duration_mean_seconds",
            "Mean agent time to delivery of the batch's finished FUs",
            labels=["release", "batch"],
        )
        since = GaugeMetricFamily(
            "orchd_batch_seconds_since_progress",
            "Seconds since the batch's latest FU update, while the batch is in progress",
            labels=["release", "batch"],
        )
        for view in views:
            seen_mean: set[str] = set()
            seen_since: set[str] = set()
            # Worker-written files can repeat a batch id (0, 0, 0): one series per id, the first.
            for batch in view.batches:
                if batch.mean_fu_duration_s is not None and batch.batch_id not in seen_mean:
                    seen_mean.add(batch.batch_id)
                    mean.add_metric([view.release_id, batch.batch_id], batch.mean_fu_duration_s)
                if batch.seconds_since_progress is not None and batch.batch_id not in seen_since:
                    seen_since.add(batch.batch_id)
                    since.add_metric(
                        [view.release_id, batch.batch_id], batch.seconds_since_progress
                    )
        yield mean
        yield since


def metrics_text(views: Callable[[], list[ReleaseView]], accept: str) -> tuple[bytes, str]:
    """One scrape: a fresh registry around the collector, in the format the scraper asked for
    (Prometheus' text format 0.0.4 by default, OpenMetrics when its Accept header says so);
    returns the body and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReleaseCollector(views))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
