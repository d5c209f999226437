"""The model registry: immutable versions with their inventory entry, artifacts and references."""
