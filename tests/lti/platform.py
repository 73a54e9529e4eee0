"""A real LTI 1.3 platform on the loopback interface, for the tests: an HTTP server in a thread with
its own RSA key and JWKS, an OIDC authorisation endpoint that signs id_tokens, an OAuth2
client-credentials token endpoint that verifies the tool's signed assertion against the tool's
/lti/jwks/, AGS line items and scores, NRPS memberships and a deep-linking return endpoint. It
records what it receives; `down` makes every service endpoint answer 503.

This is the platform's side, so it signs and verifies JWTs itself (PyJWT), as an LMS would.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
INSTRUCTOR = LIS + "membership#Instructor"
TEACHING_ASSISTANT = LIS + "membership/Instructor#TeachingAssistant"
LEARNER = LIS + "membership#Learner"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class PendingLaunch:
    """What the platform will put in the id_token for one login (keyed by lti_message_hint)."""

    claims: dict[str, Any]
    # Ways to spoil the token, for the refusal tests.
    sign_with: rsa.RSAPrivateKey | None = None
    issuer: str | None = None
    exp_offset_s: int = 300
    nonce: str | None = None
    audience: str | None = None


@dataclass
class Received:
    token_requests: list[dict] = field(default_factory=list)
    scores: list[tuple[str, dict]] = field(default_factory=list)  # (line item id, score body)
    lineitems_created: list[dict] = field(default_factory=list)
    deep_link_responses: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why a service request was refused


class LoopbackPlatform:
    def __init__(
        self, client_id: str = "tool-client-1", deployment_id: str = "deployment-1", context_id: str = "course-101"
    ) -> None:
        self.key = new_rsa_key()
        self.kid = "platform-key-1"
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.context_id = context_id
        self.tool_jwks_url = ""  # set once the tool's address is known
        self.tool_launch_url = ""
        self.down = False
        self.received = Received()
        self.pending: dict[str, PendingLaunch] = {}
        self.lineitems: list[dict] = []
        self.members: list[dict] = []
        self.tokens: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ---- lifecycle and URLs ----------------------------------------------------------------
    def start(self) -> LoopbackPlatform:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def auth_login_url(self) -> str:
        return self.url + "/auth"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    @property
    def lineitems_url(self) -> str:
        return f"{self.url}/contexts/{self.context_id}/lineitems"

    @property
    def memberships_url(self) -> str:
        return f"{self.url}/contexts/{self.context_id}/memberships"

    @property
    def deep_link_return_url(self) -> str:
        return self.url + "/deep-link-return"

    def public_jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    # ---- launches ---------------------------------------------------------------------------
    def base_claims(
        self,
        sub: str,
        roles: list[str],
        *,
        message_type: str = "LtiResourceLinkRequest",
        custom: dict | None = None,
        resource_link_id: str = "link-1",
        lineitem: str | None = None,
        ags: bool = True,
        nrps: bool = True,
        context: bool = True,
    ) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "sub": sub,
            "given_name": f"Given-{sub}",
            "family_name": f"Family-{sub}",
            "email": f"{sub}@example.edu",
            CLAIM + "message_type": message_type,
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "target_link_uri": self.tool_launch_url,
            CLAIM + "roles": roles,
            CLAIM + "launch_presentation": {"document_target": "iframe", "return_url": self.url + "/courses/101"},
        }
        if context:
            claims[CLAIM + "context"] = {
                "id": self.context_id,
                "label": "RN101",
                "title": "Residual networks 101",
                "type": [LIS + "course#CourseOffering"],
            }
        if message_type == "LtiResourceLinkRequest":
            claims[CLAIM + "resource_link"] = {"id": resource_link_id, "title": "An exercise"}
        else:
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": self.deep_link_return_url,
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": True,
                "data": "opaque-platform-data",
            }
        if custom is not None:
            claims[CLAIM + "custom"] = custom
        if ags:
            endpoint: dict[str, Any] = {"scope": AGS_SCOPES, "lineitems": self.lineitems_url}
            if lineitem:
                endpoint["lineitem"] = lineitem
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = endpoint
        if nrps:
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": self.memberships_url,
                "service_versions": ["2.0"],
            }
        return claims

    def prepare(self, launch: PendingLaunch) -> str:
        hint = uuid.uuid4().hex
        self.pending[hint] = launch
        return hint

    def id_token(self, launch: PendingLaunch, nonce: str) -> str:
        now = int(time.time())
        body = {
            **launch.claims,
            "iss": launch.issuer or self.issuer,
            "aud": launch.audience or self.client_id,
            "azp": launch.audience or self.client_id,
            "iat": now,
            "exp": now + launch.exp_offset_s,
            "nonce": launch.nonce or nonce,
        }
        return jwt.encode(body, private_pem(launch.sign_with or self.key), algorithm="RS256", headers={"kid": self.kid})

    # ---- line items and members ---------------------------------------------------------------
    def add_lineitem(
        self, *, label: str, score_maximum: float, resource_id: str = "", resource_link_id: str = ""
    ) -> dict:
        with self._lock:
            item = {
                "id": f"{self.lineitems_url}/{len(self.lineitems) + 1}",
                "label": label,
                "scoreMaximum": score_maximum,
                "resourceId": resource_id,
                "resourceLinkId": resource_link_id,
            }
            self.lineitems.append(item)
        return item

    def scores_for(self, lineitem_id: str) -> list[dict]:
        return [body for item, body in self.received.scores if item == lineitem_id]

    # ---- tool-side checks the platform makes ----------------------------------------------------
    def _verify_tool_jwt(self, token: str, audience: str) -> dict:
        header = jwt.get_unverified_header(token)
        keys = requests.get(self.tool_jwks_url, timeout=10).json()["keys"]
        match = [k for k in keys if k.get("kid") == header.get("kid")]
        if not match:
            raise ValueError(f"kid {header.get('kid')!r} is not in the tool's JWKS")
        public = RSAAlgorithm.from_jwk(json.dumps(match[0]))
        return jwt.decode(token, public, algorithms=["RS256"], audience=audience)

    def _bearer_scopes(self, headers) -> set[str] | None:
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self.tokens.get(auth[len("Bearer ") :])

    # ---- the HTTP side ------------------------------------------------------------------------
    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(
                self, status: int, body: Any = None, content_type: str = "application/json", headers: dict | None = None
            ) -> None:
                data = (
                    b""
                    if body is None
                    else (
                        body
                        if isinstance(body, bytes)
                        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
                    )
                )
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _refuse(self, status: int, why: str) -> None:
                platform.received.refused.append(why)
                self._send(status, {"error": why})

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/jwks":
                    return self._send(200, platform.public_jwks())
                if url.path == "/auth":
                    return self._authorize(query)
                if platform.down:
                    return self._send(503, {"error": "down for maintenance"})
                scopes = platform._bearer_scopes(self.headers)
                if url.path == f"/contexts/{platform.context_id}/lineitems":
                    if scopes is None:
                        return self._refuse(401, "no valid bearer token")
                    items = [
                        i
                        for i in platform.lineitems
                        if "resource_id" not in query or i["resourceId"] == query["resource_id"]
                    ]
                    return self._send(200, items, "application/vnd.ims.lis.v2.lineitemcontainer+json")
                if url.path == f"/contexts/{platform.context_id}/memberships":
                    if scopes is None or NRPS_SCOPE not in scopes:
                        return self._refuse(401, "no token with the NRPS scope")
                    return self._memberships(int(query.get("page", "1")))
                self._send(404, {"error": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                if url.path == "/deep-link-return":
                    return self._deep_link_return()
                if platform.down:
                    return self._send(503, {"error": "down for maintenance"})
                if url.path == "/token":
                    return self._token()
                scopes = platform._bearer_scopes(self.headers)
                base = f"/contexts/{platform.context_id}/lineitems"
                if url.path == base:
                    if scopes is None or AGS_SCOPES[0] not in scopes:
                        return self._refuse(401, "no token with the line item scope")
                    wanted = json.loads(self._body())
                    item = platform.add_lineitem(
                        label=wanted.get("label", ""),
                        score_maximum=wanted.get("scoreMaximum", 0),
                        resource_id=wanted.get("resourceId", ""),
                        resource_link_id=wanted.get("resourceLinkId", ""),
                    )
                    platform.received.lineitems_created.append(wanted)
                    return self._send(201, item, "application/vnd.ims.lis.v2.lineitem+json")
                if url.path.startswith(base + "/") and url.path.endswith("/scores"):
                    if scopes is None or AGS_SCOPES[2] not in scopes:
                        return self._refuse(401, "no token with the score scope")
                    if self.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
                        return self._refuse(415, "scores must be application/vnd.ims.lis.v1.score+json")
                    item_id = platform.url + url.path[: -len("/scores")]
                    if not any(i["id"] == item_id for i in platform.lineitems):
                        return self._refuse(404, f"no line item {item_id}")
                    platform.received.scores.append((item_id, json.loads(self._body())))
                    return self._send(204)
                self._send(404, {"error": "not found"})

            def _authorize(self, q: dict) -> None:
                """OIDC authorisation: check the tool's request, then the auto-posting form with the id_token."""
                problems = [
                    name
                    for name, ok in (
                        ("scope", q.get("scope") == "openid"),
                        ("response_type", q.get("response_type") == "id_token"),
                        ("response_mode", q.get("response_mode") == "form_post"),
                        ("prompt", q.get("prompt") == "none"),
                        ("client_id", q.get("client_id") == platform.client_id),
                        ("redirect_uri", q.get("redirect_uri") == platform.tool_launch_url),
                        ("nonce", bool(q.get("nonce"))),
                        ("state", bool(q.get("state"))),
                    )
                    if not ok
                ]
                launch = platform.pending.get(q.get("lti_message_hint", ""))
                if launch is None or launch.claims.get("sub") != q.get("login_hint"):
                    problems.append("lti_message_hint/login_hint")
                if problems:
                    return self._refuse(400, "bad authorisation request: " + ", ".join(problems))
                token = platform.id_token(launch, q["nonce"])
                page = (
                    f'<form method="post" action="{html.escape(q["redirect_uri"])}">'
                    f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
                    f'<input type="hidden" name="state" value="{html.escape(q["state"])}"></form>'
                )
                self._send(200, page, "text/html")

            def _token(self) -> None:
                form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
                platform.received.token_requests.append(form)
                if (
                    form.get("grant_type") != "client_credentials"
                    or form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                ):
                    return self._refuse(400, "unsupported grant")
                try:
                    claims = platform._verify_tool_jwt(form.get("client_assertion", ""), audience=platform.token_url)
                except Exception as exc:  # noqa: BLE001 - any failure is a refusal, reported
                    return self._refuse(401, f"client assertion refused: {exc}")
                if claims.get("iss") != platform.client_id or claims.get("sub") != platform.client_id:
                    return self._refuse(401, "client assertion is not from the registered client")
                token = secrets.token_urlsafe(24)
                platform.tokens[token] = set(form.get("scope", "").split())
                self._send(
                    200,
                    {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope", "")},
                )

            def _memberships(self, page: int) -> None:
                per_page = 2
                chunk = platform.members[(page - 1) * per_page : page * per_page]
                headers = {}
                if page * per_page < len(platform.members):
                    headers["Link"] = f'<{platform.memberships_url}?page={page + 1}>; rel="next"'
                body = {"id": platform.memberships_url, "context": {"id": platform.context_id}, "members": chunk}
                self._send(200, body, "application/vnd.ims.lti-nrps.v2.membershipcontainer+json", headers)

            def _deep_link_return(self) -> None:
                form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
                try:
                    claims = platform._verify_tool_jwt(form.get("JWT", ""), audience=platform.issuer)
                except Exception as exc:  # noqa: BLE001
                    return self._refuse(400, f"deep linking response refused: {exc}")
                platform.received.deep_link_responses.append(claims)
                self._send(200, "<p>Placed.</p>", "text/html")

        return Handler


def login_params(platform: LoopbackPlatform, hint: str, sub: str) -> dict[str, str]:
    """What the platform sends to the tool's login initiation URL."""
    return {
        "iss": platform.issuer,
        "login_hint": sub,
        "target_link_uri": platform.tool_launch_url,
        "lti_message_hint": hint,
        "client_id": platform.client_id,
        "lti_deployment_id": platform.deployment_id,
    }
