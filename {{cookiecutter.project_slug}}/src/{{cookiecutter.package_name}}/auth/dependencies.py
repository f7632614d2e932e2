"""Dependencies of the auth routes."""

from typing import Annotated

from fastapi import Depends, Request

from .revocation import RevokedFamilies


def get_revoked_families(request: Request) -> RevokedFamilies:
    revoked: RevokedFamilies = request.app.state.revoked_families
    return revoked


RevokedDep = Annotated[RevokedFamilies, Depends(get_revoked_families)]


def client_address(request: Request) -> str:
    # Behind a proxy, run uvicorn with --proxy-headers and --forwarded-allow-ips so this is the client.
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]
