"""Shapes shared by API resources."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, object] | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Not logged in, or bad token"},
    403: {"model": ErrorOut, "description": "Not allowed (role, CSRF)"},
    404: {"model": ErrorOut, "description": "Not found or not visible to you"},
    422: {"model": ErrorOut, "description": "Invalid input"},
}
