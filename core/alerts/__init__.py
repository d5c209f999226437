"""Alerts: the metrics a rule may watch (`metrics`), rules and their audited edits (`rules`),
evaluation over windows (`evaluate`), and alert records with what people did (`records`)."""
