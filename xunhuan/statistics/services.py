"""Writes of the statistics: keeping the cells in step with the ledger, rebuilding them,
and the targets and published figures regulators record."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from xunhuan.accounts.selectors import regions_visible_to
from xunhuan.audit.services import audit_record
from xunhuan.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    reason_checked,
)
from xunhuan.jobs.handlers import Progress
from xunhuan.jobs.models import Job
from xunhuan.ledger.models import ChainHead, LedgerEntry
from xunhuan.registry.models import Region, WasteGroup
from xunhuan.statistics.cells import (
    cells_write,
    rollup_apply,
    rollup_rebuild,
    rollup_sums,
    year_cells_write,
)
from xunhuan.statistics.models import (
    CELL_MODELS,
    FillState,
    PublishedFigure,
    StatCell,
    StatPending,
    StatRegionCell,
    StatRouteCell,
    Target,
    TargetMetric,
    TargetScope,
)
from xunhuan.statistics.pending import (
    SYNC_REFRESH_MAX_ENTRIES,
    stat_pending_enqueue,
    stat_pending_mark,
)
from xunhuan.statistics.selectors import target_paths_acted_for

User = AbstractBaseUser | AnonymousUser
FILL_STATE_NAME = "stat_cells"
# Enterprises per transaction of the pending drain: their series are recomputed by one
# set of statements, so a batch costs little more than one enterprise did, while the
# batch's writers wait no longer than a second or so for their chain locks.
DRAIN_BATCH = 100


def stat_cells_refresh(*, enterprise_id: int, seq_from: int, seq_to: int) -> int:
    """Recompute the cells of the wastes that entries ``seq_from``..``seq_to`` of the
    enterprise touched; return the number of cells written.

    Called inside the ledger's writing transaction (``entries_posted``), under the
    enterprise's chain lock, so the cells commit with the entries and no two writers
    recompute the same enterprise at once. A waste's whole series is recomputed
    because its derived indicators carry state from month to month (previous
    years' stock, received waste not yet handled); it is the same computation as
    the rebuild, so incremental and rebuilt cells cannot differ.
    """
    wastes = sorted(
        set(
            LedgerEntry.objects.filter(
                enterprise_id=enterprise_id, seq__gte=seq_from, seq__lte=seq_to
            ).values_list("waste_id", flat=True)
        )
    )
    return stat_cells_recompute(enterprise_id=enterprise_id, wastes=wastes)


def stat_cells_recompute(*, enterprise_id: int, wastes: Sequence[str]) -> int:
    """Recompute the enterprise's cells of ``wastes`` (whole series) and move the region
    rollup by the difference; return the number of cells written. The caller holds the
    enterprise's chain lock (the ledger's transaction)."""
    if not wastes:
        return 0
    marks = ", ".join(["%s"] * len(wastes))
    return _series_recompute(
        lambda a: f"{a}enterprise_id = %s AND {a}waste_id IN ({marks})",
        [enterprise_id, *wastes],
    )


def _series_recompute(series: Callable[[str], str], params: Sequence[Any]) -> int:
    """Recompute the cells of the series ``series`` picks and move the region rollup by
    the difference; return the number of cells written.

    ``series(alias)`` is a condition over ``enterprise_id`` and ``waste_id`` with that
    column prefix ("" for the cell tables, "e." for the ledger); ``params`` are its
    parameters. One set of statements whatever the number of series: the sync refresh
    passes one enterprise, the pending drain a batch of them.
    """
    where = f"WHERE {series('')}"
    before = rollup_sums(where, params)
    with connection.cursor() as cursor:
        for table in (StatCell._meta.db_table, StatRouteCell._meta.db_table):
            cursor.execute(f"DELETE FROM {table} {where}", list(params))  # noqa: S608
    written = cells_write(where=f"WHERE {series('e.')}", params=params)
    # The region rollup moves by the difference, so it stays the sum of the cells;
    # the series' year cells are its own, rewritten.
    rollup_apply(before, rollup_sums(where, params))
    year_cells_write(where, params)
    return written


def on_entries_posted(
    sender: Any, *, enterprise_id: int, seq_from: int, seq_to: int, **_: Any
) -> None:
    """Receiver of ``xunhuan.ledger.signals.entries_posted`` (connected in apps.ready).

    A small write refreshes its cells here, in the ledger's transaction; a larger one
    (``pending.SYNC_REFRESH_MAX_ENTRIES``) marks the touched series in the same
    transaction and queues the drain job once it commits (ADR 0013).
    """
    if seq_to - seq_from + 1 <= SYNC_REFRESH_MAX_ENTRIES:
        stat_cells_refresh(enterprise_id=enterprise_id, seq_from=seq_from, seq_to=seq_to)
        return
    stat_pending_mark(enterprise_id=enterprise_id, seq_from=seq_from, seq_to=seq_to)
    transaction.on_commit(stat_pending_enqueue)


@dataclass(frozen=True)
class DrainResult:
    enterprises: int
    cells: int


def stat_pending_drain(*, progress: Callable[[int, int], None] | None = None) -> DrainResult:
    """Bring every marked (enterprise, waste) series up to date and delete its marks.

    Enterprises are taken ``DRAIN_BATCH`` at a time, each batch one transaction: their
    chain locks first, in id order (the lock their writers take, so a bulk ingest of
    one of them waits or is waited for and no mark is lost between the read and the
    delete), then one set-based recomputation of every series the batch's marks name
    (the same statements as a synchronous refresh), and the marks' deletion. Marks
    made while this runs are taken by a later batch; it returns when none is left.
    Running it twice, or beside another drain, changes nothing the first did not.
    """
    enterprises = cells = 0
    while True:
        ids = list(
            StatPending.objects.order_by("enterprise_id")
            .values_list("enterprise_id", flat=True)
            .distinct()[:DRAIN_BATCH]
        )
        if not ids:
            return DrainResult(enterprises, cells)
        with transaction.atomic():
            list(
                ChainHead.objects.select_for_update()
                .filter(enterprise_id__in=ids)
                .order_by("enterprise_id")
                .values_list("enterprise_id", flat=True)
            )
            # Under the locks no writer can add or take these enterprises' marks, so
            # the statements below, which read them from the table, and the delete agree.
            taken = sorted(
                set(
                    StatPending.objects.filter(enterprise_id__in=ids).values_list(
                        "enterprise_id", flat=True
                    )
                )
            )
            if not taken:
                continue
            cells += _series_recompute(_marked_series(len(taken)), [*taken, *taken])
            StatPending.objects.filter(enterprise_id__in=taken).delete()
            enterprises += len(taken)
        if progress is not None:
            progress(enterprises, cells)


def _marked_series(enterprises: int) -> Callable[[str], str]:
    """The series filter (see ``_series_recompute``) of the marks of ``enterprises``
    enterprises whose ids are the parameters, given twice."""
    in_ids = ", ".join(["%s"] * enterprises)
    marks = StatPending._meta.db_table

    def series(a: str) -> str:
        return (
            f"{a}enterprise_id IN ({in_ids}) AND ({a}enterprise_id, {a}waste_id) IN "  # noqa: S608 - fixed names
            f"(SELECT enterprise_id, waste_id FROM {marks} WHERE enterprise_id IN ({in_ids}))"
        )

    return series


def stat_pending_job(job: Job, progress: Progress) -> None:
    """Handler of the job ``statistics.pending`` (registered in apps.ready)."""
    stat_pending_drain(
        progress=lambda done, cells: progress(
            done=done, message=f"已更新 {done} 家单位的统计 / {done} enterprises, {cells} cells"
        )
    )


@dataclass(frozen=True)
class RebuildResult:
    cells: int
    entries: int
    seconds: float


def stat_cells_rebuild() -> RebuildResult:
    """Rebuild every cell from the whole ledger in one transaction; the same ledger
    always gives the same cells. Records the run in the fill state."""
    started = timezone.now()
    clock = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        # Marks committed before this point are covered by the rebuild's reads below.
        StatPending.objects.all().delete()
        FillState.objects.update_or_create(
            name=FILL_STATE_NAME,
            defaults={"state": FillState.State.STARTED, "started_at": started, "finished_at": None},
        )
        StatRegionCell.objects.all().delete()
        StatRouteCell.objects.all().delete()
        StatCell.objects.all().delete()
        cells = cells_write()
        rollup_rebuild()
        year_cells_write()
        entries = LedgerEntry.objects.count()
        FillState.objects.filter(name=FILL_STATE_NAME).update(
            state=FillState.State.DONE, finished_at=timezone.now(), cells=cells, entries=entries
        )
    return RebuildResult(cells, entries, (dt.datetime.now(dt.UTC) - clock).total_seconds())


def stat_cells_vacuum() -> float:
    """PostgreSQL, outside any transaction: ``VACUUM ANALYZE`` the cell tables, as the
    step after a full rebuild; returns the seconds it took.

    A rebuild leaves every earlier cell dead and none of the new ones marked
    all-visible, so until autovacuum reaches the tables a dashboard reads a table row
    for each index entry instead of the covering index alone (10M region: province
    dashboard 14.6 ms right after a rebuild, 11.1 ms after this step, which took
    6.5 s)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        raise RuntimeError("VACUUM needs PostgreSQL outside a transaction")
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in CELL_MODELS)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {tables}")
    return time.perf_counter() - started


