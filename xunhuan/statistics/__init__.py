"""Official indicators, pre-aggregated tables, targets and assessment."""
