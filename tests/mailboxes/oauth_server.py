"""A real OAuth 2.0 authorization server for the tests, on a loopback port: Authlib's
(``authlib.integrations.flask_oauth2``) with the authorization-code grant and PKCE, refresh tokens
(rotated at each use), revocation (RFC 7009), introspection (RFC 7662: what Dovecot and the test
SMTP server ask to check a token) and OpenID discovery. One client and one user (``herald``),
kept in memory. The authorization page is a form with "Allow" and "Deny" for the browser test;
``approve(url)`` submits it the way a person would.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

USER = "herald"
CLIENT_ID = "herald-test-client"
CLIENT_SECRET = "client-s3cret"
SCOPE = "mail offline_access"


@dataclass
class User:
    username: str

    def get_user_id(self) -> str:
        return self.username


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPE.split())

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None = None
    auth_time: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> float:
        return self.auth_time


@dataclass
class Token(TokenMixin):
    client_id: str
    user: User
    access_token: str
    refresh_token: str | None
    scope: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> User:
        return self.user

    def get_client(self) -> ClientMixin:
        return CLIENTS[self.client_id]


CLIENTS: dict[str, Client] = {}


class OAuthServer:
    """The server, running until ``stop()``; ``issuer`` is its base address."""

    def __init__(self, redirect_uri: str, *, expires_in: int = 3600) -> None:
        self.user = User(USER)
        self.expires_in = expires_in
        self.codes: dict[str, Code] = {}
        self.tokens: list[Token] = []
        self.token_requests: list[dict[str, str]] = []  # what the token endpoint was sent
        CLIENTS[CLIENT_ID] = Client(CLIENT_ID, CLIENT_SECRET, [redirect_uri])
        app = Flask("herald-test-oauth")
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
            "authorization_code": expires_in,
            "refresh_token": expires_in,
        }
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
        server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=self._save_token)
        outer = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> Code:
                data = req.payload.data
                item = Code(
                    code=code,
                    client_id=req.client.client_id,
                    redirect_uri=req.payload.redirect_uri,
                    scope=req.scope or "",
                    user=req.user,
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )
                outer.codes[code] = item
                return item

            def query_authorization_code(self, code: str, client: ClientMixin) -> Code | None:
                item = outer.codes.get(code)
                return item if item and item.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                outer.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> User:
                return authorization_code.user

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotated: the old one stops working

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
                for token in outer.tokens:
                    if token.refresh_token == refresh_token and not token.revoked:
                        return token
                return None

            def authenticate_user(self, refresh_token: Token) -> User:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: Token) -> None:
                refresh_token.revoked = True

        class Revocation(RevocationEndpoint):
            CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
                return outer.find(token_string)

            def revoke_token(self, token: Token, req: Any) -> None:
                token.revoked = True

        class Introspection(IntrospectionEndpoint):
            CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
                return outer.find(token_string)

            def introspect_token(self, token: Token) -> dict[str, Any]:
                return {
                    "active": True,
                    "client_id": token.client_id,
                    "token_type": "Bearer",
                    "username": token.user.username,
                    "scope": token.scope,
                    "sub": token.user.username,
                    "exp": int(token.issued_at + token.expires_in),
                    "iat": int(token.issued_at),
                }

            def check_permission(self, token: Token, client: ClientMixin, req: Any) -> bool:
                return True

        server.register_grant(CodeGrant, [CodeChallenge(required=True)])
        server.register_grant(RefreshGrant)
        server.register_endpoint(Revocation)
        server.register_endpoint(Introspection)

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            if request.method == "GET":
                try:
                    server.get_consent_grant(end_user=self.user)
                except Exception as exc:
                    return f"<p>{exc}</p>", 400
                return (
                    "<!doctype html><title>Test provider</title><h1>Sign in to Herald?</h1>"
                    f'<form method="post" action="/authorize?{request.query_string.decode()}">'
                    f"<p>Account: {USER}</p>"
                    '<button name="confirm" value="yes">Allow</button> '
                    '<button name="confirm" value="no">Deny</button></form>'
                )
            granted = request.form.get("confirm") == "yes"
            grant = server.get_consent_grant(end_user=self.user)
            return server.create_authorization_response(
                grant_user=self.user if granted else None, grant=grant
            )

        @app.route("/token", methods=["POST"])
        def issue_token() -> Any:
            self.token_requests.append(dict(request.form))
            return server.create_token_response()

        @app.route("/revoke", methods=["POST"])
        def revoke() -> Any:
            return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

        @app.route("/introspect", methods=["POST"])
        def introspect() -> Any:
            return server.create_endpoint_response(Introspection.ENDPOINT_NAME)

        @app.route("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                revocation_endpoint=f"{self.issuer}/revoke",
                introspection_endpoint=f"{self.issuer}/introspect",
                response_types_supported=["code"],
                code_challenge_methods_supported=["S256"],
            )

        self.http = make_server("127.0.0.1", 0, app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.http.server_port}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        self.tokens.append(
            Token(
                client_id=req.client.client_id,
                user=req.user,
                access_token=token["access_token"],
                refresh_token=token.get("refresh_token"),
                scope=token.get("scope", ""),
                expires_in=int(token.get("expires_in", self.expires_in)),
            )
        )

    def find(self, token_string: str) -> Token | None:
        for token in self.tokens:
            if token_string in (token.access_token, token.refresh_token):
                return token
        return None

    def active(self, access_token: str) -> bool:
        token = self.find(access_token)
        return token is not None and not token.revoked and not token.is_expired()

    def introspection_url(self) -> str:
        """The introspection address with the client's credentials, as Dovecot takes it."""
        return f"http://{CLIENT_ID}:{CLIENT_SECRET}@127.0.0.1:{self.http.server_port}/introspect"

    def approve(self, authorization_url: str, *, allow: bool = True) -> str:
        """Submits the authorization page as a person clicking "Allow" (or "Deny") would; the
        address the provider sends the browser back to."""
        query = urlsplit(authorization_url).query
        answer = requests.post(
            f"{self.issuer}/authorize?{query}",
            data={"confirm": "yes" if allow else "no"},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]

    def revoke_all(self) -> None:
        """What revoking the app's consent at the provider does: every token stops working."""
        for token in self.tokens:
            token.revoked = True

    def stop(self) -> None:
        self.http.shutdown()
