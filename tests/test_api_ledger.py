"""The ledger through the HTTP API: posts, every kind of bad input, idempotent retries,
corrections, the chain badge, stock figures and the OpenAPI docs.

Every refused request is checked to have saved nothing (``snapshot`` compares row
counts, stock quantities and chain heads)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from tests.access_support import (
    counts_changed,
    new_credit_code,
    persist_passwords,
    snapshot,
    stock_of,
)
from tests.conftest import World
from tests.factories import draft, make_site
from xunhuan.ledger.chain import chain_verify
from xunhuan.ledger.models import ChainHead, IdempotencyKey, LedgerEntry
from xunhuan.ledger.services import ledger_entries_post, today_in_shanghai
from xunhuan.registry.models import Enterprise, Park

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse


@pytest.fixture
def owner(world: World) -> Client:
    persist_passwords(world)
    return world.client("owner")


def entries_url(world: World) -> str:
    return f"/api/ledger/enterprises/{world.plant.credit_code}/entries"


def post(client: Client, url: str, data: Any, key: str | None = None) -> TestResponse:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(url, data, content_type="application/json", headers=headers)


def generated(quantity: str = "100.000", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "generated",
        "site": "BOILER1",
        "waste_code": "SW02",
        "quantity": quantity,
        "occurred_on": "2025-03-01",
        **extra,
    }


def error(
    message: str, field: str | None, row: int | None = None, code: str = "validation"
) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field, "row": row}


# --- posting ---------------------------------------------------------------------------


def test_post_returns_201_with_the_created_entries(world: World, owner: Client) -> None:
    response = post(
        owner,
        entries_url(world),
        {
            "entries": [
                generated("100.000", batch_code="B-1", note="1号炉"),
                {
                    "kind": "storage_in",
                    "site": "BOILER1",
                    "to_site": "YARD1",
                    "waste_code": "SW02",
                    "quantity": "60",
                    "occurred_on": "2025-03-02",
                },
                {
                    "kind": "handed_over",
                    "site": "YARD1",
                    "waste_code": "sw02",  # codes are matched case-insensitively
                    "quantity": "20.5",
                    "occurred_on": "2025-03-03",
                    "counterparty": world.receiver.credit_code,
                    "purpose": "utilization",
                    "route": "cement",
                },
            ]
        },
    )

    assert response.status_code == 201, response.content.decode()
    created = list(LedgerEntry.objects.filter(enterprise=world.plant).order_by("seq"))
    data = response.json()
    assert [e["id"] for e in data] == [str(e.public_id) for e in created]
    assert [(e["seq"], e["kind"], e["quantity"]) for e in data] == [
        (1, "generated", "100.000"),
        (2, "storage_in", "60.000"),
        (3, "handed_over", "20.500"),
    ]
    assert data[2] == {
        "id": str(created[2].public_id),
        "enterprise": world.plant.credit_code,
        "seq": 3,
        "kind": "handed_over",
        "site": "YARD1",
        "to_site": None,
        "waste_code": "SW02",
        "stream": None,
        "quantity": "20.500",
        "occurred_on": "2025-03-03",
        "recorded_at": data[2]["recorded_at"],
        "counterparty": world.receiver.credit_code,
        "purpose": "utilization",
        "route": "cement",
        "disposal_method": "",
        "batch_code": "",
        "note": "",
        "reverses": None,
        "corrects": None,
        "reason": "",
        "hash": created[2].hash,
    }
    assert (data[0]["batch_code"], data[0]["note"], data[1]["to_site"]) == ("B-1", "1号炉", "YARD1")
    assert {e.recorded_by_id for e in created} == {world.users["owner"].pk}
    assert stock_of(world.plant_site) == Decimal("40.000")
    assert stock_of(world.plant_yard) == Decimal("39.500")
    assert chain_verify(enterprise_id=world.plant.pk) is None


def test_entry_can_be_read_back_by_its_id(world: World, owner: Client) -> None:
    (created,) = post(owner, entries_url(world), {"entries": [generated()]}).json()
    response = owner.get(f"/api/ledger/entries/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    for unknown in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        missing = owner.get(f"/api/ledger/entries/{unknown}")
        assert missing.status_code == 404
        assert missing.json() == error(
            "台账记录不存在 / ledger entry not found", "entry", code="not_found"
        )


FUTURE = today_in_shanghai() + dt.timedelta(days=2)
# A pattern where the exact text is not the point (it quotes the parsed value).
FOUR_PLACES = re.compile(
    r"数量无效：.*1\.2345.* has more than 3 decimal places \(1 kg\) / invalid quantity"
)

BAD_ENTRIES: list[tuple[str, Any, int, dict[str, Any]]] = [
    (
        "unknown waste code",
        {"entries": [generated(waste_code="SW99")]},
        422,
        error("未知废物代码：SW99 / unknown waste code", "waste_code", 1),
    ),
    (
        "unknown site",
        {"entries": [generated(site="NOPE")]},
        422,
        error("本单位无此设施编码：NOPE / unknown site", "site", 1),
    ),
    (
        "another enterprise's site",
        {"entries": [generated(site="POT1")]},
        422,
        error("本单位无此设施编码：POT1 / unknown site", "site", 1),
    ),
    (
        "zero quantity",
        {"entries": [generated("0")]},
        422,
        error("数量必须大于0，实际为0.000 / quantity must be positive", "quantity"),
    ),
    (
        "negative quantity",
        {"entries": [generated("-5.5")]},
        422,
        error("数量必须大于0，实际为-5.500 / quantity must be positive", "quantity"),
    ),
    (
        "four decimal places",
        {"entries": [generated("1.2345")]},
        422,
        {"code": "validation", "message": FOUR_PLACES, "field": "quantity", "row": None},
    ),
    (
        "quantity not a number",
        {"entries": [generated("12吨")]},
        422,
        error(
            "请求内容不符合格式 / invalid request: 第1条 / row 1 quantity: "
            "Input should be a valid decimal",
            "quantity",
            1,
        ),
    ),
    (
        "date in the future",
        {"entries": [generated(occurred_on=FUTURE.isoformat())]},
        422,
        error(
            f"发生日期{FUTURE}晚于今天{FUTURE - dt.timedelta(days=2)} / date is in the future",
            "occurred_on",
        ),
    ),
    (
        "date not a date",
        {"entries": [generated(occurred_on="2025-13-01")]},
        422,
        error(
            "请求内容不符合格式 / invalid request: 第1条 / row 1 occurred_on: Input should be a "
            "valid date or datetime, month value is outside expected range of 1-12",
            "occurred_on",
            1,
        ),
    ),
    (
        "unknown kind",
        {"entries": [generated(kind="dumped")]},
        422,
        error("未知的记录类型 'dumped' / unknown entry kind", "kind"),
    ),
    (
        "stock would go negative",
        {"entries": [generated(kind="self_disposed", disposal_method="landfill")]},
        409,
        error(
            "库存不足：设施库存0.000吨，本次需减少100.000吨 / "
            "stock on hand 0.000 t is less than 100.000 t",
            "quantity",
            code="insufficient_stock",
        ),
    ),
    (
        "second row overdraws the first",
        {
            "entries": [
                generated("10.000"),
                generated("10.001", kind="self_disposed", disposal_method="landfill"),
            ]
        },
        409,
        error(
            "库存不足：设施库存10.000吨，本次需减少10.001吨 / "
            "stock on hand 10.000 t is less than 10.001 t",
            "quantity",
            2,
            code="insufficient_stock",
        ),
    ),
    (
        "receiver is not a utilizer",
        {
            "entries": [
                generated("5"),
                generated(
                    "5",
                    kind="handed_over",
                    counterparty="CARRIER",
                    purpose="utilization",
                    route="cement",
                ),
            ]
        },
        422,
        error(
            "接收单位鄂尔多斯测试运输公司不是利用单位 / receiver is not a registered utilizer",
            "counterparty",
            2,
        ),
    ),
    (
        "receiver is not a disposer",
        {
            "entries": [
                generated("5"),
                generated(
                    "5",
                    kind="handed_over",
                    counterparty="RECEIVER",
                    purpose="disposal",
                    disposal_method="landfill",
                ),
            ]
        },
        422,
        error(
            "接收单位准格尔测试建材厂不是处置单位 / receiver is not a registered disposer",
            "counterparty",
            2,
        ),
    ),
    (
        "receiver never registered",
        {
            "entries": [
                generated(
                    "5",
                    kind="handed_over",
                    counterparty=new_credit_code(),
                    purpose="utilization",
                    route="cement",
                )
            ]
        },
        422,
        error(f"未登记的单位：{new_credit_code()} / unknown enterprise", "counterparty", 1),
    ),
    (
        "missing field",
        {"entries": [{k: v for k, v in generated().items() if k != "quantity"}]},
        422,
        error(
            "请求内容不符合格式 / invalid request: 第1条 / row 1 quantity: Field required",
            "quantity",
            1,
        ),
    ),
    (
        "missing field in the second row",
        {"entries": [generated(), {"kind": "generated", "site": "BOILER1"}]},
        422,
        error(
            "请求内容不符合格式 / invalid request: 第2条 / row 2 waste_code: Field required; "
            "第2条 / row 2 quantity: Field required; 第2条 / row 2 occurred_on: Field required",
            "waste_code",
            2,
        ),
    ),
    (
        "no entries key",
        {},
        422,
        error("请求内容不符合格式 / invalid request: entries: Field required", "entries"),
    ),
    (
        "empty entries",
        {"entries": []},
        422,
        error(
            "请求内容不符合格式 / invalid request: entries: "
            "List should have at least 1 item after validation, not 0",
            "entries",
        ),
    ),
    (
        "malformed JSON",
        '{"entries": [',
        422,
        error("请求体不是有效的JSON / request body is not valid JSON", "body"),
    ),
    (
        "empty body",
        "",
        422,
        error("请求内容不符合格式 / invalid request: body: Field required", "body"),
    ),
]


def _resolve(data: Any, world: World) -> Any:
    """Put real credit codes where the cases name the carrier or receiver."""
    if isinstance(data, dict):
        return {key: _resolve(value, world) for key, value in data.items()}
    if isinstance(data, list):
        return [_resolve(value, world) for value in data]
    codes = {"CARRIER": world.carrier.credit_code, "RECEIVER": world.receiver.credit_code}
    return codes.get(data, data) if isinstance(data, str) else data


@pytest.mark.parametrize(
    ("data", "status", "expected"),
    [case[1:] for case in BAD_ENTRIES],
    ids=[case[0] for case in BAD_ENTRIES],
)
def test_bad_input_is_refused_with_a_clear_error_and_saves_nothing(
    world: World, owner: Client, data: Any, status: int, expected: dict[str, Any]
) -> None:
    before = snapshot()

    response = post(owner, entries_url(world), _resolve(data, world), key="bad-input")

    assert response.status_code == status, response.content.decode()
    got = response.json()
    if isinstance(expected["message"], re.Pattern):
        assert expected["message"].fullmatch(got["message"]), got["message"]
        got["message"] = expected["message"]
    assert got == expected
    assert snapshot() == before  # no entry, no stock, no idempotency key burnt


def test_rule_errors_in_a_batch_name_the_row(world: World, owner: Client) -> None:
    response = post(owner, entries_url(world), {"entries": [generated(), generated("0")]})
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["row"]) == ("quantity", 2)


VALID_CODE = new_credit_code()
WRONG_CHECK = "0" if VALID_CODE[-1] != "0" else "1"
BAD_ENTERPRISES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "check character wrong",
        {"credit_code": VALID_CODE[:-1] + WRONG_CHECK},
        error(
            f"统一社会信用代码校验位错误：应为{VALID_CODE[-1]}，实际{WRONG_CHECK} / "
            f"check character should be {VALID_CODE[-1]}, got {WRONG_CHECK}",
            "credit_code",
        ),
    ),
    (
        "seventeen characters",
        {"credit_code": VALID_CODE[:17]},
        error("统一社会信用代码应为18位，实际17位 / must be 18 characters, got 17", "credit_code"),
    ),
    (
        "letters outside the alphabet",
        {"credit_code": "91150622MA0IOSVZ0X"},
        error("统一社会信用代码含非法字符 IOSVZ / invalid characters IOSVZ", "credit_code"),
    ),
    (
        "already registered",
        {"credit_code": "PLANT"},
        error("统一社会信用代码PLANT已登记 / already registered", "credit_code"),
    ),
    (
        "empty credit code",
        {"credit_code": ""},
        error(
            "请求内容不符合格式 / invalid request: credit_code: "
            "String should have at least 1 character",
            "credit_code",
        ),
    ),
    (
        "unknown industry",
        {"industry": "9999"},
        error("未知行业代码9999 / unknown industry", "industry"),
    ),
    (
        "unknown role",
        {"roles": ["generator", "trader"]},
        error(
            "角色须为 ['carrier', 'disposer', 'generator', 'utilizer'] 之一 / "
            "roles must be among them",
            "roles",
        ),
    ),
    (
        "no role",
        {"roles": []},
        error(
            "角色须为 ['carrier', 'disposer', 'generator', 'utilizer'] 之一 / "
            "roles must be among them",
            "roles",
        ),
    ),
    (
        "unknown park",
        {"park": "不存在的园区"},
        error("未登记的园区：不存在的园区 / unknown park", "park"),
    ),
    (
        "missing name",
        {"name": None},
        error("请求内容不符合格式 / invalid request: name: Input should be a valid string", "name"),
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [case[1:] for case in BAD_ENTERPRISES],
    ids=[case[0] for case in BAD_ENTERPRISES],
)
def test_enterprise_registration_refuses_bad_input(
    world: World, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    persist_passwords(world)
    data = {
        "credit_code": new_credit_code(),
        "name": "新登记测试企业",
        "industry": "4411",
        "region": "150622",
        "roles": ["generator"],
        **changes,
    }
    if data["credit_code"] == "PLANT":
        data["credit_code"] = world.plant.credit_code.lower()  # normalized before the check
        expected = {
            **expected,
            "message": expected["message"].replace("PLANT", world.plant.credit_code),
        }
    before = snapshot()

    response = post(world.client("league_regulator"), "/api/enterprises", data)

    assert response.status_code == 422, response.content.decode()
    assert response.json() == expected
    assert snapshot() == before


def test_enterprise_registration_normalizes_the_credit_code(world: World) -> None:
    persist_passwords(world)
    code = new_credit_code()
    response = post(
        world.client("province_regulator"),
        "/api/enterprises",
        {
            "credit_code": f"  {code.lower()} ",
            "name": " 新登记测试企业 ",
            "industry": "4411",
            "region": "150622",
            "roles": ["utilizer", "carrier"],
            "latitude": "39.864000",
            "longitude": "111.238000",
        },
    )
    assert response.status_code == 201, response.content.decode()
    created = Enterprise.objects.get(credit_code=code)
    assert response.json() == {
        "id": str(created.public_id),
        "credit_code": code,
        "name": "新登记测试企业",
        "industry": "4411",
        "region": "150622",
        "park": None,
        "roles": ["utilizer", "carrier"],
        "latitude": "39.864000",
        "longitude": "111.238000",
    }


def test_enterprise_registration_in_a_park(world: World) -> None:
    persist_passwords(world)
    Park.objects.create(name="准格尔经济开发区", level="provincial", region_id="150622")
    response = post(
        world.client("league_regulator"),
        "/api/enterprises",
        {
            "credit_code": VALID_CODE,
            "name": "园区内企业",
            "industry": "4411",
            "region": "150622",
            "roles": ["generator"],
            "park": "准格尔经济开发区",
        },
    )
    assert response.status_code == 201, response.content.decode()
    assert response.json()["park"] == "准格尔经济开发区"
    assert Enterprise.objects.get(credit_code=VALID_CODE).park_id is not None


BAD_REGISTRY_WRITES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "yard without class",
        "sites",
        {"code": "Y2", "name": "新灰场", "kind": "storage", "design_capacity": "1000"},
        error("贮存场须注明Ⅰ类或Ⅱ类 / yard class I or II", "storage_class"),
    ),
    (
        "yard without capacity",
        "sites",
        {"code": "Y2", "name": "新灰场", "kind": "storage", "storage_class": "I"},
        error("贮存场须填写设计库容 / yard needs a design capacity", "design_capacity"),
    ),
    (
        "unknown site kind",
        "sites",
        {"code": "W2", "name": "仓库", "kind": "warehouse"},
        error("未知设施类型warehouse / unknown site kind", "kind"),
    ),
    (
        "site code taken",
        "sites",
        {"code": "BOILER1", "name": "重复", "kind": "production"},
        error("设施编码BOILER1已存在 / site code exists", "code"),
    ),
    (
        "stream of an unknown waste",
        "streams",
        {"code": "S2", "name": "未知", "waste_code": "SW99"},
        error("未知废物代码SW99 / unknown waste code", "waste_code"),
    ),
    (
        "stream from an unknown site",
        "streams",
        {"code": "S2", "name": "炉渣", "waste_code": "SW03", "source_site": "POT1"},
        error("本单位无此设施编码：POT1 / unknown site", "source_site"),
    ),
    (
        "stream without a name",
        "streams",
        {"code": "S2", "waste_code": "SW03"},
        error("请求内容不符合格式 / invalid request: name: Field required", "name"),
    ),
]


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [case[1:] for case in BAD_REGISTRY_WRITES],
    ids=[case[0] for case in BAD_REGISTRY_WRITES],
)
def test_registry_writes_refuse_bad_input(
    world: World, owner: Client, kind: str, data: dict[str, Any], expected: dict[str, Any]
) -> None:
    before = snapshot()
    response = post(owner, f"/api/enterprises/{world.plant.credit_code}/{kind}", data)
    assert response.status_code == 422, response.content.decode()
    assert response.json() == expected
    assert snapshot() == before


# --- Idempotency-Key -------------------------------------------------------------------


def test_same_key_and_body_twice_returns_the_first_entries(world: World, owner: Client) -> None:
    data = {"entries": [generated("7.250"), generated("2.750", occurred_on="2025-03-02")]}
    before = snapshot()

    first = post(owner, entries_url(world), data, key="retry-1")
    second = post(owner, entries_url(world), data, key="retry-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert [e["seq"] for e in first.json()] == [1, 2]
    assert counts_changed(before, snapshot()) == {
        "LedgerEntry": 2,
        "StockBalance": 1,
        "IdempotencyKey": 1,
    }
    assert stock_of(world.plant_site) == Decimal("10.000")  # moved once, not twice


def test_same_key_with_another_body_is_a_conflict(world: World, owner: Client) -> None:
    post(owner, entries_url(world), {"entries": [generated("7.250")]}, key="retry-2")
    before = snapshot()

    response = post(owner, entries_url(world), {"entries": [generated("7.251")]}, key="retry-2")

    assert response.status_code == 409
    assert response.json() == error(
        "同一幂等键已用于不同的请求 / Idempotency-Key was used for a different request",
        "Idempotency-Key",
        code="conflict",
    )
    assert snapshot() == before


def test_a_refused_request_does_not_use_up_its_key(world: World, owner: Client) -> None:
    overdraw = generated("1.000", kind="self_disposed", disposal_method="landfill")
    refused = post(owner, entries_url(world), {"entries": [overdraw]}, key="retry-3")
    assert refused.status_code == 409
    assert IdempotencyKey.objects.count() == 0

    accepted = post(owner, entries_url(world), {"entries": [generated("1.000")]}, key="retry-3")

    assert accepted.status_code == 201
    assert IdempotencyKey.objects.get().key == "retry-3"


def test_keys_belong_to_one_enterprise(world: World, owner: Client) -> None:
    data = {"entries": [generated("3.000")]}
    outsider_data = {"entries": [generated("3.000", site="POT1", waste_code="SW09")]}
    mine = post(owner, entries_url(world), data, key="shared-key")
    theirs = post(
        world.client("outsider"),
        f"/api/ledger/enterprises/{world.outsider.credit_code}/entries",
        outsider_data,
        key="shared-key",
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()[0]["id"] != theirs.json()[0]["id"]
    assert IdempotencyKey.objects.count() == 2


def test_key_longer_than_128_characters_is_refused(world: World, owner: Client) -> None:
    before = snapshot()
    response = post(owner, entries_url(world), {"entries": [generated()]}, key="k" * 129)
    assert response.status_code == 422
    assert response.json() == error(
        "请求内容不符合格式 / invalid request: Idempotency-Key: "
        "String should have at most 128 characters",
        "Idempotency-Key",
    )
    assert snapshot() == before


# --- corrections -----------------------------------------------------------------------


@pytest.fixture
def stored(world: World) -> LedgerEntry:
    """100 t generated at the boiler, 60 t of it moved to the yard; returns the move."""
    _generated, move = ledger_entries_post(
        enterprise=world.plant,
        drafts=[
            draft(world.plant_site, "generated", "100.000"),
            draft(world.plant_site, "storage_in", "60.000", to_site=world.plant_yard),
        ],
    )
    return move


def correct(client: Client, entry: LedgerEntry | str, data: Any, key: str | None = None) -> Any:
    entry_id = entry if isinstance(entry, str) else str(entry.public_id)
    return post(client, f"/api/ledger/entries/{entry_id}/corrections", data, key=key)


REPLACEMENT = {
    "kind": "storage_in",
    "site": "BOILER1",
    "to_site": "YARD1",
    "waste_code": "SW02",
    "quantity": "55.500",
    "occurred_on": "2025-03-01",
}


def test_correction_appends_a_reversal_and_a_replacement(
    world: World, owner: Client, stored: LedgerEntry
) -> None:
    before = snapshot()

    response = correct(owner, stored, {"reason": "称重有误", "replacement": REPLACEMENT})

    assert response.status_code == 201, response.content.decode()
    reversal = LedgerEntry.objects.get(reverses=stored)
    replacement = LedgerEntry.objects.get(corrects=stored)
    data = response.json()
    expected_reversal = {
        "id": str(reversal.public_id),
        "seq": 3,
        "kind": "storage_in",
        "site": "BOILER1",
        "to_site": "YARD1",
        "quantity": "-60.000",
        "reverses": str(stored.public_id),
        "corrects": None,
        "reason": "称重有误",
    }
    assert {k: data["reversal"][k] for k in expected_reversal} == expected_reversal
    expected_replacement = {
        "id": str(replacement.public_id),
        "seq": 4,
        "quantity": "55.500",
        "reverses": None,
        "corrects": str(stored.public_id),
        "reason": "称重有误",
    }
    assert {k: data["replacement"][k] for k in expected_replacement} == expected_replacement
    assert counts_changed(before, snapshot()) == {"LedgerEntry": 2}
    assert stock_of(world.plant_yard) == Decimal("55.500")
    assert stock_of(world.plant_site) == Decimal("44.500")
    assert chain_verify(enterprise_id=world.plant.pk) is None


def test_correction_without_replacement_only_reverses(
    world: World, owner: Client, stored: LedgerEntry
) -> None:
    response = correct(owner, stored, {"reason": "重复录入"})
    assert response.status_code == 201
    assert response.json()["replacement"] is None
    assert response.json()["reversal"]["quantity"] == "-60.000"
    assert stock_of(world.plant_yard) == Decimal("0.000")
    assert stock_of(world.plant_site) == Decimal("100.000")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {},
            error("请求内容不符合格式 / invalid request: reason: Field required", "reason"),
        ),
        (
            {"reason": ""},
            error(
                "请求内容不符合格式 / invalid request: reason: "
                "String should have at least 1 character",
                "reason",
            ),
        ),
        ({"reason": "  \n "}, error("更正须说明原因 / a correction needs a reason", "reason")),
        (
            {"reason": "称重有误", "replacement": {**REPLACEMENT, "waste_code": "SW99"}},
            error("未知废物代码：SW99 / unknown waste code", "waste_code", 1),
        ),
        (
            {"reason": "称重有误", "replacement": {**REPLACEMENT, "quantity": "-1"}},
            error("数量必须大于0，实际为-1.000 / quantity must be positive", "quantity"),
        ),
        (
            {"reason": "称重有误", "replacement": {**REPLACEMENT, "quantity": None}},
            error(
                "请求内容不符合格式 / invalid request: replacement.quantity: "
                "Decimal input should be an integer, float, string or Decimal object",
                "replacement.quantity",
            ),
        ),
    ],
    ids=["no reason", "empty reason", "blank reason", "bad waste", "bad quantity", "null qty"],
)
def test_correction_needs_a_reason_and_a_valid_replacement(
    owner: Client, stored: LedgerEntry, data: Any, expected: dict[str, Any]
) -> None:
    before = snapshot()
    response = correct(owner, stored, data, key="fix")
    assert response.status_code == 422, response.content.decode()
    assert response.json() == expected
    assert snapshot() == before


def test_corrected_once_and_a_reversal_never(owner: Client, stored: LedgerEntry) -> None:
    first = correct(owner, stored, {"reason": "称重有误"})
    assert first.status_code == 201
    before = snapshot()

    again = correct(owner, stored, {"reason": "再改一次"})
    of_reversal = correct(owner, first.json()["reversal"]["id"], {"reason": "撤销冲销"})

    assert again.status_code == 409
    assert again.json() == error(
        f"记录{stored.public_id}已被冲销 / entry was already reversed", "entry", code="conflict"
    )
    assert of_reversal.status_code == 409
    assert of_reversal.json() == error(
        "冲销记录不能再更正 / a reversal cannot be corrected", "entry", code="conflict"
    )
    assert snapshot() == before


def test_correction_that_would_empty_a_used_stock_is_refused(
    world: World, owner: Client, stored: LedgerEntry
) -> None:
    # 50 of the 60 t moved to the yard have been disposed of: the move cannot be undone.
    ledger_entries_post(
        enterprise=world.plant,
        drafts=[draft(world.plant_yard, "self_disposed", "50.000", disposal_method="landfill")],
    )
    before = snapshot()

    response = correct(owner, stored, {"reason": "称重有误", "replacement": REPLACEMENT})

    assert response.status_code == 409
    assert response.json() == error(
        "库存不足：设施库存10.000吨，本次需减少60.000吨 / "
        "stock on hand 10.000 t is less than 60.000 t",
        "quantity",
        code="insufficient_stock",
    )
    assert snapshot() == before


def test_correction_retry_with_the_same_key_returns_the_same_pair(
    owner: Client, stored: LedgerEntry
) -> None:
    data = {"reason": "称重有误", "replacement": REPLACEMENT}
    first = correct(owner, stored, data, key="fix-1")
    before = snapshot()

    second = correct(owner, stored, data, key="fix-1")
    reused = correct(owner, stored, {"reason": "另一个原因"}, key="fix-1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert reused.status_code == 409
    assert reused.json()["code"] == "conflict"
    assert snapshot() == before


def test_an_entry_key_cannot_be_reused_for_a_correction(
    world: World, owner: Client, stored: LedgerEntry
) -> None:
    post(owner, entries_url(world), {"entries": [generated("1.000")]}, key="once")
    before = snapshot()
    response = correct(owner, stored, {"reason": "称重有误"}, key="once")
    assert response.status_code == 409
    assert response.json()["field"] == "Idempotency-Key"
    assert snapshot() == before


# --- chain, stock, listing -------------------------------------------------------------


def chain_url(world: World) -> str:
    return f"/api/ledger/enterprises/{world.plant.credit_code}/chain"


def test_chain_endpoint_reports_an_intact_and_a_broken_chain(
    world: World, owner: Client, stored: LedgerEntry
) -> None:
    code = world.plant.credit_code
    assert owner.get(chain_url(world)).json() == {
        "enterprise": code,
        "entries": 2,
        "intact": True,
        "first_broken_seq": None,
        "problem": None,
    }
    # Entries refuse any change, so tamper with the head the chain is checked against.
    ChainHead.objects.filter(enterprise=world.plant).update(last_hash="0" * 64)
    assert owner.get(chain_url(world)).json() == {
        "enterprise": code,
        "entries": 2,
        "intact": False,
        "first_broken_seq": 2,
        "problem": "chain head hash does not match the last entry",
    }
    ChainHead.objects.filter(enterprise=world.plant).update(last_seq=3)
    assert owner.get(chain_url(world)).json()["problem"] == (
        "chain head records 3 entries but 2 remain: entries removed"
    )


def test_chain_of_an_enterprise_without_entries_is_intact(world: World, owner: Client) -> None:
    assert owner.get(chain_url(world)).json() == {
        "enterprise": world.plant.credit_code,
        "entries": 0,
        "intact": True,
        "first_broken_seq": None,
        "problem": None,
    }


def test_stock_endpoint_returns_exact_decimal_strings(world: World, owner: Client) -> None:
    make_site(enterprise=world.plant, code="BOILER2", name="2号锅炉")
    make_site(enterprise=world.plant, code="BOILER3", name="3号锅炉")
    make_site(enterprise=world.plant, code="BOILER4", name="4号锅炉")
    response = post(
        owner,
        entries_url(world),
        {
            "entries": [
                generated("0.001"),
                generated("1000", site="BOILER2"),
                generated("1234567.89", site="BOILER3", waste_code="SW03"),
                generated("0.1", site="BOILER3"),
                generated("0.2", site="BOILER3"),
                generated("5.000", site="BOILER4"),
                generated("5.000", site="BOILER4", kind="self_disposed", disposal_method="other"),
            ]
        },
    )
    assert response.status_code == 201, response.content.decode()

    stock = owner.get(f"/api/ledger/enterprises/{world.plant.credit_code}/stock")

    assert stock.status_code == 200
    code = world.plant.credit_code
    # BOILER4 went back to zero and is left out; 0.1 + 0.2 is exactly 0.300.
    assert stock.json() == [
        {"enterprise": code, "site": "BOILER1", "waste_code": "SW02", "quantity": "0.001"},
        {"enterprise": code, "site": "BOILER2", "waste_code": "SW02", "quantity": "1000.000"},
        {"enterprise": code, "site": "BOILER3", "waste_code": "SW02", "quantity": "0.300"},
        {"enterprise": code, "site": "BOILER3", "waste_code": "SW03", "quantity": "1234567.890"},
    ]


def test_entries_list_filters_and_orders_newest_first(world: World, owner: Client) -> None:
    made = post(
        owner,
        entries_url(world),
        {
            "entries": [
                generated("10", occurred_on="2025-01-05"),
                generated("20", occurred_on="2025-02-05"),
                generated("3", occurred_on="2025-02-05", waste_code="SW03"),
                {
                    "kind": "storage_in",
                    "site": "BOILER1",
                    "to_site": "YARD1",
                    "waste_code": "SW02",
                    "quantity": "4",
                    "occurred_on": "2025-03-05",
                },
            ]
        },
    ).json()
    ids = [e["id"] for e in made]

    def listed(query: str) -> list[str]:
        response = owner.get(f"/api/ledger/entries?{query}")
        assert response.status_code == 200, response.content.decode()
        return [e["id"] for e in response.json()["items"]]

    assert listed("") == [ids[3], ids[2], ids[1], ids[0]]
    assert listed("waste_code=SW03") == [ids[2]]
    assert listed("kind=storage_in") == [ids[3]]
    assert listed("date_from=2025-02-01&date_to=2025-02-28") == [ids[2], ids[1]]
    assert listed("site=YARD1") == []
    assert listed(f"enterprise={world.plant.credit_code}&limit=2&offset=1") == [ids[2], ids[1]]
    bad = owner.get("/api/ledger/entries?date_from=yesterday")
    assert bad.status_code == 422
    assert bad.json()["field"] == "date_from"


# --- docs ------------------------------------------------------------------------------


def test_openapi_docs_load_for_a_logged_in_user(owner: Client) -> None:
    docs = owner.get("/api/docs")
    assert docs.status_code == 200
    assert b'"url": "/api/openapi.json"' in docs.content

    schema = owner.get("/api/openapi.json")

    assert schema.status_code == 200
    data = schema.json()
    assert data["info"]["title"] == "循环 Xunhuan API"
    # The paginated, filtered list documents its filters (it used to crash instead).
    parameters = {p["name"] for p in data["paths"]["/api/ledger/entries"]["get"]["parameters"]}
    assert parameters == {
        "enterprise",
        "site",
        "waste_code",
        "kind",
        "date_from",
        "date_to",
        "limit",
        "offset",
    }
    idempotency = data["paths"]["/api/ledger/enterprises/{credit_code}/entries"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in idempotency["parameters"]}
