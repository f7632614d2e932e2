"""What the second-factor routes accept and return."""

from typing import Annotated, Any

from pydantic import BaseModel, Field

from ..users.schemas import Text

Code = Annotated[str, Field(min_length=1, max_length=16, description="The 6 digits the authenticator app shows now"), Text]
RecoveryCodeText = Annotated[str, Field(min_length=1, max_length=32, description="One of the account's recovery codes"), Text]
MfaToken = Annotated[str, Field(min_length=1, max_length=2048, description="The `mfa_token` of the first step's answer"), Text]


class SecondFactor(BaseModel):
    """The second step of a login or a re-authentication: the first step's token and one factor."""

    mfa_token: MfaToken
    code: Code | None = None
    recovery_code: RecoveryCodeText | None = None
    passkey: dict[str, Any] | None = Field(
        default=None, description="The PublicKeyCredential JSON of navigator.credentials.get() for POST /login/mfa/passkey/options"
    )


class CodeCheck(BaseModel):
    code: Code


class TotpSetupView(BaseModel):
    """A pending authenticator: add it to the app (scan the QR code or type the secret), then confirm with a code."""

    secret: str = Field(description="Base32, for typing into the app by hand")
    otpauth_uri: str
    qr_svg: str = Field(description="The URI as an SVG QR code, to put into a page as it is")


class RecoveryCodes(BaseModel):
    """Shown once: each works once, when the authenticator app is lost. Only their hashes are kept."""

    recovery_codes: list[str]


class FactorsView(BaseModel):
    methods: list[str] = Field(description="The second factors the account can use now: totp, recovery_code, passkey")
    recovery_codes_left: int
