"""Personal API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from expertloop.accounts import tokens as tokens_uc
from expertloop.accounts.schemas import TokenCreatedOut, TokenIn, TokenOut
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, IP, CurrentUser

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERRORS)


@router.get("", response_model=list[TokenOut])
def list_tokens(user: CurrentUser, db: DB) -> list[TokenOut]:
    """List your API tokens (never their secrets)."""
    return [TokenOut.model_validate(t) for t in tokens_uc.list_tokens(session=db, user=user)]


@router.post("", response_model=TokenCreatedOut, status_code=201)
def create_token(body: TokenIn, user: CurrentUser, db: DB, ip: IP) -> TokenCreatedOut:
    """Create an API token; the secret is in this response only."""
    secret, row = tokens_uc.create_token(
        session=db, user=user, name=body.name, expires_in_days=body.expires_in_days, ip=ip
    )
    return TokenCreatedOut.model_validate(
        {**TokenOut.model_validate(row).model_dump(), "token": secret}
    )


@router.delete("/{token_id}", response_model=TokenOut)
def revoke_token(token_id: int, user: CurrentUser, db: DB, ip: IP) -> TokenOut:
    """Revoke one of your tokens."""
    return TokenOut.model_validate(
        tokens_uc.revoke_token(session=db, user=user, token_id=token_id, ip=ip)
    )
