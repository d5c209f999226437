"""Migration 9: what people do about alerts, and fairness rules scoped to one attribute.

An alert can be acknowledged (someone owns it), snoozed until a time, or resolved by a person
with a note; `resolved_by` stays empty when evaluation resolved it because its window passed
again. `detail` keeps what the failing value concerns (for a fairness rule, the attribute).
A rule's `attribute` names one sensitive attribute or intersection ("sex × age"); empty
means every one of them. Rules stored with the old per-attribute metric names
(`demographic_parity_ratio_sex_x_age`) become the metric plus that attribute.
"""

VERSION = 9

SQL = """
ALTER TABLE alert_rules ADD COLUMN attribute VARCHAR;
ALTER TABLE alerts ADD COLUMN detail VARCHAR NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN acknowledged_by VARCHAR;
ALTER TABLE alerts ADD COLUMN acknowledged_at TIMESTAMP;
ALTER TABLE alerts ADD COLUMN snoozed_by VARCHAR;
ALTER TABLE alerts ADD COLUMN snoozed_until TIMESTAMP;
ALTER TABLE alerts ADD COLUMN resolved_by VARCHAR;
ALTER TABLE alerts ADD COLUMN note VARCHAR;
UPDATE alert_rules
SET attribute = replace(
        regexp_extract(metric, '^(demographic_parity|equalized_odds)_(ratio|difference)_(.+)$', 3),
        '_x_', ' × '),
    metric = regexp_extract(metric, '^((demographic_parity|equalized_odds)_(ratio|difference))_.+$', 1)
WHERE regexp_matches(metric, '^(demographic_parity|equalized_odds)_(ratio|difference)_.+$');
"""
