"""Reads for the exchange: what a run takes from the ledger and registry (supply and
demand of one month in one region), and the access-checked views of runs and flows.

Callers pass the user's visible enterprises and regions
(``xunhuan.accounts.selectors``); nothing here widens them.

The package is split by concern (``supply``: supply and demand of a month;
``runs``: runs, flows, listings and scenarios as a user may see them; ``effects``:
what a run changes for each league's rate and targets). Callers import from here.
"""

from xunhuan.exchange.selectors.effects import (
    LeagueEffect,
    TargetEffect,
    runs_league_effect,
)
from xunhuan.exchange.selectors.runs import (
    Comparison,
    flow_get,
    horizon_request_get,
    listings_list,
    regulated_codes,
    run_flows_list,
    run_get,
    run_totals_visible,
    runs_compare,
    runs_visible,
    scenario_get,
)
from xunhuan.exchange.selectors.supply import (
    NAN,
    SOURCES,
    DemandTable,
    Quality,
    Receiver,
    SupplyLot,
    SupplyTable,
    exchange_demand_empty,
    exchange_demand_read,
    exchange_demand_table,
    exchange_supply_empty,
    exchange_supply_read,
    exchange_supply_table,
    free_yard_kg,
    month_end,
    quality_limits_for,
    rail_links_for,
    region_codes_of,
)

__all__ = [
    "NAN",
    "SOURCES",
    "Comparison",
    "DemandTable",
    "LeagueEffect",
    "Quality",
    "Receiver",
    "SupplyLot",
    "SupplyTable",
    "TargetEffect",
    "exchange_demand_empty",
    "exchange_demand_read",
    "exchange_demand_table",
    "exchange_supply_empty",
    "exchange_supply_read",
    "exchange_supply_table",
    "flow_get",
    "free_yard_kg",
    "horizon_request_get",
    "listings_list",
    "month_end",
    "quality_limits_for",
    "rail_links_for",
    "region_codes_of",
    "regulated_codes",
    "run_flows_list",
    "run_get",
    "run_totals_visible",
    "runs_compare",
    "runs_league_effect",
    "runs_visible",
    "scenario_get",
]
