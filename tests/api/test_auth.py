import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from customers.models import ApiKey

pytestmark = pytest.mark.django_db


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


def test_no_key_is_refused_with_401_in_error_format():
    response = _client(None).get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Api-Key"


def test_wrong_key_is_refused():
    ApiKey.objects.create_key(name="checkout")
    response = _client("Api-Key abcdefgh.not-the-secret").get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_right_prefix_with_wrong_secret_is_refused():
    api_key, _key = ApiKey.objects.create_key(name="checkout")
    response = _client(f"Api-Key {api_key.prefix}.wrongsecret").get("/api/v1/customers")
    assert response.status_code == 401


def test_other_scheme_is_not_accepted():
    _, key = ApiKey.objects.create_key(name="checkout")
    response = _client(f"Bearer {key}").get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_revoked_key_is_refused():
    api_key, key = ApiKey.objects.create_key(name="checkout")
    assert _client(f"Api-Key {key}").get("/api/v1/customers").status_code == 200
    api_key.revoked = True
    api_key.save()
    response = _client(f"Api-Key {key}").get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_expired_key_is_refused():
    import datetime as dt

    from django.utils import timezone

    _, key = ApiKey.objects.create_key(
        name="old", expiry_date=timezone.now() - dt.timedelta(minutes=1)
    )
    response = _client(f"Api-Key {key}").get("/api/v1/customers")
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_live_and_test_keys_both_authenticate_and_carry_their_mode(rf):
    from customers.api.authentication import ApiKeyAuthentication

    _, live = ApiKey.objects.create_key(name="live", mode=ApiKey.Mode.LIVE)
    _, test = ApiKey.objects.create_key(name="sandbox", mode=ApiKey.Mode.TEST)
    auth = ApiKeyAuthentication()
    live_client, _ = auth.authenticate(rf.get("/", HTTP_AUTHORIZATION=f"Api-Key {live}"))
    test_client, _ = auth.authenticate(rf.get("/", HTTP_AUTHORIZATION=f"Api-Key {test}"))
    assert live_client.is_test is False
    assert test_client.is_test is True
    assert _client(f"Api-Key {test}").get("/api/v1/customers").status_code == 200


def test_key_is_stored_hashed():
    api_key, key = ApiKey.objects.create_key(name="checkout")
    stored = ApiKey.objects.get(pk=api_key.pk)
    secret = key.split(".", 1)[1]
    assert secret not in stored.hashed_key
    assert secret not in stored.id


def test_create_api_key_command_prints_the_key_alone_on_the_last_line(capsys):
    call_command("create_api_key", "web checkout", "--test")
    out = capsys.readouterr().out.strip().splitlines()
    key = out[-1]
    api_key = ApiKey.objects.get_from_key(key)
    assert api_key.name == "web checkout"
    assert api_key.mode == ApiKey.Mode.TEST
    assert _client(f"Api-Key {key}").get("/api/v1/customers").status_code == 200


def test_create_api_key_defaults_to_live(capsys):
    call_command("create_api_key", "crm")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert ApiKey.objects.get_from_key(key).mode == ApiKey.Mode.LIVE
