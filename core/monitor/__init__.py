"""Monitoring: windows, selections, day profiles, drift, performance, fairness, service health."""
