"""A small PASETO v4 auth library for FastAPI. It imports nothing from the app around it."""

from .auth import AuthPASETO, bind_config
from .config import PasetoConfig
from .exceptions import AuthPASETOException
from .keys import KeyRing, generate_key, public_paserk
from .purpose import PurposeTokens

__all__ = ["AuthPASETO", "AuthPASETOException", "KeyRing", "PasetoConfig", "PurposeTokens", "bind_config", "generate_key", "public_paserk"]
