"""Audit trail: who changed what, before and after, written in the same transaction."""
