"""Thresholds as policy: one audited table, and changes that loosen it wait for a second admin."""
