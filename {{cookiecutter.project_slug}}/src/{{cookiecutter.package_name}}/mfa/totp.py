"""TOTP (RFC 6238) as authenticator apps speak it: a base32 secret, 6 digits, 30-second steps; and its QR code.

pyotp computes the codes; what it leaves to the caller is done here: the step a code belongs to, so that
the service can refuse a code whose step was used already (a code seen over a shoulder, replayed in its
window).
"""

import time

import pyotp
import segno

DIGITS, STEP_SECONDS = 6, 30
WINDOW = 1  # steps either side of now, for clocks a little apart


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code: part of the page itself, no image URL, no JavaScript."""
    svg: str = segno.make(uri, error="m").svg_inline(scale=5, border=2, title="Scan with your authenticator app")
    return svg


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code this is, within the window around now; None if it is no current code."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp, moment = pyotp.TOTP(secret), time.time() if now is None else now
    step = int(moment // STEP_SECONDS)
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if pyotp.utils.strings_equal(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None
