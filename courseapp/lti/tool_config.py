"""pylti1p3's view of the registrations: a ToolConf backed by the Platform and ToolKey tables, plus
the storage the OIDC state and nonces live in (the Django cache, each nonce usable once)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from pylti1p3.contrib.django import DjangoCacheDataStorage
from pylti1p3.contrib.django.session import DjangoSessionService
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from courseapp.lti.keys import current_key, published_jwks
from courseapp.lti.models import Platform


def platform_for(iss: str, client_id: str | None) -> Platform:
    """The active registration for (issuer, client id); without a client id (some platforms leave it
    out of the login request), the issuer's only one. LtiException when there is none."""
    platforms = Platform.objects.filter(issuer=iss, is_active=True)
    if client_id is not None:
        platforms = platforms.filter(client_id=client_id)
    found = list(platforms[:2])
    if len(found) != 1:
        detail = "is not registered" if not found else "has several client ids; the request must name one"
        raise LtiException(f"the platform {iss!r} (client id {client_id!r}) {detail}")
    return found[0]


def registration_for(platform: Platform) -> Registration:
    key = current_key()
    reg = Registration()
    reg.set_issuer(platform.issuer).set_client_id(platform.client_id)
    reg.set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
    reg.set_key_set_url(platform.key_set_url).set_key_set(None)
    if platform.auth_audience:
        reg.set_auth_audience(platform.auth_audience)
    reg.set_tool_private_key(key.private_key).set_tool_public_key(key.public_key)
    return reg


class DbToolConf(ToolConfAbstract):
    """Registrations from the Platform table: one issuer may have many client ids."""

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        return registration_for(platform_for(iss, None))

    def find_registration_by_params(self, iss: str, client_id: str, *args: Any, **kwargs: Any) -> Registration:
        return registration_for(platform_for(iss, client_id))

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        platform = platform_for(iss, client_id)
        if not platform.knows_deployment(deployment_id):
            return None
        return Deployment().set_deployment_id(deployment_id)

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs: Any) -> dict:
        return published_jwks()


class NonceOnceCacheStorage(DjangoCacheDataStorage):
    """pylti1p3's cache storage, with a take-once read for nonces (its own check only looks)."""

    def __init__(self) -> None:
        super().__init__(cache_name=settings.LTI_CACHE)

    def take_value(self, key: str) -> bool:
        """True exactly once for a key that is there: the delete is atomic in Redis and locmem."""
        return bool(self._get_cache().delete(self._prepare_key(key)))


class LtiSessionService(DjangoSessionService):
    """Nonces live LTI_NONCE_TTL_S (the OIDC round trip takes seconds) and are accepted once."""

    data_storage: NonceOnceCacheStorage

    def save_nonce(self, nonce: str) -> None:
        self.data_storage.set_value(self._get_key("nonce", nonce), True, exp=settings.LTI_NONCE_TTL_S)

    def check_nonce(self, nonce: str) -> bool:
        return self.data_storage.take_value(self._get_key("nonce", nonce))
