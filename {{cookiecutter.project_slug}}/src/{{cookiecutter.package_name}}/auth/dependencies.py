"""Dependencies of the auth routes."""

from typing import Annotated

from fastapi import Depends, Request

from .revocation import RevokedFamilies


async def get_revoked_families(request: Request) -> RevokedFamilies:
    revoked: RevokedFamilies = request.app.state.revoked_families
    return revoked


RevokedDep = Annotated[RevokedFamilies, Depends(get_revoked_families)]
