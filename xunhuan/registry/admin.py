"""Django admin for the registry. Enterprises, sites, parks, waste streams and facility
capacities are written through ``xunhuan.registry.services`` like every other way in
(API, imports, demo): the form checks shape, the service decides. The admin's own
``save()`` is never used for them, and nothing is deleted here (ledger entries, transfers
and audit rows refer to these rows). The catalogue (industries, waste groups and
categories) is versioned data loaded by migration: the admin shows it read-only.

A service refuses with ``ValidationFailed``, which the admin can only show while it
validates the form, not once it saves; so the form's ``clean`` runs the same service
call inside a savepoint that is always rolled back (a dry run, as the workbook import
does, ADR 0040), and ``save_model`` then makes the call for real."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from django import forms
from django.contrib import admin
from django.db import models, transaction
from django.http import HttpRequest

from xunhuan.core.errors import ValidationFailed
from xunhuan.registry.models import (
    Enterprise,
    FacilityCapacity,
    Industry,
    Park,
    Region,
    Site,
    WasteCategory,
    WasteGroup,
    WasteStream,
)
from xunhuan.registry.services import (
    enterprise_register,
    enterprise_update,
    facility_capacity_set,
    park_register,
    park_update,
    site_register,
    site_update,
    waste_stream_register,
)

M = TypeVar("M", bound=models.Model)
ROLE_FIELDS = {
    "generator": "is_generator",
    "utilizer": "is_utilizer",
    "disposer": "is_disposer",
    "carrier": "is_carrier",
}


class _DryRun(Exception):
    """Raised to roll a validating service call back."""


class ServiceAdmin(admin.ModelAdmin[M]):
    """A ModelAdmin whose adds and changes are the registry services' writes."""

    # The service's error field -> the form field that shows it (else a form error).
    error_fields: ClassVar[dict[str, str]] = {}
    # Fields fixed once registered (identity others refer to); read-only on change.
    identity_fields: ClassVar[tuple[str, ...]] = ()
    # Nullable fields the model does not mark blank (coordinates): optional in the form.
    optional_fields: ClassVar[tuple[str, ...]] = ("latitude", "longitude")

    def write(self, obj: M, data: dict[str, Any], *, change: bool, actor: Any) -> M:
        """Call the service that adds (``change=False``) or changes the row, as ``actor``."""
        raise NotImplementedError

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: M | None = None) -> Any:
        fixed = self.identity_fields if obj is not None else ()
        return (*super().get_readonly_fields(request, obj), *fixed)

    def get_form(
        self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(base):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                cleaned: dict[str, Any] = super().clean()
                if not self.errors:
                    model_admin.dry_run(self, change=obj is not None, actor=request.user)
                return cleaned

        for name in self.optional_fields:
            if name in ServiceForm.base_fields:
                ServiceForm.base_fields[name].required = False
        return ServiceForm

    def dry_run(self, form: forms.ModelForm[M], *, change: bool, actor: Any) -> None:
        data = {**self._identity(form.instance, change=change), **form.cleaned_data}
        try:
            with transaction.atomic():
                self.write(_copy(form.instance), data, change=change, actor=actor)
                raise _DryRun
        except _DryRun:
            pass
        except ValidationFailed as exc:
            field = self.error_fields.get(exc.field or "", exc.field)
            form.add_error(field if field in form.fields else None, str(exc))

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        data = {**self._identity(obj, change=change), **form.cleaned_data}
        # The registry services write the audit row (actor, before, after) themselves.
        saved = self.write(obj, data, change=change, actor=request.user)
        if saved is not obj:
            # The admin logs and redirects with the object it built: give it the row.
            for field in saved._meta.concrete_fields:
                setattr(obj, field.attname, getattr(saved, field.attname))
            obj._state.adding = False

    def _identity(self, obj: M, *, change: bool) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.identity_fields} if change else {}


def _copy(obj: M) -> M:
    """The instance a dry run may change without touching the form's."""
    copied: M = obj.__class__()
    for field in obj._meta.concrete_fields:
        setattr(copied, field.attname, getattr(obj, field.attname))
    copied._state.adding = obj._state.adding
    return copied


def _roles(data: dict[str, Any]) -> list[str]:
    return [role for role, flag in ROLE_FIELDS.items() if data.get(flag)]


def _code(value: models.Model | None) -> str:
    return "" if value is None else str(value.pk)


