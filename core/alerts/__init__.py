"""Alert rules over monitoring metrics: the metric table, rule storage, evaluation, alerts."""
