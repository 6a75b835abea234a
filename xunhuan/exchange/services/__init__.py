"""Writes for the exchange: listings, scenarios, optimization runs, the 12-month plan
and accepted flows.

``exchange_run`` reads one month of supply and demand of a region, applies the
scenario's edits, builds the network (``xunhuan.core.exchange``), solves it and
stores the proposed flows with their explanation, in one transaction.

The package is split by concern (``listings``, ``scenarios``, ``runs``, ``horizon``,
``acceptance``). Callers import from here.
"""

from xunhuan.exchange.services.acceptance import (
    flow_accept,
)
from xunhuan.exchange.services.horizon import (
    HORIZON_MONTHS,
    JOB_HORIZON,
    exchange_horizon_run,
    horizon_job,
    horizon_request,
)
from xunhuan.exchange.services.listings import (
    listing_publish,
    listing_withdraw,
)
from xunhuan.exchange.services.runs import (
    DEFAULT_DRAWDOWN_SHARE,
    ExchangeProblem,
    exchange_problem_read,
    exchange_run,
)
from xunhuan.exchange.services.scenarios import (
    scenario_change_add,
    scenario_copy,
    scenario_create,
    tariff_of,
)

__all__ = [
    "DEFAULT_DRAWDOWN_SHARE",
    "HORIZON_MONTHS",
    "JOB_HORIZON",
    "ExchangeProblem",
    "exchange_horizon_run",
    "exchange_problem_read",
    "exchange_run",
    "flow_accept",
    "horizon_job",
    "horizon_request",
    "listing_publish",
    "listing_withdraw",
    "scenario_change_add",
    "scenario_copy",
    "scenario_create",
    "tariff_of",
]