class CatalogueAdmin(admin.ModelAdmin[M]):
    """Reference data loaded by migration or command (GB/T 2260 regions, the versioned
    catalogue): read-only here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


@admin.register(Region)
class RegionAdmin(CatalogueAdmin[Region]):
    list_display = ("code", "name", "level", "parent")
    search_fields = ("code", "name")
    list_filter = ("level",)


@admin.register(Enterprise)
class EnterpriseAdmin(ServiceAdmin[Enterprise]):
    list_display = ("name", "credit_code", "industry", "region", "park")
    search_fields = ("name", "credit_code")
    list_select_related = ("industry", "region", "park")
    raw_id_fields = ("region", "park", "industry")
    identity_fields = ("credit_code",)
    error_fields: ClassVar[dict[str, str]] = {"roles": "is_generator"}

    def write(
        self, obj: Enterprise, data: dict[str, Any], *, change: bool, actor: Any
    ) -> Enterprise:
        fields = {
            "name": data["name"],
            "industry_code": _code(data.get("industry")),
            "region_code": _code(data.get("region")),
            "roles": _roles(data),
            "park": data.get("park"),
            "latitude": data.get("latitude"),
            "longitude": data.get("longitude"),
            "address": data.get("address", ""),
            "actor": actor,
        }
        if change:
            return enterprise_update(enterprise=obj, **fields)
        return enterprise_register(credit_code=data["credit_code"], **fields)


@admin.register(Site)
class SiteAdmin(ServiceAdmin[Site]):
    list_display = ("code", "name", "enterprise", "kind", "storage_class", "design_capacity")
    search_fields = ("code", "name", "enterprise__name")
    list_select_related = ("enterprise",)
    raw_id_fields = ("enterprise",)
    identity_fields = ("enterprise", "code")

    def write(self, obj: Site, data: dict[str, Any], *, change: bool, actor: Any) -> Site:
        fields = {
            "name": data["name"],
            "kind": data["kind"],
            "storage_class": data.get("storage_class", ""),
            "design_capacity": data.get("design_capacity"),
            "opened_on": data.get("opened_on"),
            "is_permanent": bool(data.get("is_permanent")),
            "latitude": data.get("latitude"),
            "longitude": data.get("longitude"),
            "actor": actor,
        }
        if change:
            return site_update(site=obj, **fields)
        return site_register(enterprise=data["enterprise"], code=data["code"], **fields)


@admin.register(Park)
class ParkAdmin(ServiceAdmin[Park]):
    list_display = ("name", "level", "region", "is_utilization_base")
    search_fields = ("name",)
    list_select_related = ("region",)
    raw_id_fields = ("region",)

    def write(self, obj: Park, data: dict[str, Any], *, change: bool, actor: Any) -> Park:
        fields = {
            "name": data["name"],
            "level": data["level"],
            "region_code": _code(data.get("region")),
            "is_utilization_base": bool(data.get("is_utilization_base")),
            "note": data.get("note", ""),
            "actor": actor,
        }
        if change:
            return park_update(park=obj, **fields)
        return park_register(**fields)


@admin.register(WasteStream)
class WasteStreamAdmin(ServiceAdmin[WasteStream]):
    """A line of an enterprise's generation inventory: added through the service, then
    shown read-only (there is no service that changes one)."""

    list_display = ("code", "name", "enterprise", "waste", "estimated_annual")
    search_fields = ("code", "name", "enterprise__name")
    list_select_related = ("enterprise", "waste")
    raw_id_fields = ("enterprise", "source_site")
    error_fields: ClassVar[dict[str, str]] = {"waste_code": "waste"}

    def has_change_permission(self, request: HttpRequest, obj: WasteStream | None = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def write(
        self, obj: WasteStream, data: dict[str, Any], *, change: bool, actor: Any
    ) -> WasteStream:
        return waste_stream_register(
            enterprise=data["enterprise"],
            code=data["code"],
            name=data["name"],
            waste_code=_code(data.get("waste")),
            process=data.get("process", ""),
            source_site=data.get("source_site"),
            physical_form=data.get("physical_form", ""),
            estimated_annual=data.get("estimated_annual"),
            actor=actor,
        )


@admin.register(FacilityCapacity)
class FacilityCapacityAdmin(ServiceAdmin[FacilityCapacity]):
    """A facility's annual capacity for one waste and route, declared or changed through
    ``facility_capacity_set``; the site, waste and route are its identity."""

    list_display = ("site", "waste", "route", "annual_capacity")
    search_fields = ("site__code", "site__enterprise__name", "route")
    list_select_related = ("site", "site__enterprise", "waste")
    raw_id_fields = ("site",)
    identity_fields = ("site", "waste", "route")
    error_fields: ClassVar[dict[str, str]] = {"waste_code": "waste"}

    def write(
        self, obj: FacilityCapacity, data: dict[str, Any], *, change: bool, actor: Any
    ) -> FacilityCapacity:
        return facility_capacity_set(
            site=data["site"],
            waste_code=_code(data.get("waste")),
            route=data["route"],
            annual_capacity=data["annual_capacity"],
            actor=actor,
        )


admin.site.register(Industry, CatalogueAdmin)
admin.site.register(WasteGroup, CatalogueAdmin)
admin.site.register(WasteCategory, CatalogueAdmin)
