"""Governance: users and roles, sign-in, the audit chain, promotion requests, gates, decisions."""
