"""Single sign-on with OpenID Connect against a real OpenID provider on loopback: panva's
oidc-provider (tests/oidc/provider.js, installed by .ci/install-oidc-provider) run by Node.js,
and a real ``aimsgraph serve``. Signing in is driven with requests.Session through the
provider's own sign-in form, and once with headless Chromium.

The provider's users: alice (groups staff, aims-editors), bob (staff), carol (staff,
aims-editors, aims-admins), dave (contractors, mapped to nothing), and a few whose ID tokens the
provider's token endpoint swaps for bad ones (see provider.js).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape, unescape
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from aimsgraph import clock
from aimsgraph.config import Settings
from aimsgraph.errors import ConfigError
from aimsgraph.http.oidc import OidcConfig, claim_values, parse_role_map
from aimsgraph.namespaces import Graphs
from benchmarks.common import stop_process
from browser import POLL, console_errors, screenshot, start_chromium
from conftest import LiveServer, free_port, start_server

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "aimsgraph-tests", "the-client-secret-of-the-oidc-tests"
SECRET_KEY = "the-session-signing-key-of-the-oidc-tests"
ROLE_MAP = "aims-admins=admin, aims-editors=editor, staff=reader"
PROVIDER_NAME = "Test provider"
NT = {"Content-Type": "application/n-triples"}
SIGNED_IN = re.compile(r'id="signed-in-name">([^<]*)</strong>\s*with the <strong id="signed-in-role">([^<]*)<')


@dataclass
class Stack:
    server: LiveServer
    issuer: str
    while_down: requests.Response  # /login/oidc, asked before the provider was up


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """aimsgraph first (it must start while the provider is down), then the provider."""
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the OpenID provider is not installed: run .ci/install-oidc-provider")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    server = start_server(
        tmp_path_factory.mktemp("oidc") / "db",
        AIMSGRAPH_DEMO="false",
        AIMSGRAPH_OPEN_READS="false",
        AIMSGRAPH_SECRET_KEY=SECRET_KEY,
        AIMSGRAPH_OIDC_ISSUER=issuer,
        AIMSGRAPH_OIDC_CLIENT_ID=CLIENT_ID,
        AIMSGRAPH_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        AIMSGRAPH_OIDC_SCOPES="openid profile email groups",
        AIMSGRAPH_OIDC_ROLE_MAP=ROLE_MAP,  # the role claim is the default, groups
        AIMSGRAPH_OIDC_PROVIDER_NAME=PROVIDER_NAME,
    )
    while_down = requests.get(server.url + "/login/oidc", allow_redirects=False, timeout=30)
    provider = None
    try:
        provider = start_provider(port, server)
        yield Stack(server, issuer, while_down)
    finally:
        if provider is not None:
            stop_process(provider, grace=10)
        server.stop()


def start_provider(port: int, server: LiveServer) -> subprocess.Popen:
    """The test OpenID provider on ``port``, with ``server`` as its one client; once it answers."""
    log_path = server.data_dir.with_name("provider.log")
    with log_path.open("wb") as log:
        provider = subprocess.Popen(
            ["node", "provider.js", "--port", str(port), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
             "--redirect-uri", server.url + "/login/oidc/callback", "--post-logout-redirect-uri", server.url + "/"],
            cwd=PROVIDER_DIR, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for(provider, f"http://127.0.0.1:{port}/.well-known/openid-configuration", log_path)
    except BaseException:
        provider.kill()
        raise
    return provider


def _wait_for(provider: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if provider.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited with {provider.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the OpenID provider did not answer within 30 s")


def _form(page: requests.Response) -> tuple[str, dict[str, str]]:
    """The first form of a page: where it posts, and its hidden fields."""
    action = re.search(r'<form[^>]*action="([^"]*)"', page.text)
    assert action, f"no form at {page.url}:\n{page.text[:2000]}"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page.text))
    return urljoin(page.url, unescape(action.group(1))), {k: unescape(v) for k, v in hidden.items()}


def sign_in(stack: Stack, user: str, next_path: str = "/", browser: requests.Session | None = None):
    """Click "Sign in", fill in the provider's form as ``user``; the browser and where it landed."""
    browser = browser or requests.Session()
    at_provider = browser.get(stack.server.url + "/login/oidc", params={"next": next_path}, timeout=30)
    assert at_provider.url.startswith(stack.issuer + "/interaction/"), at_provider.url
    action, _ = _form(at_provider)
    return browser, browser.post(action, data={"login": user}, timeout=30)


