"""Xunhuan (循环): industrial solid-waste ledger, traceability and utilization platform."""
