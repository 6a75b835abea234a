"""The hash-chained signature a party appends to a document when it signs a step."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from xunhuan.core.chain import GENESIS_HASH, canonical_bytes, entry_hash
from xunhuan.core.errors import Conflict
from xunhuan.ledger.chain import timestamp_text
from xunhuan.registry.models import Enterprise
from xunhuan.transfers.models import (
    Step,
    Transfer,
    TransferSignature,
)


def sign(
    transfer: Transfer,
    *,
    step: Step,
    step_key: str,
    enterprise: Enterprise,
    user: AbstractBaseUser,
    payload: dict[str, str | None],
) -> TransferSignature:
    """Append a signature to the document's chain. The caller holds the document lock."""
    if TransferSignature.objects.filter(transfer=transfer, step_key=step_key).exists():
        raise Conflict(
            f"联单{transfer.number}的此环节已签署，不能重复签署 / "
            f"step {step_key} is already signed",
            field="step",
        )
    last = TransferSignature.objects.filter(transfer=transfer).order_by("-seq").first()
    signature = TransferSignature(
        transfer=transfer,
        seq=(last.seq + 1) if last else 1,
        step=step.value,
        step_key=step_key,
        enterprise=enterprise,
        signed_by_id=user.pk,
        signer_name=user.get_username(),
        signed_at=timezone.now(),
        payload=canonical_bytes(payload).decode(),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    signature.hash = entry_hash(signature.prev_hash, signature_fields(signature))
    try:
        # A savepoint: the unique constraint is the backstop if a racing writer got here
        # without the document lock (it cannot, but the error must stay a domain error).
        with transaction.atomic():
            signature.save()
    except IntegrityError as exc:
        raise Conflict(
            f"联单{transfer.number}的此环节已签署 / step {step_key} is already signed",
            field="step",
        ) from exc
    return signature


def signature_fields(signature: TransferSignature) -> dict[str, str | None]:
    """The canonical text fields a signature's hash covers."""
    return {
        "transfer": str(signature.transfer.public_id),
        "number": signature.transfer.number,
        "seq": str(signature.seq),
        "step": signature.step,
        "step_key": signature.step_key,
        "enterprise": str(signature.enterprise_id),
        "signed_by": str(signature.signed_by_id),
        "signer_name": signature.signer_name,
        "signed_at": timestamp_text(signature.signed_at),
        "payload": signature.payload,
    }
