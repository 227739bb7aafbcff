"""Session flows of both generations, session enforcement, the login page."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.integration.simulator.broker_calls import LEGACY, OPENAPI, Legacy, OpenApi, sha256_hex

APP_SECRET = "sim-app-secret"


def _vendor_exchange(sim, path: str, checksum: str) -> dict:
    return requests.post(sim.base_url + path, json={"checkSum": checksum}, timeout=5).json()


def _jwt_payload(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_vendor_checksum_exchange_returns_a_jwt_session(sim, user):
    # given
    auth_code = sim.login(user)
    checksum = sha256_hex(user + auth_code + APP_SECRET)

    # when
    answer = _vendor_exchange(sim, OPENAPI + "vendor/getUserDetails", checksum)

    # then
    assert answer["stat"] == "Ok"
    assert answer["clientId"].isdigit()
    header, _payload, _signature = answer["userSession"].split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"] == "RS256"
    claims = _jwt_payload(answer["userSession"])
    assert claims["exp"] - claims["iat"] == 60 * 24 * 3600
    assert claims["ucc"] == answer["clientId"]
    assert claims["sid"]
    profile = OpenApi(sim.base_url, answer["userSession"]).get("profile/").json()
    assert profile["status"] == "Ok"
    assert profile["result"][0]["clientId"] == answer["clientId"]


def test_vendor_auth_code_is_one_time(sim, user):
    # given
    auth_code = sim.login(user)
    checksum = sha256_hex(user + auth_code + APP_SECRET)
    _vendor_exchange(sim, OPENAPI + "vendor/getUserDetails", checksum)

    # when
    answer = _vendor_exchange(sim, OPENAPI + "vendor/getUserDetails", checksum)

    # then
    assert answer == {"stat": "Not_ok", "emsg": "Invalid auth code"}


def test_vendor_bad_checksum_is_invalid_auth_code(sim, user):
    # given
    auth_code = sim.login(user)

    # when
    answer = _vendor_exchange(sim, OPENAPI + "vendor/getUserDetails", sha256_hex(user + auth_code + "wrong"))

    # then
    assert answer == {"stat": "Not_ok", "emsg": "Invalid auth code"}


def test_vendor_exchange_after_the_day_rolled_says_not_logged_in(sim, user):
    # given
    auth_code = sim.login(user)
    sim.new_day()

    # when
    answer = _vendor_exchange(
        sim, OPENAPI + "vendor/getUserDetails", sha256_hex(user + auth_code + APP_SECRET)
    )

    # then
    assert answer == {"stat": "Not_ok", "emsg": "User does not login. Please login"}


def test_legacy_sso_exchange_returns_a_legacy_session(sim, user):
    # given
    auth_code = sim.login(user)

    # when
    answer = _vendor_exchange(
        sim, "/rest/AliceBlueAPIService/sso/getUserDetails", sha256_hex(user + auth_code + APP_SECRET)
    )

    # then
    assert answer["stat"] == "Ok"
    details = Legacy(sim.base_url, user, answer["userSession"]).get("customer/accountDetails").json()
    assert details["accountId"] == user
    assert "stat" not in details


def _enc_key(sim, user_id: str) -> dict:
    return requests.post(
        sim.base_url + LEGACY + "customer/getAPIEncpkey", json={"userId": user_id}, timeout=5
    ).json()


def _user_sid(sim, body: dict) -> requests.Response:
    return requests.post(sim.base_url + LEGACY + "customer/getUserSID", json=body, timeout=5)


def test_legacy_api_key_flow_issues_a_session(sim, user):
    # given
    sim.login(user)
    enc = _enc_key(sim, user)

    # when
    answer = _user_sid(
        sim, {"userId": user, "userData": sha256_hex(user + "user-api-key" + enc["encKey"])}
    ).json()

    # then
    assert set(enc) == {
        "userId",
        "userData",
        "encKey",
        "apikey",
        "stat",
        "emsg",
        "loginType",
        "version",
        "fcmToken",
        "imei",
        "login",
    }
    assert enc["stat"] == "Ok"
    assert enc["login"] is True
    assert len(enc["encKey"]) == 32
    assert answer["stat"] == "Ok"
    book = Legacy(sim.base_url, user, answer["sessionID"]).get("placeOrder/fetchOrderBook").json()
    assert book == {"stat": "Not_Ok", "emsg": "No Data"}


def test_legacy_user_data_must_use_the_last_enc_key(sim, user):
    # given
    sim.login(user)
    first = _enc_key(sim, user)["encKey"]
    _enc_key(sim, user)

    # when
    answer = _user_sid(sim, {"userId": user, "userData": sha256_hex(user + "user-api-key" + first)}).json()

    # then
    assert answer == {"stat": "Not_Ok", "emsg": "Invalid Input"}


def test_legacy_enc_key_needs_todays_login(sim, user):
    # when
    enc = _enc_key(sim, user)
    sid = _user_sid(sim, {"userId": user, "userData": "00"}).json()

    # then
    assert enc["stat"] == "Not_Ok"
    assert enc["encKey"] is None
    assert enc["emsg"] == "User not login. Please login"
    assert sid == {"stat": "Not_Ok", "emsg": "User does not login. Please login"}


def test_legacy_get_user_sid_rejects_unknown_fields_with_plain_400(sim, user):
    # given
    sim.login(user)

    # when
    response = _user_sid(sim, {"userId": user, "checkSum": "abc"})

    # then
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'Unrecognized field "checkSum" (class com.sas.dto.EncDataDTO)' in response.text


@pytest.mark.parametrize("header", [None, "Bearer nope", "Token abc"])
def test_openapi_without_a_valid_session_is_401(sim, user, header):
    # when
    response = requests.get(
        sim.base_url + OPENAPI + "orders/book", headers={"Authorization": header} if header else {}, timeout=5
    )

    # then
    assert response.status_code == 401


def test_legacy_without_a_valid_session_is_401_unauthorized(sim, user):
    # given
    token = sim.issue_session(user)

    # when
    wrong_user = Legacy(sim.base_url, "SOMEONE", token).get("placeOrder/fetchOrderBook")
    missing = Legacy(sim.base_url, user, None).get("placeOrder/fetchOrderBook")

    # then
    assert (wrong_user.status_code, wrong_user.text) == (401, "Unauthorized")
    assert missing.status_code == 401


def test_expired_sessions_answer_the_configured_body(sim, user):
    # given
    token = sim.issue_session(user)
    sim.configure(openapi_session_expired_mode="ec087", legacy_session_expired_mode="json")
    assert sim.expire_sessions(user) == 1

    # when
    new_api = OpenApi(sim.base_url, token).get("orders/book")
    old_api = Legacy(sim.base_url, user, token).get("placeOrder/fetchOrderBook")

    # then
    assert (new_api.status_code, new_api.json()) == (200, {"status": "Not_Ok", "message": "EC087"})
    assert (old_api.status_code, old_api.json()) == (200, {"stat": "Not_Ok", "emsg": "Session Expired"})


def test_login_page_redirects_with_auth_code_and_user_id(sim):
    # given
    sim.create_account("AB2002", redirect_url="http://app.test/callback?x=1")
    page = requests.get(sim.base_url + "/", params={"appcode": "COPYTRADE"}, timeout=5)

    # when
    response = requests.post(
        sim.base_url + "/",
        data={"appcode": "COPYTRADE", "userId": "AB2002"},
        allow_redirects=False,
        timeout=5,
    )

    # then
    assert page.status_code == 200
    assert "AB2002" in page.text
    assert "Log in" in page.text
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    query = parse_qs(target.query)
    assert (target.netloc, target.path, query["x"], query["userId"]) == (
        "app.test",
        "/callback",
        ["1"],
        ["AB2002"],
    )
    checksum = sha256_hex("AB2002" + query["authCode"][0] + APP_SECRET)
    assert _vendor_exchange(sim, OPENAPI + "vendor/getUserDetails", checksum)["stat"] == "Ok"


def test_login_page_rejects_an_unknown_app_code(sim):
    # when
    response = requests.get(sim.base_url + "/", params={"appcode": "NOPE"}, timeout=5)

    # then
    assert response.status_code == 400
