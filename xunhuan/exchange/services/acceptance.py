"""Accepting a proposed flow: a draft transfer document (联单) in the same transaction."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from xunhuan.accounts.models import Role
from xunhuan.accounts.selectors import roles_at
from xunhuan.core.errors import PermissionDenied, ValidationFailed
from xunhuan.exchange.models import FlowAcceptance, ProposedFlow
from xunhuan.ledger.models import Purpose, UtilizationRoute
from xunhuan.registry.models import Enterprise, FacilityCapacity
from xunhuan.transfers.models import Transfer
from xunhuan.transfers.services import LegDraft, LineDraft, transfer_create


def _planned_route(flow: ProposedFlow) -> str:
    """The receiver's declared route for the waste (its largest capacity), else "other"."""
    capacity = (
        FacilityCapacity.objects.filter(site=flow.receiver_site, waste_id=flow.waste_id)
        .order_by("-annual_capacity", "pk")
        .values_list("route", flat=True)
        .first()
    )
    return capacity if capacity in UtilizationRoute.values else UtilizationRoute.OTHER.value


# The seats transfer_create lets draft a document for the generator.
_DRAFTERS = frozenset({Role.ADMIN.value, Role.MEMBER.value})


@transaction.atomic
def flow_accept(
    *,
    flow: ProposedFlow,
    user: AbstractBaseUser,
    carrier: Enterprise,
    vehicle: str = "",
    planned_route: str = "",
    today: dt.date | None = None,
) -> Transfer:
    """Turn a proposed flow into a draft transfer document (联单) in one action.

    The draft names the flow's generator (its source enterprise), the receiver, one
    waste line with the flow's tonnes leaving from its source site, the carrier leg
    by the flow's mode and the planned utilization route (the receiver's declared
    route for the waste unless one is given). It is drafted by
    ``transfers.services.transfer_create``, which checks that the user holds a
    writer seat at the generator; nothing is issued or written to a ledger. A flow
    is accepted once: accepting it again returns the same draft."""
    if not roles_at(user, flow.source_enterprise) & _DRAFTERS:
        raise PermissionDenied(
            "只有产生单位可据此开具联单 / only the generator drafts the document"
        )
    earlier = FlowAcceptance.objects.filter(flow=flow).select_related("transfer").first()
    if earlier is not None:
        return earlier.transfer
    if flow.receiver_enterprise is None or flow.receiver_site_id is None:
        raise ValidationFailed(
            "接收方是情景中的拟建项目，不能开具联单 / the receiver is a planned plant of a "
            "scenario: no transfer document",
            field="flow",
        )
    transfer = transfer_create(
        user=user,
        generator=flow.source_enterprise,
        receiver=flow.receiver_enterprise,
        purpose=Purpose.UTILIZATION,
        legs=[LegDraft(carrier=carrier, mode=flow.mode, vehicle=vehicle)],
        lines=[LineDraft(waste=flow.waste, source_site=flow.source_site, declared=flow.quantity)],
        planned_route=planned_route or _planned_route(flow),
        note=f"资源交换建议流向 {flow.run.public_id} #{flow.seq} / exchange match",
        # the same flow accepted twice at once drafts one document
        idempotency_key=f"exchange:{flow.run.public_id}:{flow.seq}",
        today=today,
    )
    FlowAcceptance.objects.get_or_create(
        flow=flow, defaults={"transfer": transfer, "accepted_by": user}
    )
    return transfer
