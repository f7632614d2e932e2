"""What the passkey routes accept and return. A credential is the browser's PublicKeyCredential as JSON
(`credential.toJSON()`); options are the JSON that `PublicKeyCredential.parseCreationOptionsFromJSON()` /
`parseRequestOptionsFromJSON()` take."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from ..mfa.schemas import MfaToken
from ..users.schemas import Text

PasskeyName = Annotated[str, Field(min_length=1, max_length=64, description="What its owner calls it: 'Laptop', 'Phone'"), Text]
Credential = Annotated[dict[str, Any], Field(description="The PublicKeyCredential, as its toJSON() gives it")]


class PasskeyRegistration(BaseModel):
    credential: Credential
    name: PasskeyName = "Passkey"


class PasskeyAssertion(BaseModel):
    credential: Credential


class PasskeyRename(BaseModel):
    name: PasskeyName


class SecondStepOptionsRequest(BaseModel):
    """The second step of a login or re-authentication that answered 401 `mfa_required` with "passkey" among its methods."""

    mfa_token: MfaToken


class PasskeyView(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    synced: bool = Field(description="Backup eligible: the key may be copied between devices (amr `swk`); else bound to one (`hwk`)")
    backed_up: bool
    transports: list[str]
