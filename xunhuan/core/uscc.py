"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters: registration authority (1), organization type (1), administrative
division (6), organization code (9, GB 11714) and a check character computed
modulo 31 over the first 17 with weights 3^i mod 31.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z (GB 32100-2015 table 1)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


class CreditCodeError(ValueError):
    """The text is not a valid unified social credit code; the message says why."""


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters."""
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalized (upper-case, stripped) code or raise :class:`CreditCodeError`."""
    normalized = code.strip().upper()
    if len(normalized) != LENGTH:
        raise CreditCodeError(
            f"统一社会信用代码应为18位，实际{len(normalized)}位 / must be 18 characters, "
            f"got {len(normalized)}"
        )
    bad = sorted({ch for ch in normalized if ch not in _VALUE})
    if bad:
        raise CreditCodeError(
            f"统一社会信用代码含非法字符 {''.join(bad)} / invalid characters {''.join(bad)}"
        )
    if not normalized[2:8].isdigit():
        raise CreditCodeError(
            "第3-8位应为行政区划代码（数字）/ characters 3-8 must be a division code"
        )
    expected = check_character(normalized[:17])
    if normalized[17] != expected:
        raise CreditCodeError(
            f"统一社会信用代码校验位错误：应为{expected}，实际{normalized[17]} / "
            f"check character should be {expected}, got {normalized[17]}"
        )
    return normalized


def make_credit_code(first17: str) -> str:
    """Complete 17 characters with their check character (used by demo data and tests)."""
    if len(first17) != LENGTH - 1 or any(ch not in _VALUE for ch in first17):
        raise CreditCodeError("need 17 characters from the GB 32100 alphabet")
    return first17 + check_character(first17)