def _region_in_jurisdiction(user: User, region_code: str) -> Region:
    region = regions_visible_to(user).filter(code=region_code).first()
    if region is None:
        raise PermissionDenied(
            f"无权为行政区划{region_code}设定目标或填报统计数 / "
            "region is outside your jurisdiction",
            field="region",
        )
    return region


def _region_acted_for(user: User, region_code: str, what_zh: str, what_en: str) -> Region:
    """The region, if the user holds an acting regulator seat over it. Outsiders
    (enterprise seats, other jurisdictions, anonymous) are told the region is not
    theirs; reader seats that they are read-only, as in compliance (ADR 0052):
    setting, revising or withdrawing a target is an official act (ADR 0016)."""
    if user.is_anonymous:
        raise PermissionDenied("请先登录 / log in first")
    region = _region_in_jurisdiction(user, region_code)
    if not any(region.path.startswith(path) for path in target_paths_acted_for(user)):
        raise PermissionDenied(
            f"只读席位不能{what_zh}目标 / a read-only regulator seat cannot {what_en} targets"
        )
    return region


def _groups(codes: Sequence[str]) -> list[WasteGroup]:
    groups = list(WasteGroup.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {g.code for g in groups})
    if missing:
        raise ValidationFailed(
            f"未知的固废类别组：{', '.join(missing)} / unknown waste group", field="waste_groups"
        )
    return groups


