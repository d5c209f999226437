"""Typed errors: one class per failure a user must act on, each with a message for that user."""


class VigilError(Exception):
    """Base of every error Vigil raises on purpose; pages and the CLI show its message as is."""


class StoreBusyError(VigilError):
    """Another process holds the database for longer than we were willing to wait."""


class StoreError(VigilError):
    """The store cannot be opened or migrated."""


class MetadataError(VigilError):
    """A model version's metadata is incomplete or malformed."""


class RegistryError(VigilError):
    """A registry rule was broken (unknown model or version, immutable version, ...)."""


class UnknownModelError(RegistryError):
    """The named model or version does not exist in the registry."""


class VersionExistsError(RegistryError):
    """Versions are immutable: the same name and version cannot be registered twice."""


class ArtifactError(VigilError):
    """A model artifact is missing, unreadable, or does not match its recorded SHA-256."""


class IngestError(VigilError):
    """A log or label file cannot be read at all (rows that fail validation go to quarantine)."""


class AuthError(VigilError):
    """Login failed, or a user or role is invalid."""


class PermissionDenied(VigilError):
    """The acting user's role does not allow the action."""


class AlertError(VigilError):
    """An alert rule or alert is malformed, does not exist, or cannot take this action."""


class AuditKeyError(VigilError):
    """The audit key is missing where it is required, unreadable, or not the chain's key."""
