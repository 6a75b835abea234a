"""Hash chain over an enterprise's ledger (tamper evidence).

Each entry's hash is SHA-256 over the previous entry's hash and a canonical
encoding of the entry's fields. The encoding is JSON with sorted keys, no
whitespace and UTF-8 text, and every value is a string (or null) so that the
same entry always encodes to the same bytes, whichever database it came from.
See ``docs/adr/0002-append-only-ledger-and-hash-chain.md``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GENESIS_HASH = "0" * 64
CHAIN_VERSION = "1"


def canonical_bytes(fields: Mapping[str, str | None]) -> bytes:
    """The canonical encoding of one entry's fields."""
    for key, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise TypeError(f"chain field {key!r} must be str or None, got {type(value).__name__}")
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, fields: Mapping[str, str | None]) -> str:
    digest = hashlib.sha256()
    digest.update(CHAIN_VERSION.encode())
    digest.update(b"\n")
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_bytes(fields))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What the verifier needs of one stored entry."""

    seq: int
    prev_hash: str
    hash: str
    fields: Mapping[str, str | None]
    label: str  # how to name the entry to a person (its public id)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    seq: int
    label: str
    problem: str


def verify_links(
    links: Iterable[ChainLink], *, head_seq: int | None, head_hash: str | None
) -> ChainBreak | None:
    """Walk one chain in ``seq`` order and return the first break, or ``None``.

    Detects a changed entry (its hash no longer matches its fields), a removed
    entry (a gap in ``seq`` or a ``prev_hash`` that does not match), an inserted
    entry (a ``prev_hash`` or hash that does not match its neighbours) and a
    truncated tail (the chain head records more entries than remain).
    """
    expected_prev = GENESIS_HASH
    expected_seq = 1
    last_label = "(start)"
    for link in links:
        if link.seq != expected_seq:
            return ChainBreak(
                link.seq,
                link.label,
                f"sequence jumps from {expected_seq - 1} to {link.seq}: entries removed",
            )
        if link.prev_hash != expected_prev:
            return ChainBreak(
                link.seq, link.label, "previous-hash does not match the entry before it"
            )
        recomputed = entry_hash(link.prev_hash, link.fields)
        if recomputed != link.hash:
            return ChainBreak(link.seq, link.label, "contents changed since it was recorded")
        expected_prev = link.hash
        expected_seq += 1
        last_label = link.label
    last_seq = expected_seq - 1
    if head_seq is not None and head_seq != last_seq:
        return ChainBreak(
            last_seq,
            last_label,
            f"chain head records {head_seq} entries but {last_seq} remain: entries removed",
        )
    if head_hash is not None and head_hash != expected_prev:
        return ChainBreak(last_seq, last_label, "chain head hash does not match the last entry")
    return None


# The keys of a ledger entry's canonical fields, in the sorted order that
# ``canonical_bytes`` writes them. ``entry_text`` below writes the same bytes
# without building a dict, for bulk ingest (about 4x faster); a test checks
# that both agree on arbitrary values.
ENTRY_KEYS = (
    "batch_code",
    "corrects",
    "counterparty",
    "disposal_method",
    "enterprise",
    "id",
    "kind",
    "note",
    "occurred_on",
    "purpose",
    "quantity",
    "reason",
    "recorded_at",
    "recorded_by",
    "reverses",
    "route",
    "seq",
    "site",
    "stream",
    "to_site",
    "waste",
)
_ENTRY_TEMPLATE = "{" + ",".join(f'"{key}":%s' for key in ENTRY_KEYS) + "}"
_HEADER = (CHAIN_VERSION + "\n").encode()


def json_text(value: str | None) -> str:
    """One value as canonical JSON (what ``canonical_bytes`` writes for it)."""
    if value is None:
        return "null"
    # json.dumps(ensure_ascii=False) escapes only quotes, backslashes and control
    # characters, none of which a printable text without quote or backslash holds;
    # bulk ingest encodes a batch code and a note per row.
    if value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def entry_text(encoded: tuple[str, ...]) -> str:
    """Canonical JSON of an entry from its values already encoded with ``json_text``,
    in ``ENTRY_KEYS`` order."""
    return _ENTRY_TEMPLATE % encoded


def entry_hash_text(prev_hash: str, text: str) -> str:
    """Same as ``entry_hash`` for a canonical text made by ``entry_text``."""
    return hashlib.sha256(_HEADER + prev_hash.encode("ascii") + b"\n" + text.encode()).hexdigest()
