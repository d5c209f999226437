"""Ingestion: validate prediction logs and labels against the contract; quarantine the rest."""
