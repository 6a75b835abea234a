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
from pytest_django import Settings

from tests.access_support import FAST_HASHERS
from tests.factories import credit_code_for, make_enterprise, make_user
from xunhuan.audit.models import AuditEvent
from xunhuan.registry.models import Enterprise, Park, Region, Site
from xunhuan.registry.services import park_register

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHERS


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
