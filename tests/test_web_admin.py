"""The Django admin writes enterprises, sites and parks through the registry
services: what the services refuse (a bad credit code, a yard without class, a
duplicate park) the admin refuses on the form, and nothing is written; what they
accept is written as they write it (normalized code, trimmed names)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from tests.factories import credit_code_for, make_enterprise, make_user
from xunhuan.audit.models import AuditEvent
from xunhuan.registry.models import Enterprise, FacilityCapacity, Park, Region, Site, WasteStream
from xunhuan.registry.services import park_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(world: Any) -> Client:
    root = make_user(username="root", is_staff=True, is_superuser=True)
    root.save()  # the factory sets the password after saving: keep the session's hash valid
    client = Client()
    client.force_login(root)
    return client


def enterprise_form(**fields: str) -> dict[str, str]:
    return {
        "credit_code": credit_code_for(7),
        "name": "后台测试电厂",
        "industry": "4411",
        "region": "150622",
        "is_generator": "on",
        "address": "",
        "latitude": "",
        "longitude": "",
        **fields,
    }


def test_an_invalid_credit_code_is_refused_on_the_form_and_nothing_is_written(
    admin_client: Client,
) -> None:
    before = Enterprise.objects.count()
    good = credit_code_for(7)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # wrong check character
    response = admin_client.post(
        "/admin/registry/enterprise/add/", enterprise_form(credit_code=bad)
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "校验位错误" in " ".join(form.errors["credit_code"])
    assert Enterprise.objects.count() == before
    assert not LogEntry.objects.exists()


def test_an_added_enterprise_is_the_services_registration(admin_client: Client) -> None:
    code = credit_code_for(8)
    response = admin_client.post(
        "/admin/registry/enterprise/add/",
        enterprise_form(credit_code=f" {code.lower()} ", name="  后台测试电厂  "),
    )
    assert response.status_code == 302
    saved = Enterprise.objects.get(credit_code=code)  # upper-cased and stripped by the service
    assert (saved.name, saved.region_id, saved.roles) == ("后台测试电厂", "150622", ["generator"])
    entry = LogEntry.objects.get()
    assert entry.object_id == str(saved.pk)
    # The service's audit row names the admin user; the dry run left none behind.
    (audit,) = AuditEvent.objects.filter(enterprise=saved).values_list(
        "actor__username", "before", "after__name"
    )
    assert audit == ("root", None, "后台测试电厂")


def test_a_change_goes_through_the_service_and_keeps_the_credit_code(
    admin_client: Client,
) -> None:
    enterprise = make_enterprise(name="原名称", region=Region.objects.get(code="150622"))
    url = f"/admin/registry/enterprise/{enterprise.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "credit_code" not in page.context["adminform"].form.fields  # shown, not editable
    assert admin_client.get("/admin/registry/enterprise/add/").status_code == 200
    # No role at all: the service refuses, shown on the role boxes.
    no_role = enterprise_form(credit_code=credit_code_for(9), name="新名称")
    del no_role["is_generator"]
    response = admin_client.post(url, no_role)
    assert response.status_code == 200
    assert "角色" in " ".join(response.context["adminform"].form.errors["is_generator"])
    enterprise.refresh_from_db()
    assert enterprise.name == "原名称"

    assert not AuditEvent.objects.filter(enterprise=enterprise).exists()
    response = admin_client.post(
        url, enterprise_form(credit_code=credit_code_for(9), name=" 新名称 ", is_carrier="on")
    )
    assert response.status_code == 302
    (audit,) = AuditEvent.objects.filter(enterprise=enterprise).values_list(
        "before__name", "after__name", "actor__username"
    )
    assert audit == ("原名称", "新名称", "root")
    enterprise.refresh_from_db()
    assert enterprise.name == "新名称"
    assert enterprise.roles == ["generator", "carrier"]
    assert enterprise.credit_code != credit_code_for(9)  # read-only: identity stays


def test_a_yard_without_class_is_refused_and_a_valid_one_registered(
    admin_client: Client, world: Any
) -> None:
    form = {
        "enterprise": str(world.plant.pk),
        "code": "YARD9",
        "name": "9号贮存场",
        "kind": "storage",
        "storage_class": "",
        "design_capacity": "5000",
        "opened_on": "",
        "latitude": "",
        "longitude": "",
    }
    response = admin_client.post("/admin/registry/site/add/", form)
    assert response.status_code == 200
    assert "Ⅰ类或Ⅱ类" in " ".join(response.context["adminform"].form.errors["storage_class"])
    assert not Site.objects.filter(code="YARD9").exists()

    response = admin_client.post("/admin/registry/site/add/", {**form, "storage_class": "II"})
    assert response.status_code == 302
    yard = Site.objects.get(enterprise=world.plant, code="YARD9")
    assert (yard.storage_class, yard.design_capacity) == ("II", Decimal("5000.000"))


def test_a_park_renamed_to_another_parks_name_is_refused(admin_client: Client) -> None:
    park_register(name="甲园区", level="provincial", region_code="150622")
    other = park_register(name="乙园区", level="provincial", region_code="150622")
    url = f"/admin/registry/park/{other.pk}/change/"
    form = {"name": "甲园区", "level": "provincial", "region": "150622", "note": ""}
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert "已登记" in " ".join(response.context["adminform"].form.errors["name"])
    other.refresh_from_db()
    assert other.name == "乙园区"
    assert admin_client.post(url, {**form, "name": " 丙园区 "}).status_code == 302
    other.refresh_from_db()
    assert other.name == "丙园区"
    assert Park.objects.count() == 2


def test_a_waste_stream_is_added_through_the_service_and_then_read_only(
    admin_client: Client, world: Any
) -> None:
    form = {
        "enterprise": str(world.plant.pk),
        "code": "WS9",
        "name": "粉煤灰",
        "waste": "SW01",
        "process": "",
        "source_site": str(world.outsider_site.pk),  # another enterprise's site
        "physical_form": "",
        "estimated_annual": "",
    }
    response = admin_client.post("/admin/registry/wastestream/add/", form)
    assert response.status_code == 200
    assert "设施不属于本单位" in " ".join(response.context["adminform"].form.errors["source_site"])
    assert not WasteStream.objects.filter(code="WS9").exists()
    assert not AuditEvent.objects.filter(action="registry.waste_stream_register").exists()

    form["source_site"] = str(world.plant_site.pk)
    assert admin_client.post("/admin/registry/wastestream/add/", form).status_code == 302
    stream = WasteStream.objects.get(enterprise=world.plant, code="WS9")
    (audit,) = AuditEvent.objects.filter(action="registry.waste_stream_register").values_list(
        "actor__username", flat=True
    )
    assert audit == "root"
    url = f"/admin/registry/wastestream/{stream.pk}/change/"
    assert admin_client.post(url, {**form, "name": "改名"}).status_code == 403
    stream.refresh_from_db()
    assert stream.name == "粉煤灰"


def test_a_facility_capacity_is_declared_and_changed_through_the_service(
    admin_client: Client, world: Any
) -> None:
    form = {
        "site": str(world.plant_yard.pk),  # a yard is no utilization facility
        "waste": "SW01",
        "route": "水泥",
        "annual_capacity": "120000",
    }
    response = admin_client.post("/admin/registry/facilitycapacity/add/", form)
    assert response.status_code == 200
    assert "不是利用或处置设施" in " ".join(response.context["adminform"].form.errors["site"])
    assert not FacilityCapacity.objects.exists()

    form["site"] = str(world.receiver_site.pk)
    assert admin_client.post("/admin/registry/facilitycapacity/add/", form).status_code == 302
    capacity = FacilityCapacity.objects.get(site=world.receiver_site)
    url = f"/admin/registry/facilitycapacity/{capacity.pk}/change/"
    response = admin_client.post(url, {"annual_capacity": "0"})
    assert response.status_code == 200
    assert "大于0" in " ".join(response.context["adminform"].form.errors["annual_capacity"])
    assert admin_client.post(url, {"annual_capacity": "150000"}).status_code == 302
    capacity.refresh_from_db()
    assert capacity.annual_capacity == Decimal("150000.000")
    changes = AuditEvent.objects.filter(action="registry.facility_capacity_set")
    assert list(changes.values_list("actor__username", flat=True)) == ["root", "root"]


def test_the_catalogue_is_read_only_and_nothing_is_deleted_in_the_admin(
    admin_client: Client, world: Any
) -> None:
    assert admin_client.get("/admin/registry/wastecategory/SW01/change/").status_code == 200
    assert (
        admin_client.post("/admin/registry/wastecategory/SW01/change/", {"name": "改"}).status_code
        == 403
    )
    assert admin_client.get("/admin/registry/wastecategory/add/").status_code == 403
    assert admin_client.get("/admin/registry/region/add/").status_code == 403
    delete = f"/admin/registry/enterprise/{world.plant.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Enterprise.objects.filter(pk=world.plant.pk).exists()
