"""Load and validate a release: manifest, schedule markdown, integration tests, FU specs.

The one entry point the CLI and daemon call. Everything found wrong is reported at once, one
line per problem (`file:line:col: field: problem (fix)`), as ValidationFailed (exit 2);
nothing is written, on success or failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from orchestrator.adapters.fu_manifests import apply_fu_manifests
from orchestrator.adapters.manifest_yaml import ManifestData, parse_manifest
from orchestrator.adapters.release_paths import (
    MANIFEST,
    locate_release_dir,
    read_text,
    release_repository,
)
from orchestrator.core.estimates import display_unit, estimate_from_entry, estimates_from_markdown
from orchestrator.core.integration_md import parse_integration_md
from orchestrator.core.plan_checks import Finding, check_plan, derive_batches
from orchestrator.core.schedule_md import MdSchedule, describe_difference, parse_schedule_md
from orchestrator.errors import LocatedError, ValidationFailed
from orchestrator.models.batch_id import format_batch_id
from orchestrator.models.release import (
    Batch,
    FeatureUnit,
    IntegrationTest,
    ReleasePlan,
    Source,
    StrategyType,
    Warning_,
)

SCHEDULE_MD = "execution_schedule.md"
INTEGRATION_MD = "integration_tests.md"
_SPEC_SKIP_DIRS = {"standards", "templates", "archive"}


MAX_STATUS_NAME_LENGTH = 200
"""Room for the temp files orchd writes beside it (`.<name>.<random>.tmp`)."""


def _existing_status_problem(path: Path, release_id: str) -> str | None:
    """Why an existing file at the status path must not be replaced; None when it may be."""
    if not path.is_file():
        return "exists and is not a file"
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return "exists and is not JSON: orchd would overwrite it"
    if not isinstance(raw, dict) or not {"release_id", "orchestrator"} <= raw.keys():
        return (
            "exists and is not an orchd status file (no `release_id` and `orchestrator` keys): "
            "orchd would overwrite it"
        )
    if raw["release_id"] != release_id:
        return (
            f"is the status file of release {raw['release_id']!r}, not {release_id!r}: "
            "orchd would take over that release's state"
        )
    return None


def _status_example(relative: Path, root: Path | None, folder: Path, release_id: str) -> str:
    """A path the fix can suggest: beside the one given, else in the release folder."""
    beside = relative.with_name("agent_status.json") if relative.name else relative
    nested = len(relative.parts) > 1 and not relative.is_absolute()
    if nested and beside != relative and ".." not in relative.parts:
        return beside.as_posix()
    try:
        if root is not None:
            return (folder.resolve().relative_to(root.resolve()) / "agent_status.json").as_posix()
    except (OSError, ValueError, RuntimeError):
        pass
    return f"docs/releases/{release_id}/agent_status.json"


def _check_status_file(
    data: ManifestData,
    release_id: str,
    root: Path | None,
    release_dir: Path | None,
    folder: Path,
) -> tuple[str | None, LocatedError | None]:
    """The manifest's `agent_spawning.status_file` as an absolute path orchd may write, or why
    not: it must lie in the repository, end in `.json`, and replace only a status file of this
    release (orchd writes it, and its temp files beside it)."""
    value = data.limits.status_file
    if not value:
        return None, None
    key = "execution_strategy.status_file"
    src = data.limit_sources.sources.get(key)
    field = data.limit_sources.labels.get(key, "execution_strategy.agent_spawning.status_file")
    default = "remove status_file to keep agent_status.json in the release folder"

    def refuse(problem: str, fix: str = default) -> tuple[None, LocatedError]:
        file = src.file if src else MANIFEST
        return None, LocatedError(
            file, src.line if src else None, src.col if src else None, field, problem, fix
        )

    relative = Path(value)
    example = _status_example(relative, root, folder, release_id)
    if root is None:
        return refuse(
            f"{value!r} is relative to the repository, and --release-dir {release_dir} is in "
            "none (no docs/releases/ in its path, no .git above it)",
            "keep the release under <repository>/docs/releases/, or " + default,
        )
    if any(len(part) > 255 for part in relative.parts) or len(relative.name) > (
        MAX_STATUS_NAME_LENGTH
    ):
        return refuse(
            f"{value[:40]!r}… is too long: at most {MAX_STATUS_NAME_LENGTH} characters "
            "in its file name",
            f"use a path such as {example}",
        )
    if relative.suffix.lower() != ".json":
        return refuse(
            f"{value!r} does not end in .json: orchd would write its status JSON there",
            f"use a path such as {example}, or {default}",
        )
    if ".git" in relative.parts:
        return refuse(f"{value!r} is inside .git/", default)
    path = root / relative
    try:
        resolved, top = path.resolve(), root.resolve()
        if not resolved.is_relative_to(top):
            return refuse(
                f"{value!r} is outside the repository ({top}): orchd must not write there",
                f"use a path relative to the repository root, such as {example}",
            )
        problem = _existing_status_problem(resolved, release_id) if resolved.exists() else None
    except OSError as exc:
        return refuse(f"{value!r} cannot be checked: {exc.strerror}")
    except RuntimeError:  # a symlink loop
        return refuse(f"{value!r} cannot be checked: symlink loop")
    if problem is not None:
        return refuse(
            f"{value!r} {problem}",
            f"point status_file at a new file such as {example}, or {default}",
        )
    return str(path), None


def _schedule(
    data: ManifestData, md: MdSchedule | None, md_file: str, units: Iterable[FeatureUnit]
) -> tuple[list[Batch], str, list[Finding]]:
    """Batches from the manifest, else the markdown, else derived; with the warnings that says."""
    warnings: list[Finding] = []
    md_batches = [
        Batch(
            batch_id=b.batch_id,
            feature_units=b.feature_units,
            dependencies=b.dependencies,
            title=b.title,
            source=Source(file=md_file, line=b.line),
        )
        for b in (md.batches if md else ())
    ]
    if md is not None:
        for line, note in md.notes:
            warnings.append(
                Finding(
                    "warning", "schedule_md", SCHEDULE_MD, note, "", Source(file=md_file, line=line)
                )
            )
    if data.batches is not None:
        if md_batches:

            def as_map(batches: list[Batch]) -> dict[Decimal, frozenset[str]]:
                return {
                    b.batch_id: frozenset(f for f in b.feature_units if f not in data.deferred)
                    for b in batches
                    if any(f not in data.deferred for f in b.feature_units)
                }

            ours, theirs = as_map(data.batches), as_map(md_batches)
            if ours != theirs:
                warnings.append(
                    Finding(
                        "warning",
                        "schedule_disagrees",
                        SCHEDULE_MD,
                        f"batches differ from manifest.yaml ({describe_difference(ours, theirs)}); "
                        "the manifest wins",
                        "make the two agree",
                        Source(
                            file=md_file,
                            line=md_batches[0].source.line if md_batches[0].source else None,
                        ),
                    )
                )
            titles = {b.batch_id: b.title for b in md_batches}
            batches = [
                b if b.title else b.model_copy(update={"title": titles.get(b.batch_id, "")})
                for b in data.batches
            ]
            return batches, "manifest.yaml", warnings
        return list(data.batches), "manifest.yaml", warnings
    if md_batches and any(b.feature_units for b in md_batches):
        origin = md.origin if md else ""
        return md_batches, f"{SCHEDULE_MD} ({origin})", warnings
    derived = list(derive_batches(list(units), set(data.deferred)))
    if derived:
        warnings.append(
            Finding(
                "warning",
                "derived_batches",
                "execution_schedule",
                f"no batches in manifest.yaml or {SCHEDULE_MD}: derived {len(derived)} "
                "batches from the FU dependencies (topological layers)",
                "add execution_schedule.batches to choose them",
            )
        )
    return derived, "derived from dependencies", warnings


def find_spec(repo_root: Path, fu_id: str) -> str | None:
    """`docs/feature_units/<state>/<FU>/<FU>_spec.md` (or any *spec*.md there), repo-relative."""
    base = repo_root / "docs" / "feature_units"
    if not base.is_dir():
        return None
    states = sorted(p for p in base.iterdir() if p.is_dir() and p.name not in _SPEC_SKIP_DIRS)
    for state in states:
        for candidate in (state / fu_id / f"{fu_id}_spec.md", state / f"{fu_id}_spec.md"):
            if candidate.is_file():
                return candidate.relative_to(repo_root).as_posix()
        folder = state / fu_id
        if folder.is_dir():
            specs = sorted(p for p in folder.glob("*spec*.md") if p.is_file())
            if specs:
                return specs[0].relative_to(repo_root).as_posix()
    return None


def _with_estimates(
    units: list[FeatureUnit], md_text: str | None, md_file: str
) -> tuple[list[FeatureUnit], str]:
    """Each FU's expected hours: its own entry's `estimate`, else the schedule's tables and
    lists; and the unit the schedule writes them in."""
    from_md = estimates_from_markdown(md_text, file=md_file) if md_text else {}
    result: list[FeatureUnit] = []
    units_seen: list[str] = []
    for unit in units:
        found = estimate_from_entry(unit.id, unit.extra) or from_md.get(unit.id)
        if found is None:
            result.append(unit)
            continue
        estimate, written_in = found
        units_seen.append(written_in)
        result.append(
            unit.model_copy(
                update={"estimate_hours": estimate.hours, "estimate_source": estimate.where}
            )
        )
    return result, display_unit(units_seen)


def _with_specs(
    units: list[FeatureUnit], repository: Path | None, where: Source
) -> tuple[list[FeatureUnit], list[Finding]]:
    """Specs are looked up in the release's repository, never in the current directory."""
    result: list[FeatureUnit] = []
    missing: list[str] = []
    for unit in units:
        spec = unit.spec_path or (find_spec(repository, unit.id) if repository else None)
        if spec is None:
            missing.append(unit.id)
        result.append(unit.model_copy(update={"spec_path": spec}))
    warnings = []
    if missing:
        warnings.append(
            Finding(
                "warning",
                "no_spec",
                "feature_units",
                f"no spec found under docs/feature_units/ for {', '.join(missing)}",
                "add docs/feature_units/<state>/<FU>/<FU>_spec.md so workers can read it",
                where,
            )
        )
    return result, warnings


