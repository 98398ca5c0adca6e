"""The synchronous client: ``ExpertLoop(base_url, token)``."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import httpx

from expertloop.client import _ops as ops
from expertloop.client._protocol import (
    CHUNK,
    Call,
    Op,
    Reply,
    RetryPolicy,
    Rewind,
    Sink,
    Sleep,
    T,
    TransportError,
    api_root,
    clean_params,
    default_headers,
    error_for,
    request_headers,
    retry_delay,
)
from expertloop.client.errors import ExpertLoopError
from expertloop.client.models import Import, Job, ProblemSet, Project, Seed, Snapshot, User


class ExpertLoop:
    """A client of one ExpertLoop instance, authenticated with an API token.

    ``ExpertLoop.login(base_url, email, password)`` makes a token from a password. Use it as a
    context manager (or call ``close()``) to release its connections.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(
            base_url=api_root(base_url),
            headers=default_headers(token),
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    def login(
        cls,
        base_url: str,
        email: str,
        password: str,
        *,
        token_name: str = "expertloop-client",  # noqa: S107 (a label, not a secret)
        expires_in_days: int | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> ExpertLoop:
        """Create an API token with your email and password; return a client that uses it.

        The token is on the client's ``token`` attribute: keep it to skip the password next time.
        """
        with cls(base_url, timeout=timeout, transport=transport) as anonymous:
            created = anonymous._run(
                ops.login(email, password, token_name=token_name, expires_in_days=expires_in_days)
            )
        return cls(base_url, created.token, timeout=timeout, transport=transport)

    # ---- Plumbing ----------------------------------------------------------------------------

    def __enter__(self) -> ExpertLoop:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _run(self, op: Op[T]) -> T:
        try:
            command = next(op)
            while True:
                if isinstance(command, Sleep):
                    time.sleep(command.seconds)
                    command = op.send(None)
                else:
                    command = op.send(self._send(command))
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _send(self, call: Call) -> Reply:
        rewind, sink = Rewind(call.content), Sink(call.stream_to)
        attempt = 0
        while True:
            attempt += 1
            rewind()
            sink.reset()
            try:
                outcome = self._attempt(call)
            except httpx.TransportError as exc:
                delay = retry_delay(
                    self.retry,
                    call,
                    attempt,
                    rewind,
                    connect_failed=isinstance(exc, httpx.ConnectError),
                )
                if delay is None:
                    raise TransportError(f"{call.method} {call.path}: {exc!r}") from exc
                time.sleep(delay)
                continue
            if isinstance(outcome, Reply):
                return outcome
            delay = retry_delay(self.retry, call, attempt, rewind, error=outcome)
            if delay is None:
                raise outcome
            time.sleep(delay)

    def _attempt(self, call: Call) -> Reply | ExpertLoopError:
        request = self._http.build_request(
            call.method,
            call.path,
            params=clean_params(call.params),
            json=call.json,
            content=call.content,
            headers=request_headers(call),
        )
        response = self._http.send(request, stream=call.stream_to is not None)
        try:
            if response.status_code >= 400:
                return error_for(response.status_code, response.read(), response.headers)
            headers = {k.lower(): v for k, v in response.headers.items()}
            if call.stream_to is None:
                return Reply(response.status_code, headers, response.read())
            for block in response.iter_bytes(CHUNK):
                call.stream_to.write(block)
            return Reply(response.status_code, headers, b"")
        finally:
            response.close()

    # ---- Auth --------------------------------------------------------------------------------

    def me(self) -> User:
        """Return the user the token belongs to."""
        return self._run(ops.me())

    def logout(self) -> None:
        """Revoke this client's token (the client cannot be used afterwards)."""
        self._run(ops.logout())

    # ---- Projects and problem sets -------------------------------------------------------------

    def list_projects(self) -> list[Project]:
        """Return every project you may see, newest first (all pages)."""
        return self._run(ops.list_projects())

    def create_project(
        self,
        name: str,
        description: str = "",
        domain: str = "",
        guidelines: str = "",
        organisation_id: int | None = None,
    ) -> Project:
        """Create a project (clients: in their organisation; operators name the organisation)."""
        return self._run(ops.create_project(name, description, domain, guidelines, organisation_id))

    def get_project(self, project_id: int) -> Project:
        """Return one project."""
        return self._run(ops.get_project(project_id))

    def list_problem_sets(self, project_id: int, status: str | None = None) -> list[ProblemSet]:
        """Return the project's problem sets you may see, newest first; filter by ``status``."""
        return self._run(ops.list_problem_sets(project_id, status))

    # ---- Imports and seeds ---------------------------------------------------------------------

    def import_seeds(
        self,
        project_id: int,
        source: ops.Source,
        *,
        format: str | None = None,
        filename: str | None = None,
    ) -> Import:
        """Upload seed problems (a path, bytes or a binary file; streamed) for a job to import.

        ``format`` is jsonl, csv, parquet or label_studio (default: from the filename). The
        same content again returns the first import with ``duplicate`` set.
        """
        return self._run(ops.import_seeds(project_id, source, format=format, filename=filename))

    def get_import(self, import_id: int) -> Import:
        """Return an import: status, counts and its first errors (line, field, message)."""
        return self._run(ops.get_import(import_id))

    def list_imports(self, project_id: int) -> list[Import]:
        """Return the project's imports, newest first."""
        return self._run(ops.list_imports(project_id))

    def wait_for_import(
        self, import_id: int, *, timeout: float = 600.0, poll: float = 0.5
    ) -> Import:
        """Wait until the import is imported (returned) or failed (raises ``ImportFailed``)."""
        return self._run(ops.wait_for_import(import_id, timeout=timeout, poll=poll))

    def list_seeds(self, project_id: int, *, available: bool | None = None) -> list[Seed]:
        """Return the project's imported seeds in import order (``available``: not picked up)."""
        return self._run(ops.list_seeds(project_id, available))

    # ---- Jobs --------------------------------------------------------------------------------

    def get_job(self, job_id: int) -> Job:
        """Return a job: status, progress, result or error."""
        return self._run(ops.get_job(job_id))

    def cancel_job(self, job_id: int) -> Job:
        """Cancel a queued job, or ask a running one to stop."""
        return self._run(ops.cancel_job(job_id))

    def wait_for_job(
        self,
        job_id: int,
        *,
        timeout: float = 600.0,
        poll: float = 0.5,
        on_progress: ops.ProgressCallback | None = None,
    ) -> Job:
        """Wait until the job is done (returned); ``JobFailed`` or ``WaitTimeout`` otherwise."""
        return self._run(
            ops.wait_for_job(job_id, timeout=timeout, poll=poll, on_progress=on_progress)
        )

    # ---- Snapshots -----------------------------------------------------------------------------

    def create_snapshot(
        self,
        project_id: int,
        *,
        domain: str | None = None,
        accepted_from: dt.date | str | None = None,
        accepted_to: dt.date | str | None = None,
        endpoint_ids: Iterable[int] | None = None,
        test_fraction: float = 0.1,
        idempotency_key: str | None = None,
    ) -> Snapshot:
        """Ask for a new numbered snapshot of the project's accepted problem sets (a job builds)."""
        return self._run(
            ops.create_snapshot(
                project_id,
                domain=domain,
                accepted_from=accepted_from,
                accepted_to=accepted_to,
                endpoint_ids=endpoint_ids,
                test_fraction=test_fraction,
                idempotency_key=idempotency_key,
            )
        )

    def get_snapshot(self, snapshot_id: int) -> Snapshot:
        """Return a snapshot; once ready, with its manifest and files."""
        return self._run(ops.get_snapshot(snapshot_id))

    def list_snapshots(self, project_id: int) -> list[Snapshot]:
        """Return the project's snapshots, newest first."""
        return self._run(ops.list_snapshots(project_id))

    def wait_for_snapshot(
        self,
        snapshot_id: int,
        *,
        timeout: float = 600.0,
        poll: float = 0.5,
        on_progress: ops.ProgressCallback | None = None,
    ) -> Snapshot:
        """Wait until the snapshot is ready (raises ``SnapshotFailed``, ``JobFailed``)."""
        return self._run(
            ops.wait_for_snapshot(snapshot_id, timeout=timeout, poll=poll, on_progress=on_progress)
        )

    def download_snapshot(
        self,
        snapshot_id: int,
        dest: str | os.PathLike[str],
        *,
        format: ops.ArchiveFormat = "zip",
        extract: bool = False,
        verify: bool = True,
        keep_archive: bool = False,
    ) -> Path:
        """Stream the snapshot's archive to ``dest`` (a folder or a file name) and return its path.

        With ``extract``, unpack it into the folder ``dest`` (refusing unsafe entries), check every
        file's sha256 against the manifest, and return the snapshot folder.
        """
        return self._run(
            ops.download_snapshot(
                snapshot_id,
                dest,
                format=format,
                extract=extract,
                verify=verify,
                keep_archive=keep_archive,
            )
        )

    def download_file(
        self, snapshot_id: int, path: str, dest: str | os.PathLike[str], *, verify: bool = True
    ) -> Path:
        """Stream one file of the snapshot (e.g. ``data/…/train.jsonl``) to ``dest``; checked."""
        return self._run(ops.download_file(snapshot_id, path, dest, verify=verify))
