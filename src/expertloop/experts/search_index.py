"""Keep the matching search index of one expert up to date.

Call ``reindex`` after anything that changes what matching searches (profile, résumé, interview
transcript); the matching work fills it in.
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def reindex(session: Session, user_id: int) -> None:
    """Refresh the search document of ``user_id`` (a no-op until matching lands)."""
    del session, user_id
