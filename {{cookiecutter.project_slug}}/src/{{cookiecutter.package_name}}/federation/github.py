"""The GitHub preset: GitHub logs people in with OAuth 2.0, not OpenID Connect, so there is no ID token to check.

Who the person is comes from GitHub's API with the access token the code is traded for: `GET /user` (its
numeric `id` is the identity: a `login` can be renamed and reused, an id cannot) and `GET /user/emails`
(the primary address, verified only if GitHub says so). The code flow is the same as for OpenID Connect
providers: PKCE (S256), `state` bound to the browser and spent once, our exact redirect URI; the access
token is dropped once read, like every provider token.
"""

from typing import Any

import httpx2

from .client import ProvenIdentity, ProviderClient, unavailable
from .exceptions import FederationError

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GitHubClient(ProviderClient):
    """GitHub (or GitHub Enterprise): its web address is `issuer`, its API `api_url`."""

    def metadata(self) -> dict[str, Any]:
        """GitHub publishes no discovery document: its endpoints are fixed (and it sends no RFC 9207 `iss`)."""
        base = self.issuer
        return {"authorization_endpoint": f"{base}/login/oauth/authorize", "token_endpoint": f"{base}/login/oauth/access_token"}

    def exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        form = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret.get_secret_value(),
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        try:
            answer = self.http.post(self.metadata()["token_endpoint"], data=form, headers={"Accept": "application/json"})
        except httpx2.HTTPError:
            raise unavailable(self.config, "its token endpoint") from None
        body = _object(answer)
        if body.get("error") == "bad_verification_code":  # GitHub answers 200 with an error: a spent, expired or foreign code
            raise FederationError(400, "invalid_grant", "That login was used already or has expired: please log in again")
        if answer.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise unavailable(self.config, "its token endpoint refused the code")
        return body

    def prove(self, code: str, code_verifier: str, nonce: str) -> ProvenIdentity:
        access_token = self.exchange(code, code_verifier)["access_token"]
        user = self._api(access_token, "/user")
        subject = user.get("id")
        if not isinstance(subject, int) or isinstance(subject, bool):
            raise unavailable(self.config, "its user API")
        emails = self._api(access_token, "/user/emails", listed=True).get("items", [])
        primary = next((item for item in emails if isinstance(item, dict) and item.get("primary") is True), None)
        email = primary.get("email") if primary else None
        return ProvenIdentity(
            provider=self.name,
            subject=str(subject),
            email=email.lower() if isinstance(email, str) and "@" in email and len(email) <= 254 else None,
            email_verified=primary is not None and primary.get("verified") is True,
            name=user.get("name") if isinstance(user.get("name"), str) else None,
            auth_time=None,
        )

    def _api(self, access_token: str, path: str, *, listed: bool = False) -> dict[str, Any]:
        headers = {**API_HEADERS, "Authorization": f"Bearer {access_token}"}
        try:
            answer = self.http.get(f"{self.config.api_url.rstrip('/')}{path}", headers=headers)
            body: Any = answer.json()
        except (httpx2.HTTPError, ValueError):
            raise unavailable(self.config, "its user API") from None
        if answer.status_code != 200 or not isinstance(body, list if listed else dict):
            raise unavailable(self.config, "its user API")
        return {"items": list(body)} if listed else dict(body)


def _object(answer: httpx2.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