# What a revision may change: everything ``target_create`` takes but the region (a
# target for another region is another target, created as such).
TARGET_REVISABLE = (
    "year",
    "plan",
    "indicator",
    "scope",
    "metric",
    "waste_groups",
    "threshold_percent",
    "threshold_tonnes",
    "threshold_text",
    "issuer_doc_no",
    "source_url",
    "note",
)


def target_create(
    *,
    user: User,
    region_code: str,
    year: int,
    plan: str,
    indicator: str,
    scope: str,
    metric: str,
    waste_groups: Sequence[str] = (),
    threshold_percent: Decimal | None = None,
    threshold_tonnes: Decimal | None = None,
    threshold_text: str = "",
    issuer_doc_no: str = "",
    source_url: str = "",
    note: str = "",
) -> Target:
    """Record a regulator's own target for a region in its jurisdiction (an acting
    seat: readers are refused, ADR 0016).

    The threshold must match the metric (a percentage in (0, 100] for a rate,
    positive tonnes for a tonnage, none for a qualitative target), and a scope of
    ``groups`` names at least one waste group. Audited as ``target.create``.
    """
    region = _region_acted_for(user, region_code, "设定", "set")
    with transaction.atomic():
        target = _target_write(
            user=user,
            region_code=region_code,
            year=year,
            plan=plan,
            indicator=indicator,
            scope=scope,
            metric=metric,
            waste_groups=waste_groups,
            threshold_percent=threshold_percent,
            threshold_tonnes=threshold_tonnes,
            threshold_text=threshold_text,
            issuer_doc_no=issuer_doc_no,
            source_url=source_url,
            note=note,
        )
        audit_record(
            actor=user,
            action="target.create",
            object_type="target",
            object_id=str(target.public_id),
            enterprise=None,
            region=region,
            after=target_snapshot(target),
        )
    return target