def _test_findings(
    tests: tuple[IntegrationTest, ...], batch_ids: set[Decimal], file: str
) -> list[Finding]:
    found: list[Finding] = []
    unbatched = [t.id for t in tests if not t.batches]
    if unbatched:
        found.append(
            Finding(
                "warning",
                "test_without_batch",
                INTEGRATION_MD,
                f"{', '.join(unbatched)} name no batch: they run only in the final full suite",
                "add `**Batches Covered:** …` to each test",
                Source(file=file),
            )
        )
    for test in tests:
        unknown = [format_batch_id(b) for b in test.batches if b not in batch_ids]
        if unknown:
            found.append(
                Finding(
                    "warning",
                    "test_unknown_batch",
                    f"{INTEGRATION_MD}[{test.id}]",
                    f"covers batch {', '.join(unknown)}, which is not in the plan: not gated there",
                    "fix `Batches Covered`",
                    test.source,
                )
            )
    return found


def _to_error(finding: Finding) -> LocatedError:
    src = finding.source
    return LocatedError(
        src.file if src else MANIFEST,
        src.line if src else None,
        src.col if src else None,
        finding.field,
        finding.problem,
        finding.fix,
    )


def _in_file_order(errors: list[LocatedError]) -> list[LocatedError]:
    """Per file (in the order files were first named) by line and column; lineless ones last."""
    files: dict[str, int] = {}
    for error in errors:
        files.setdefault(error.file, len(files))
    return sorted(
        errors,
        key=lambda e: (files[e.file], e.line is None, e.line or 0, e.col or 0),
    )


