"""Every kind of stored security event, and how a person reads it. A new flow adds its kind here, then
records it with one call (service.record): the admin API's `?type=` filter and the pages follow."""

from enum import StrEnum


class EventType(StrEnum):
    """An event's kind: the same name as its log line's `event=`."""

    USER_REGISTERED = "user_registered"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    MFA_REQUESTED = "mfa_requested"
    MFA_FAILED = "mfa_failed"
    FRESH_LOGIN = "fresh_login"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    LOGOUT = "logout"
    LOGOUT_ALL = "logout_all"
    SESSION_ENDED = "session_ended"
    SESSIONS_OVER_LIMIT_ENDED = "sessions_over_limit_ended"
    TOKEN_REVOKED = "token_revoked"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFIED = "email_verified"
    MFA_ADDED = "mfa_added"
    MFA_REMOVED = "mfa_removed"
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced"
    RECOVERY_CODE_USED = "recovery_code_used"
    PASSKEY_REPLAYED = "passkey_replayed"
    IDENTITY_CONNECTED = "identity_connected"
    IDENTITY_DISCONNECTED = "identity_disconnected"
    ADMIN_ACTIVATED_ACCOUNT = "admin_activated_account"
    ADMIN_DEACTIVATED_ACCOUNT = "admin_deactivated_account"
    ADMIN_ENDED_SESSIONS = "admin_ended_sessions"
    ADMIN_RESET_MFA = "admin_reset_mfa"


# What the owner reads on the dashboard.
LABELS: dict[EventType, str] = {
    EventType.USER_REGISTERED: "Account created",
    EventType.LOGIN: "Logged in",
    EventType.LOGIN_FAILED: "Login refused: wrong password",
    EventType.MFA_REQUESTED: "Password accepted, second factor asked for",
    EventType.MFA_FAILED: "Second factor refused",
    EventType.FRESH_LOGIN: "Password confirmed again",
    EventType.REFRESH_TOKEN_REUSED: "A spent refresh token was used again: its session was ended",
    EventType.LOGOUT: "Logged out",
    EventType.LOGOUT_ALL: "Logged out everywhere",
    EventType.SESSION_ENDED: "A session was ended",
    EventType.SESSIONS_OVER_LIMIT_ENDED: "Old sessions ended (too many sessions)",
    EventType.TOKEN_REVOKED: "A session was revoked by its token",
    EventType.PASSWORD_CHANGED: "Password changed",
    EventType.PASSWORD_RESET: "Password reset from a mailed link",
    EventType.EMAIL_VERIFIED: "E-mail address verified",
    EventType.MFA_ADDED: "Second factor added",
    EventType.MFA_REMOVED: "Second factor removed",
    EventType.RECOVERY_CODES_REPLACED: "New recovery codes made",
    EventType.RECOVERY_CODE_USED: "A recovery code was used",
    EventType.PASSKEY_REPLAYED: "A passkey's signature counter went back (a cloned key?): refused",
    EventType.IDENTITY_CONNECTED: "A login provider's account was connected",
    EventType.IDENTITY_DISCONNECTED: "A login provider's account was disconnected",
    EventType.ADMIN_ACTIVATED_ACCOUNT: "Account activated by an administrator",
    EventType.ADMIN_DEACTIVATED_ACCOUNT: "Account deactivated by an administrator",
    EventType.ADMIN_ENDED_SESSIONS: "Every session ended by an administrator",
    EventType.ADMIN_RESET_MFA: "Second factors removed by an administrator",
}

# Refusals anyone can repeat at will: one row per account, kind, client address (group) and hour, with a count.
MERGED = frozenset({EventType.LOGIN_FAILED, EventType.MFA_FAILED})