def _target_write(
    *,
    user: User,
    region_code: str,
    year: int,
    plan: str,
    indicator: str,
    scope: str,
    metric: str,
    waste_groups: Sequence[str] = (),
    threshold_percent: Decimal | None = None,
    threshold_tonnes: Decimal | None = None,
    threshold_text: str = "",
    issuer_doc_no: str = "",
    source_url: str = "",
    note: str = "",
    verification: str = "",
    supersedes: Target | None = None,
) -> Target:
    """Check a target's fields and insert it: the one place a target row is written,
    for ``target_create`` and ``target_revise`` alike. The caller checked the user's
    jurisdiction and holds the transaction."""
    if scope not in TargetScope.values:
        raise ValidationFailed(f"未知的范围 {scope!r} / unknown scope", field="scope")
    if metric not in TargetMetric.values:
        raise ValidationFailed(f"未知的指标类型 {metric!r} / unknown metric", field="metric")
    if not plan.strip() or not indicator.strip():
        raise ValidationFailed("须注明规划与指标 / plan and indicator are required", field="plan")
    if not 2000 <= year <= 2100:
        raise ValidationFailed(f"目标年{year}无效 / invalid year", field="year")
    if metric == TargetMetric.RATE and not (
        threshold_percent is not None and 0 < threshold_percent <= 100 and threshold_tonnes is None
    ):
        raise ValidationFailed(
            "利用率目标须为0到100之间的百分数 / a rate target needs a percentage in (0, 100]",
            field="threshold_percent",
        )
    if metric == TargetMetric.TONNES and not (
        threshold_tonnes is not None and threshold_tonnes > 0 and threshold_percent is None
    ):
        raise ValidationFailed(
            "利用量目标须为正的吨数 / a tonnage target needs positive tonnes",
            field="threshold_tonnes",
        )
    if metric == TargetMetric.TEXT and (threshold_percent is not None or threshold_tonnes):
        raise ValidationFailed(
            "定性目标不填数值 / a qualitative target has no number", field="metric"
        )
    groups = _groups(waste_groups)
    if scope == TargetScope.GROUPS and not groups:
        raise ValidationFailed(
            "指定类别组的目标须列出类别组 / name the waste groups", field="waste_groups"
        )
    if scope != TargetScope.GROUPS and groups:
        raise ValidationFailed(
            "只有指定类别组的目标可列出类别组 / groups only apply to scope 'groups'",
            field="waste_groups",
        )
    target = Target.objects.create(
        region_code=region_code,
        year=year,
        plan=plan.strip(),
        issuer_doc_no=issuer_doc_no,
        indicator=indicator.strip(),
        scope=scope,
        metric=metric,
        threshold_percent=threshold_percent,
        threshold_tonnes=threshold_tonnes,
        threshold_text=threshold_text,
        verification=verification,
        source_url=source_url,
        note=note,
        supersedes=supersedes,
        created_by_id=user.pk,
    )
    target.waste_groups.set(groups)
    # Re-read so the thresholds carry their stored scale ("85.00"), as audit rows and
    # API answers show them (ADR 0023 re-reads registry rows for the same reason).
    target.refresh_from_db(fields=["threshold_percent", "threshold_tonnes"])
    return target


