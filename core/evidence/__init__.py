"""Evidence for supervisors: model inventory, review calendar, findings, monitoring plan,
log retention, the evidence pack and the regulatory coverage matrix."""
