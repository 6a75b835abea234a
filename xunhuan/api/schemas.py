"""Shapes of API requests and responses (validation at the edge; rules live in services)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from ninja import Field, Schema


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None
    row: int | None = None


class RegionOut(Schema):
    code: str
    name: str
    level: str
    parent_code: str | None = Field(None, alias="parent_id")


class WasteCategoryOut(Schema):
    code: str
    name_zh: str
    name_en: str
    group: str | None = Field(None, alias="group_id")
    catalogue_version: str
    class_code_2024: str
    source_status: str


class EnterpriseOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    credit_code: str
    name: str
    industry: str = Field(..., alias="industry_id")
    region: str = Field(..., alias="region_id")
    park: str | None = Field(None, alias="park.name")
    roles: list[str]
    latitude: Decimal | None
    longitude: Decimal | None


class EnterpriseIn(Schema):
    credit_code: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., min_length=1, max_length=128)
    industry: str
    region: str
    roles: list[str]
    park: str | None = None
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    address: str = ""


class SiteOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    code: str
    name: str
    kind: str
    storage_class: str
    design_capacity: Decimal | None
    opened_on: dt.date | None
    is_permanent: bool


class SiteIn(Schema):
    code: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., min_length=1, max_length=128)
    kind: str
    storage_class: str = ""
    design_capacity: Decimal | None = None
    opened_on: dt.date | None = None
    is_permanent: bool = False


class StreamOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    code: str
    name: str
    waste_code: str = Field(..., alias="waste_id")
    process: str


class StreamIn(Schema):
    code: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., min_length=1, max_length=64)
    waste_code: str
    process: str = ""
    source_site: str | None = None


class StockOut(Schema):
    enterprise: str = Field(..., alias="site.enterprise.credit_code")
    site: str = Field(..., alias="site.code")
    waste_code: str = Field(..., alias="waste_id")
    quantity: Decimal


class EntryIn(Schema):
    kind: str
    site: str = Field(..., description="设施编码 site code")
    waste_code: str
    quantity: Decimal = Field(
        ..., description="吨，最多3位小数；请以字符串传送 / tonnes as a string"
    )
    occurred_on: dt.date
    to_site: str | None = None
    stream: str | None = None
    counterparty: str | None = Field(None, description="对方单位统一社会信用代码")
    purpose: str = ""
    route: str = ""
    disposal_method: str = ""
    batch_code: str = Field("", max_length=64)
    note: str = Field("", max_length=500)


class EntriesIn(Schema):
    entries: list[EntryIn] = Field(..., min_length=1, max_length=1000)


class CorrectionIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)
    replacement: EntryIn | None = None


class EntryOut(Schema):
    id: uuid.UUID = Field(..., alias="public_id")
    enterprise: str = Field(..., alias="enterprise.credit_code")
    seq: int
    kind: str
    site: str = Field(..., alias="site.code")
    to_site: str | None = Field(None, alias="to_site.code")
    waste_code: str = Field(..., alias="waste_id")
    stream: str | None = Field(None, alias="stream.code")
    quantity: Decimal
    occurred_on: dt.date
    recorded_at: dt.datetime
    counterparty: str | None = Field(None, alias="counterparty.credit_code")
    purpose: str
    route: str
    disposal_method: str
    batch_code: str
    note: str
    reverses: uuid.UUID | None = Field(None, alias="reverses.public_id")
    corrects: uuid.UUID | None = Field(None, alias="corrects.public_id")
    reason: str
    hash: str


class CorrectionOut(Schema):
    reversal: EntryOut
    replacement: EntryOut | None


class ChainOut(Schema):
    enterprise: str
    entries: int
    intact: bool
    first_broken_seq: int | None = None
    problem: str | None = None