def target_snapshot(target: Target) -> dict[str, Any]:
    """A target as its audit events record it (tonnes and percentages as text)."""
    return {
        "id": str(target.public_id),
        "region": target.region_code,
        "year": target.year,
        "plan": target.plan,
        "issuer_doc_no": target.issuer_doc_no,
        "indicator": target.indicator,
        "scope": target.scope,
        "metric": target.metric,
        "waste_groups": sorted(g.code for g in target.waste_groups.all()),
        "threshold_percent": _text(target.threshold_percent),
        "threshold_tonnes": _text(target.threshold_tonnes),
        "threshold_text": target.threshold_text,
        "source_url": target.source_url,
        "note": target.note,
        "is_seed": target.is_seed,
        "supersedes": str(target.supersedes.public_id) if target.supersedes else None,
        "retired_at": target.retired_at.isoformat() if target.retired_at else None,
        "retired_reason": target.retired_reason,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _target_for_change(
    user: User, target_public_id: str, what_zh: str, what_en: str
) -> tuple[Target, Region]:
    """The active target, locked, and its region, if the user holds an acting regulator
    seat over that region (``_region_acted_for``)."""
    if user.is_anonymous:
        raise PermissionDenied("请先登录 / log in first")
    try:
        target = Target.objects.select_for_update().get(public_id=target_public_id)
    except (Target.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound("目标不存在 / target not found", field="target") from exc
    region = _region_acted_for(user, target.region_code, what_zh, what_en)
    if target.retired_at is not None:
        raise Conflict(
            "该目标已停用或已被修订，请对现行目标操作 / "
            "the target is retired or superseded; act on the current one",
            field="target",
        )
    return target, region


def target_revise(*, user: User, target_public_id: str, reason: str, **changes: Any) -> Target:
    """Revise a target: a new target with ``changes`` applied supersedes it, and the old
    one is retired with ``reason`` (it stays listed as history; ADR 0016). Only an
    acting regulator seat over the target's region may; seed targets too (the plan's
    text stays on the old row). The new row is checked exactly as ``target_create``
    checks one; nothing is written if it fails. Audited as ``target.revise``."""
    unknown = sorted(set(changes) - set(TARGET_REVISABLE))
    if unknown:
        raise ValidationFailed(
            f"不可修订的项：{', '.join(unknown)} / these fields cannot be revised",
            field=unknown[0],
        )
    if "waste_groups" in changes:
        changes["waste_groups"] = sorted(set(changes["waste_groups"]))
    text = reason_checked(reason)
    with transaction.atomic():
        old, region = _target_for_change(user, target_public_id, "修订", "revise")
        fields: dict[str, Any] = {
            name: getattr(old, name) for name in TARGET_REVISABLE if name != "waste_groups"
        }
        fields["waste_groups"] = sorted(g.code for g in old.waste_groups.all())
        if all(changes[name] == fields[name] for name in changes):
            raise ValidationFailed("没有修改任何内容 / nothing was changed", field="reason")
        fields.update(changes)
        now = timezone.now()
        before = target_snapshot(old)
        # Retired first, so the new row never coexists with an active predecessor.
        Target.objects.filter(pk=old.pk).update(
            retired_at=now, retired_by_id=user.pk, retired_reason=text
        )
        new = _target_write(
            user=user,
            region_code=old.region_code,
            verification=old.verification,
            supersedes=old,
            **fields,
        )
        audit_record(
            actor=user,
            action="target.revise",
            object_type="target",
            object_id=str(old.public_id),
            enterprise=None,
            region=region,
            before=before,
            after={"reason": text, "retired_at": now.isoformat(), "target": target_snapshot(new)},
        )
    return new


def target_retire(*, user: User, target_public_id: str, reason: str) -> Target:
    """Withdraw a target: it is retired with ``reason`` and no longer evaluated, but kept
    (ADR 0016). Only an acting regulator seat over its region may, seed targets
    included. Audited as ``target.retire``."""
    text = reason_checked(reason)
    with transaction.atomic():
        target, region = _target_for_change(user, target_public_id, "停用", "retire")
        before = target_snapshot(target)
        target.retired_at = timezone.now()
        target.retired_by_id = user.pk
        target.retired_reason = text
        target.save(update_fields=["retired_at", "retired_by", "retired_reason"])
        audit_record(
            actor=user,
            action="target.retire",
            object_type="target",
            object_id=str(target.public_id),
            enterprise=None,
            region=region,
            before=before,
            after={"reason": text, "retired_at": target.retired_at.isoformat()},
        )
    return target


def published_figure_record(
    *,
    user: User,
    region_code: str,
    year: int,
    source: str,
    waste_group: str | None = None,
    figures: dict[str, Decimal | None],
    rate_percent: Decimal | None = None,
    note: str = "",
    supersedes: PublishedFigure | None = None,
    reason: str = "",
) -> PublishedFigure:
    """Record the summary figures a region published for a year (annual totals, no
    enterprise detail). A correction is a new record that supersedes the old one,
    with a reason; the old one is kept."""
    if user.is_anonymous:
        raise PermissionDenied("请先登录 / log in first")
    region = _region_in_jurisdiction(user, region_code)
    allowed = {"generated", "utilized", "utilized_prior", "disposed", "storage_added", "dumped"}
    unknown = sorted(set(figures) - allowed)
    if unknown:
        raise ValidationFailed(
            f"未知的统计项：{', '.join(unknown)} / unknown figure", field="figures"
        )
    if all(v is None for v in figures.values()) and rate_percent is None:
        raise ValidationFailed("没有要记录的统计数 / no figures given", field="figures")
    if any(v is not None and v < 0 for v in figures.values()):
        raise ValidationFailed("统计数不能为负 / figures cannot be negative", field="figures")
    if not source.strip():
        raise ValidationFailed("须注明来源 / the source is required", field="source")
    if supersedes is not None and not reason.strip():
        raise ValidationFailed("更正须说明原因 / a correction needs a reason", field="reason")
    group = _groups([waste_group])[0] if waste_group else None
    return PublishedFigure.objects.create(
        region=region,
        year=year,
        waste_group=group,
        source=source.strip(),
        note=note,
        rate_percent=rate_percent,
        supersedes=supersedes,
        reason=reason.strip(),
        created_by_id=user.pk,
        **{k: v for k, v in figures.items() if v is not None},
    )