def load_release(
    release_id: str,
    *,
    repo_root: Path,
    release_dir: Path | None = None,
    strategy_override: StrategyType | None = None,
    strict: bool = False,
    strict_batches: bool = False,
) -> ReleasePlan:
    """The validated plan; raises ValidationFailed (exit 2) listing every problem found."""
    folder, note = locate_release_dir(release_id, repo_root, release_dir)
    manifest_file = str(folder / MANIFEST)
    where = Source(file=manifest_file)
    data, col = parse_manifest(
        read_text(folder / MANIFEST), file=manifest_file, strategy_override=strategy_override
    )
    if not data.readable:
        raise ValidationFailed(list(col.errors))
    errors: list[LocatedError] = list(col.errors)
    warnings: list[Finding] = list(col.warnings)
    if data.release_id is None and not errors:
        errors.append(
            LocatedError(
                manifest_file, 1, 1, "release.id", "missing", f"add `release: {{id: {release_id}}}`"
            )
        )
    elif data.release_id is not None and data.release_id != release_id:
        line, column = data.release_pos or (None, None)
        errors.append(
            LocatedError(
                manifest_file,
                line,
                column,
                "release.id",
                f"is {data.release_id!r} but release {release_id!r} was asked for",
                "pass the id the manifest declares, or fix release.id",
            )
        )
    repository = release_repository(repo_root, release_dir)
    status_file, status_error = _check_status_file(
        data, release_id, repository, release_dir, folder
    )
    if status_error is not None:
        errors.append(status_error)

    md_path, it_path = folder / SCHEDULE_MD, folder / INTEGRATION_MD
    md_text = read_text(md_path) if md_path.is_file() else None
    md = parse_schedule_md(md_text) if md_text is not None else None
    titles = md.fu_titles if md else {}
    units = [
        u if u.name or u.id not in titles else u.model_copy(update={"name": titles[u.id]})
        for u in data.feature_units
    ]
    units, estimate_unit = _with_estimates(units, md_text, str(md_path))
    batches, schedule_source, schedule_warnings = _schedule(data, md, str(md_path), units)
    warnings += [
        w if w.source else Finding(w.severity, w.code, w.field, w.problem, w.fix, where)
        for w in schedule_warnings
    ]
    tests = parse_integration_md(read_text(it_path), file=str(it_path)) if it_path.is_file() else ()

    raw = ReleasePlan(
        release_id=release_id,
        name=data.name,
        status=data.status,
        release_dir=str(folder),
        repository=str(repository) if repository is not None else None,
        limits=data.limits.model_copy(update={"status_file": status_file}),
        feature_units=tuple(units),
        batches=tuple(batches),
        deferred=tuple(data.deferred),
        integration_tests=tests,
        checkpoints=tuple(data.checkpoints),
        schedule_source=schedule_source,
        estimate_unit=estimate_unit,
    )
    findings = check_plan(
        raw,
        strict_batches=strict_batches,
        where=where,
        limit_sources=data.limit_sources.sources,
        limit_labels=data.limit_sources.labels,
    )
    errors += [_to_error(f) for f in findings if f.severity == "error"]
    warnings += [f for f in findings if f.severity == "warning"]

    running = [b for b in batches if any(f not in data.deferred for f in b.feature_units)]
    batch_ids = {b.batch_id for b in running}
    for checkpoint in data.checkpoints:
        if checkpoint.after_batch not in batch_ids:
            warnings.append(
                Finding(
                    "warning",
                    "checkpoint_unknown_batch",
                    checkpoint.label,
                    f"checkpoint {checkpoint.name} is after batch "
                    f"{format_batch_id(checkpoint.after_batch)}, which is not in the plan: "
                    "that review pause will not happen",
                    "use one of: " + ", ".join(format_batch_id(b) for b in sorted(batch_ids)),
                    checkpoint.source or where,
                )
            )
    warnings += _test_findings(tests, batch_ids, str(it_path))
    kept = [u for u in units if u.id not in data.deferred]
    kept, spec_warnings = _with_specs(kept, repository, where)
    warnings += spec_warnings
    kept, fu_notes = apply_fu_manifests(kept, repository) if repository else (kept, [])

    if strict:
        errors += [_to_error(w) for w in warnings]
    if errors:
        raise ValidationFailed(_in_file_order(errors))
    final_batches = tuple(
        b.model_copy(
            update={"feature_units": tuple(f for f in b.feature_units if f not in data.deferred)}
        )
        for b in running
    )
    return raw.model_copy(
        update={
            "feature_units": tuple(kept),
            "batches": final_batches,
            "warnings": tuple(
                Warning_(
                    code=w.code,
                    message=w.render().removeprefix(f"{w.source.render()}: " if w.source else ""),
                    source=w.source,
                )
                for w in warnings
            ),
            "notes": ((note,) if note else ()) + tuple(fu_notes),
        }
    )