def signed_in(stack: Stack, browser: requests.Session) -> tuple[str, str] | None:
    """Who the login page says the session is: (name, role), or None."""
    found = SIGNED_IN.search(browser.get(stack.server.url + "/login", timeout=30).text)
    return (found.group(1), found.group(2)) if found else None


# -- the service and the provider ---------------------------------------------------------------


def test_the_service_starts_while_the_provider_is_down_and_says_so_at_sign_in(stack):
    assert stack.while_down.status_code == 502
    assert f"the OpenID provider {stack.issuer} cannot be used: ConnectionError" in unescape(stack.while_down.text)
    assert 'id="oidc-login"' in stack.while_down.text  # the login page, to try again


def test_sign_in_goes_to_the_provider_with_pkce_state_and_nonce(stack):
    answer = requests.get(stack.server.url + "/login/oidc", params={"next": "/systems"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    where = urlsplit(answer.headers["Location"])
    assert f"{where.scheme}://{where.netloc}{where.path}" == stack.issuer + "/auth"
    asked = {name: values[0] for name, values in parse_qs(where.query).items()}
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == stack.server.url + "/login/oidc/callback"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["state"] and asked["nonce"]
    assert asked["scope"].split() == ["openid", "profile", "email", "groups"]


def test_signing_in_end_to_end_lands_on_the_page_asked_for(stack):
    browser, landed = sign_in(stack, "alice", next_path="/systems")
    assert landed.status_code == 200 and landed.url == stack.server.url + "/systems"
    assert "Signed in as oidc:alice" in landed.text
    assert "alice" not in browser.get(stack.server.url + "/api/health", timeout=30).text  # health tells no names


@pytest.mark.parametrize(("user", "role"), [("alice", "editor"), ("bob", "reader"), ("carol", "admin")])
def test_groups_map_to_roles_the_highest_winning(stack, user, role):
    browser, _ = sign_in(stack, user)
    assert signed_in(stack, browser) == (f"oidc:{user}", role)


def test_a_user_whose_groups_map_to_no_role_is_refused(stack):
    browser, refused = sign_in(stack, "dave")
    assert refused.status_code == 403
    assert "dave has no role in aimsgraph: no value of the groups claim (contractors) is mapped to one" in unescape(refused.text)
    assert signed_in(stack, browser) is None
    assert browser.get(stack.server.url + "/systems", timeout=30).url.startswith(stack.server.url + "/login?next=")


@pytest.mark.parametrize("elsewhere", ["https://elsewhere.example/phish", "//elsewhere.example/phish"])
def test_after_signing_in_the_browser_stays_on_this_site(stack, elsewhere):
    _, landed = sign_in(stack, "bob", next_path=elsewhere)
    assert landed.url == stack.server.url + "/"


def test_a_signed_in_session_cannot_write_through_sparql_the_graph_store_or_the_api(stack):
    browser, _ = sign_in(stack, "carol")  # an admin at the provider
    url = stack.server.url
    insert = f'INSERT DATA {{ GRAPH <{Graphs.DATA}> {{ <urn:x:forged> <urn:x:says> "written by a cookie" }} }}'
    attempts = [
        browser.post(url + "/update", data={"update": insert}, timeout=30),
        browser.post(url + "/sparql", data={"update": insert}, timeout=30),
        browser.put(url + "/rdf-graph-store", params={"graph": Graphs.DATA}, data="<urn:x:a> <urn:x:b> <urn:x:c> .", headers=NT),
        browser.delete(url + "/rdf-graph-store", params={"graph": Graphs.DATA}, timeout=30),
        browser.post(url + "/api/incidents", json={"label": "forged"}, timeout=30),
    ]
    assert [a.status_code for a in attempts] == [403] * len(attempts), [a.text for a in attempts]
    assert "has the reader role" in attempts[0].text  # a session reads, whatever its role
    asked = browser.post(url + "/sparql", data={"query": "ASK { <urn:x:forged> ?p ?o }"},
                         headers={"Accept": "application/sparql-results+json"}, timeout=30)  # fmt: skip
    assert asked.status_code == 200 and asked.json()["boolean"] is False  # the session reads, and nothing was written


def test_logout_ends_the_session_here_and_at_the_provider(stack):
    browser, _ = sign_in(stack, "alice")
    again = browser.get(stack.server.url + "/login/oidc", timeout=30)  # signed in at the provider: no form
    assert again.url == stack.server.url + "/" and signed_in(stack, browser) == ("oidc:alice", "editor")
    out = browser.post(stack.server.url + "/logout", allow_redirects=False, timeout=30)
    assert out.status_code == 200  # a page that sends the browser on: see oidc.logged_out
    leave_to = unescape(re.search(r'<meta http-equiv="refresh" content="0; url=([^"]*)"', out.text).group(1))
    assert f'id="provider-logout" href="{escape(leave_to)}"' in out.text and "Signed in as" not in out.text
    ending = urlsplit(leave_to)
    assert f"{ending.scheme}://{ending.netloc}{ending.path}" == stack.issuer + "/session/end"
    asked = {name: values[0] for name, values in parse_qs(ending.query).items()}
    assert asked["post_logout_redirect_uri"] == stack.server.url + "/" and asked["id_token_hint"].count(".") == 2
    assert signed_in(stack, browser) is None  # ended here before the provider is asked
    confirm = browser.get(leave_to, timeout=30)
    action, hidden = _form(confirm)
    back = browser.post(action, data={**hidden, "logout": "yes"}, timeout=30)
    assert back.url.startswith(stack.server.url + "/login")  # the post-logout page, which asks to log in
    assert browser.get(stack.server.url + "/login/oidc", timeout=30).url.startswith(stack.issuer + "/interaction/")


@pytest.mark.parametrize(
    ("user", "reason"),
    [
        ("forged-signature", "its signature does not verify with the provider's published keys"),
        ("forged-audience", "Invalid claim: 'aud'"),
        ("forged-issuer", "Invalid claim: 'iss'"),
        ("expired", "it has expired"),
        ("unsigned", "it is unsigned or signed with an algorithm not accepted"),
    ],
)
def test_a_bad_id_token_is_refused_at_the_callback(stack, user, reason):
    browser, refused = sign_in(stack, user)  # each of these would be an admin
    assert refused.status_code == 401 and refused.url.startswith(stack.server.url + "/login/oidc/callback?")
    assert f"the ID token from {PROVIDER_NAME} was refused: {reason}" in unescape(refused.text)
    assert signed_in(stack, browser) is None


def test_a_callback_this_browser_did_not_start_is_refused(stack):
    refused = requests.get(stack.server.url + "/login/oidc/callback", params={"code": "stolen", "state": "guessed"}, timeout=30)
    assert refused.status_code == 400
    assert "this sign-in was not started in this browser" in refused.text


def _session_cookie(browser: requests.Session):
    """The service's session cookie in ``browser``, and Flask's signer for it (the tests know
    the service's AIMSGRAPH_SECRET_KEY)."""
    app = Flask(__name__, static_folder=None)
    app.secret_key = SECRET_KEY
    signer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert signer is not None
    return next(c for c in browser.cookies if c.name == "session"), signer


def test_a_browser_has_one_sign_in_in_progress_at_a_time(stack):
    browser = requests.Session()
    for _ in range(5):
        browser.get(stack.server.url + "/login/oidc", allow_redirects=False, timeout=30)
    cookie, signer = _session_cookie(browser)
    assert len([key for key in signer.loads(cookie.value) if key.startswith("_state_")]) == 1


def test_a_session_past_its_lifetime_is_signed_out(stack):
    browser, _ = sign_in(stack, "bob")
    cookie, cookies = _session_cookie(browser)
    assert len(cookie.value) < 3000  # browsers drop cookies over 4 KB
    kept = cookies.loads(cookie.value)
    assert kept["oidc"]["name"] == "bob" and kept["oidc"]["expires"] > clock.now().timestamp() + 7 * 3600  # 8 hours by default
    for expires, expected in ((clock.now().timestamp() + 60, ("oidc:bob", "reader")), (clock.now().timestamp() - 1, None)):
        value = cookies.dumps({**kept, "oidc": {**kept["oidc"], "expires": int(expires)}})
        browser.cookies.set("session", value, domain=cookie.domain, path=cookie.path)  # in its place
        assert signed_in(stack, browser) == expected


def test_signing_in_and_out_in_a_browser(stack, tmp_path):
    chrome = start_chromium(tmp_path / "chromium")
    try:
        chrome.get(stack.server.url + "/systems")  # reads need a login: to the login page
        wait = WebDriverWait(chrome, 20, poll_frequency=POLL)
        button = wait.until(lambda c: c.find_elements(By.ID, "oidc-login")).pop()
        assert button.text == f"Sign in with {PROVIDER_NAME}" and not chrome.find_elements(By.ID, "token")  # no tokens here
        screenshot(chrome, "oidc-login")
        button.click()
        wait.until(lambda c: c.find_elements(By.ID, "login")).pop().send_keys("carol")
        chrome.find_element(By.ID, "sign-in").click()
        wait.until(lambda c: "Signed in as oidc:carol" in c.find_element(By.CSS_SELECTOR, "header .who").text)
        assert chrome.current_url == stack.server.url + "/systems"
        screenshot(chrome, "oidc-signed-in")
        assert console_errors(chrome) == []
        chrome.find_element(By.CSS_SELECTOR, "header .who button").click()  # Log out
        wait.until(lambda c: c.find_elements(By.NAME, "logout")).pop().click()  # the provider's "sign me out?"
        wait.until(lambda c: c.current_url.startswith(stack.server.url + "/login"))
        assert "Signed in as" not in chrome.find_element(By.CSS_SELECTOR, "header .who").text
    finally:
        chrome.quit()


# -- the settings, checked at start -------------------------------------------------------------

GOOD = {
    "oidc_issuer": "https://login.example.com/realms/aims",
    "oidc_client_id": "aimsgraph",
    "oidc_client_secret": "s3cret",
    "oidc_role_map": "aims-admins=admin,*=reader",
}


def test_good_settings_are_read():
    config = OidcConfig.from_settings(Settings(**GOOD))
    assert config is not None
    assert config.provider_name == "login.example.com" and config.scopes == ("openid", "profile", "email")
    assert config.role_claim == "groups" and config.session_lifetime == 8 * 3600
    assert "s3cret" not in repr(config)
    assert OidcConfig.from_settings(Settings()) is None  # no issuer, no single sign-on


def test_the_client_secret_can_come_from_a_file(tmp_path):
    (tmp_path / "secret").write_text("from-a-file\n")
    config = OidcConfig.from_settings(
        Settings(**{**GOOD, "oidc_client_secret": "", "oidc_client_secret_file": tmp_path / "secret"})
    )
    assert config is not None and config.client_secret == "from-a-file"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"oidc_issuer": "http://login.example.com"}, "AIMSGRAPH_OIDC_ISSUER must be an https URL"),
        ({"oidc_issuer": "login.example.com"}, "AIMSGRAPH_OIDC_ISSUER must be an http(s) URL"),
        ({"oidc_issuer": ""}, "AIMSGRAPH_OIDC_CLIENT_ID is set but AIMSGRAPH_OIDC_ISSUER is not"),
        ({"oidc_client_id": ""}, "set AIMSGRAPH_OIDC_CLIENT_ID too"),
        ({"oidc_client_secret": ""}, "set AIMSGRAPH_OIDC_CLIENT_SECRET or AIMSGRAPH_OIDC_CLIENT_SECRET_FILE too"),
        ({"oidc_client_secret_file": Path("/nonexistent/secret")}, "not both"),
        ({"oidc_client_secret": "", "oidc_client_secret_file": Path("/nonexistent/secret")}, "No such file"),
        ({"oidc_scopes": ("profile", "email")}, "AIMSGRAPH_OIDC_SCOPES must include openid"),
        ({"oidc_role_map": ""}, "AIMSGRAPH_OIDC_ROLE_MAP is empty"),
        ({"oidc_role_map": "aims-admins=root"}, "entry 1 ('aims-admins=root'): the role must be one of reader, editor, admin"),
        ({"oidc_role_map": "staff=reader, aims-admins"}, "entry 2 ('aims-admins') is not value=role"),
        ({"oidc_role_map": "staff=reader,staff=admin"}, "maps 'staff' to two roles"),
        ({"oidc_session_lifetime": 0}, "AIMSGRAPH_OIDC_SESSION_LIFETIME must be positive"),
        ({"oidc_base_url": "aims.example.com"}, "AIMSGRAPH_OIDC_BASE_URL must be an http(s) URL"),
    ],
)
def test_bad_settings_are_a_config_error_naming_the_setting(change, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        OidcConfig.from_settings(Settings(**{**GOOD, **change}))


def test_role_claims_are_strings_lists_or_paths_into_objects():
    claims = {"groups": ["a", 3, "b"], "role": "c", "realm_access": {"roles": ["d"]}, "https://x.example/roles": ["e"]}
    assert [claim_values(claims, name) for name in ("groups", "role", "realm_access.roles", "https://x.example/roles")] == [
        ["a", "b"], ["c"], ["d"], ["e"],
    ]  # fmt: skip
    assert claim_values(claims, "missing.path") == [] and claim_values({"groups": {"a": 1}}, "groups") == []
    config = OidcConfig.from_settings(Settings(**{**GOOD, "oidc_role_map": " a = editor ,b=admin,cn=aims=reader"}))
    assert config is not None and dict(config.role_map) == {"a": "editor", "b": "admin", "cn=aims": "reader"}
    assert config.role_of(claims) == "admin" and config.role_of({"groups": ["a"]}) == "editor"
    assert config.role_of({"groups": ["z"]}) is None
    assert parse_role_map("*=reader") == {"*": "reader"}
