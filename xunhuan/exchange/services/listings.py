"""Listings: surplus an enterprise publishes on the exchange, and their withdrawal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from xunhuan.core.errors import ValidationFailed
from xunhuan.core.units import to_tonnes
from xunhuan.exchange.models import Listing
from xunhuan.registry.models import Enterprise, Site, WasteCategory


def listing_publish(
    *,
    enterprise: Enterprise,
    site_code: str,
    waste_code: str,
    quantity: Decimal | str,
    expires_on: dt.date,
    today: dt.date,
    published_by: Any,
    quality: dict[str, Decimal | int | None] | None = None,
    note: str = "",
) -> Listing:
    """Publish surplus of a waste at one of the enterprise's sites until ``expires_on``."""
    site = Site.objects.filter(enterprise=enterprise, code=site_code).first()
    if site is None:
        raise ValidationFailed(f"本单位无此设施编码：{site_code} / unknown site", field="site")
    waste = WasteCategory.objects.filter(code=waste_code, is_active=True).first()
    if waste is None:
        raise ValidationFailed(f"未知固废类别：{waste_code} / unknown waste", field="waste_code")
    try:
        tonnes = to_tonnes(quantity)
    except ValueError as exc:
        raise ValidationFailed(f"数量无效 / invalid quantity: {exc}", field="quantity") from exc
    if tonnes <= 0:
        raise ValidationFailed("数量须大于零 / quantity must be positive", field="quantity")
    if expires_on < today:
        raise ValidationFailed("有效期已过 / expiry date is in the past", field="expires_on")
    listing = Listing.objects.create(
        enterprise=enterprise,
        site=site,
        waste=waste,
        quantity=tonnes,
        expires_on=expires_on,
        published_by=published_by,
        note=note,
        **(quality or {}),
    )
    # Read back so quality values carry the column's scale (12.5 -> 12.50).
    return Listing.objects.select_related("enterprise", "site", "waste").get(pk=listing.pk)


def listing_withdraw(*, listing: Listing) -> Listing:
    """Take a listing off the exchange (kept, marked withdrawn)."""
    if listing.withdrawn_at is None:
        listing.withdrawn_at = timezone.now()
        listing.save(update_fields=["withdrawn_at"])
    return listing
