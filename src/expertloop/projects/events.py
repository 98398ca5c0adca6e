"""Audit events of the projects domain."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class ProjectCreated(Event):
    kind: str = field(init=False, default="projects.created")
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class ProjectUpdated(Event):
    kind: str = field(init=False, default="projects.updated")
    fields: tuple[str, ...] = ()
    version: int = 0


@dataclass(frozen=True, kw_only=True)
class UserStaffed(Event):
    kind: str = field(init=False, default="projects.staffed")
    user_id: int = 0
    role: str = ""


@dataclass(frozen=True, kw_only=True)
class StaffRoleChanged(Event):
    kind: str = field(init=False, default="projects.staff_role_changed")
    user_id: int = 0
    from_role: str = ""
    to_role: str = ""


@dataclass(frozen=True, kw_only=True)
class UserUnstaffed(Event):
    kind: str = field(init=False, default="projects.unstaffed")
    user_id: int = 0


@dataclass(frozen=True, kw_only=True)
class TargetModelsChanged(Event):
    kind: str = field(init=False, default="projects.target_models_changed")
    endpoint_ids: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NdaPublished(Event):
    kind: str = field(init=False, default="projects.nda_published")
    nda_id: int = 0
    nda_version: int = 0


@dataclass(frozen=True, kw_only=True)
class NdaAccepted(Event):
    kind: str = field(init=False, default="projects.nda_accepted")
    nda_id: int = 0
    nda_version: int = 0
