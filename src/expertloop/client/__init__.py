"""A typed Python client for the ExpertLoop JSON API (httpx), standalone: it talks HTTP only.

    from expertloop.client import ExpertLoop

    with ExpertLoop.login("https://expertloop.example.com", "me@example.com", "…") as el:
        project = el.create_project("Finance agent evaluation", domain="finance")

See docs/client.md for the worked example and every method.
"""

from expertloop.client._protocol import RetryPolicy, TransportError
from expertloop.client.aio import AsyncExpertLoop
from expertloop.client.errors import (
    AuthenticationError,
    BadRequest,
    Conflict,
    ExpertLoopError,
    ImportFailed,
    IntegrityError,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    SnapshotFailed,
    UnsafeArchive,
    UnsupportedMediaType,
    ValidationError,
    WaitTimeout,
)
from expertloop.client.models import (
    Import,
    ImportIssue,
    Job,
    ProblemSet,
    Project,
    Seed,
    Snapshot,
    SnapshotFile,
    Token,
    User,
)
from expertloop.client.sync import ExpertLoop

__all__ = [
    "AsyncExpertLoop",
    "AuthenticationError",
    "BadRequest",
    "Conflict",
    "ExpertLoop",
    "ExpertLoopError",
    "Import",
    "ImportFailed",
    "ImportIssue",
    "IntegrityError",
    "Job",
    "JobFailed",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProblemSet",
    "Project",
    "RateLimited",
    "RetryPolicy",
    "Seed",
    "ServerError",
    "Snapshot",
    "SnapshotFailed",
    "SnapshotFile",
    "Token",
    "TransportError",
    "UnsafeArchive",
    "UnsupportedMediaType",
    "User",
    "ValidationError",
    "WaitTimeout",
]
