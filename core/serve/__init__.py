"""Serving: the registry state the gateway answers from, routing, the prediction spool."""
