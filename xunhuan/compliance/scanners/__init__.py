"""The checks: one scanning function per rule, each a few aggregate queries.

A scanner gets the enterprises in scope (already narrowed to the rule's industries,
the run's region and the jurisdictions that share one parameter set) and returns
``Hit``s. SQL does the scanning: every ledger read is a GROUP BY over the window;
Python only compares the aggregated figures with the parameters. Each topic's module
registers its scanners in ``SCANNERS`` when imported here.
"""

from xunhuan.compliance.scanners import ledger, norms, plans, storage, transfers
from xunhuan.compliance.scanners.base import SCANNERS, Hit, Scope, hit_measured

__all__ = [
    "SCANNERS",
    "Hit",
    "Scope",
    "hit_measured",
    "ledger",
    "norms",
    "plans",
    "storage",
    "transfers",
]
