"""Reads of the statistics: indicator tables by any grouping, target evaluation,
assessment (考核) and the comparison with published figures.

Every read takes a ``scope`` (``stat_scope(user)``): a regulator sees the cells of
its jurisdictions' subtrees, an enterprise seat only its own enterprise's cells,
anonymous nothing. Grouping and summing happen in the database (one ``GROUP BY``
over the pre-aggregated cells); rates are computed from the summed tonnes.

The package is split by concern (``tables``: scopes, dimensions and indicator
tables; ``targets``; ``assessment``; ``published``). Callers import from here.
"""

from xunhuan.statistics.selectors.assessment import AssessmentRow, assessment_table
from xunhuan.statistics.selectors.published import (
    PUBLISHED_FIELDS,
    FigureComparison,
    published_figures_compare,
)
from xunhuan.statistics.selectors.tables import (
    DIMENSIONS,
    LABELS_ZH,
    MEASURES,
    RATE_DEFINITION,
    TIME_DIMENSIONS,
    StatRow,
    StatScope,
    region_get,
    stat_scope,
    stats_table,
    subtree_q,
    table_columns,
)
from xunhuan.statistics.selectors.targets import (
    TargetEvaluation,
    target_paths_acted_for,
    targets_below_region,
    targets_evaluate,
    targets_for_region,
    targets_retired_for_region,
)

__all__ = [
    "DIMENSIONS",
    "LABELS_ZH",
    "MEASURES",
    "PUBLISHED_FIELDS",
    "RATE_DEFINITION",
    "TIME_DIMENSIONS",
    "AssessmentRow",
    "FigureComparison",
    "StatRow",
    "StatScope",
    "TargetEvaluation",
    "assessment_table",
    "published_figures_compare",
    "region_get",
    "stat_scope",
    "stats_table",
    "subtree_q",
    "table_columns",
    "target_paths_acted_for",
    "targets_below_region",
    "targets_evaluate",
    "targets_for_region",
    "targets_retired_for_region",
]
