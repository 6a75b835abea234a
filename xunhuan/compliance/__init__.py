"""Rules as data, findings with explanations, the regulator's work queue."""
