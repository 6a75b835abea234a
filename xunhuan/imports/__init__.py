"""Excel workbooks in and out in the layout of the 2021 ledger guideline's tables."""
