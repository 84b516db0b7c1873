"""One exception hierarchy; the CLI and the HTTP service turn these into messages."""


class IomqaError(Exception):
    """Base class for every error this package raises on purpose."""


class CorpusError(IomqaError):
    """The corpus folder or its manifest is unusable."""


class DocumentError(IomqaError):
    """One document cannot be ingested; `status` says why in one word."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class IndexNotFound(IomqaError):
    """No published index generation exists yet."""


class IndexCorrupt(IomqaError):
    """A generation fails verification against its manifest."""


class IngestLocked(IomqaError):
    """Another ingest holds the index lock."""


class NotFound(IomqaError):
    """An id asked for does not exist in the served index."""


class ModelError(IomqaError):
    """The embedding model cannot be loaded or run as configured."""


class ClusterError(IomqaError):
    """The Ray cluster asked for is unusable: Ray not installed, head unreachable, or
    failures beyond Ray's own retries."""
