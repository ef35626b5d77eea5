"""Issue 21 end to end, by clicks in a real headless Chromium: a risk owner signs in through a
real OpenID provider, adds a risk to an AI system and sees the finding it closes, gets the task
to put a control in place for it, links the control, and approves the risk acceptance. Every
step is in the audit trail under the person's sign-on name, and a webhook receiver and a mail
server on loopback got the approval's notification.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import requests
from aiosmtpd.controller import Controller
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from aimsgraph.records import forms
from benchmarks.common import stop_process
from browser import POLL, console_errors, screenshot, start_chromium
from conftest import LiveServer, free_port, start_server
from test_notifications import Mailbox, Receiver, signed, wait_for
from test_oidc import CLIENT_ID, CLIENT_SECRET, PROVIDER_DIR, ROLE_MAP, start_provider

DEMO = "https://data.meridian.example/aims/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
RM = "https://w3id.org/aimsgraph/risk-matrix/"
SYSTEM = DEMO + "system/retail-credit-scoring"
OWNER_ROLE = DEMO + "role/retail-credit-owner"  # held by Marco Bianchi, who signs in as alice
CONTROL = DEMO + "control/training-data-governance"
ADMIN = "admin-token-for-the-workflow-test"
SECRET = "webhook-secret-of-the-workflow-test"


@dataclass
class Stack:
    server: LiveServer
    receiver: Receiver
    mailbox: Mailbox


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the OpenID provider is not installed: run .ci/install-oidc-provider")
    receiver, mailbox, smtp_port = Receiver(), Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    server = start_server(
        tmp_path_factory.mktemp("workflow") / "db",
        AIMSGRAPH_TOKENS=f"admin:setup:{ADMIN}",
        AIMSGRAPH_OIDC_ISSUER=issuer,
        AIMSGRAPH_OIDC_CLIENT_ID=CLIENT_ID,
        AIMSGRAPH_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        AIMSGRAPH_OIDC_SCOPES="openid profile email groups",
        AIMSGRAPH_OIDC_ROLE_MAP=ROLE_MAP,
        AIMSGRAPH_WEBHOOK_URLS=receiver.url,
        AIMSGRAPH_WEBHOOK_SECRET=SECRET,
        AIMSGRAPH_SMTP_HOST="127.0.0.1",
        AIMSGRAPH_SMTP_PORT=str(smtp_port),
        AIMSGRAPH_SMTP_FROM="aimsgraph@example.org",
        AIMSGRAPH_SMTP_STARTTLS="false",
        AIMSGRAPH_NOTIFY_BACKOFF_SECONDS="0.2",
    )
    provider = None
    try:
        provider = start_provider(port, server)
        yield Stack(server, receiver, mailbox)
    finally:
        if provider is not None:
            stop_process(provider, grace=10)
        server.stop()
        controller.stop()
        receiver.close()


def settled(server: LiveServer) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        derived = requests.get(server.url + "/api/health", timeout=10).json()["derived"]
        if (
            not derived["pendingWrites"]
            and not derived["refreshing"]
            and derived["inferredCurrent"]
            and derived["analysisCurrent"]
        ):
            return
        time.sleep(0.1)
    raise AssertionError("the derived graphs did not catch up")


def field_id(kind: str, path: str) -> str:
    return next(f.key for f in forms.form(kind).fields if f.path == path)


def test_a_risk_owner_adds_a_risk_gets_the_task_links_the_control_and_approves_by_clicks(stack: Stack, tmp_path):
    server = stack.server
    # who alice is in the record: Marco Bianchi, who holds the retail credit owner role
    setup = requests.post(
        server.url + "/sparql",
        data={
            "update": f'INSERT DATA {{ GRAPH <https://w3id.org/aimsgraph/graph/data> {{ <{DEMO}person/marco-bianchi> <{AIMS}accountName> "oidc:alice" }} }}'
        },
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert setup.status_code in (200, 204), setup.text
    chrome = start_chromium(tmp_path / "chromium")
    wait = WebDriverWait(chrome, 30, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,))
    try:
        # 1. sign in at the company's provider
        chrome.get(server.url + "/login")
        wait.until(lambda c: c.find_elements(By.ID, "oidc-login")).pop().click()
        wait.until(lambda c: c.find_elements(By.ID, "login")).pop().send_keys("alice")
        chrome.find_element(By.ID, "sign-in").click()
        wait.until(lambda c: "Signed in as oidc:alice" in c.find_element(By.CSS_SELECTOR, "header .who").text)

        # 2. add a risk to the retail credit scoring system; "Check" shows the finding it closes
        chrome.get(server.url + "/records/new?kind=Risk")
        chrome.find_element(By.ID, field_id("Risk", "http://www.w3.org/2000/01/rdf-schema#label")).send_keys(
            "Personal data leaks from the scoring features"
        )
        choices = {
            AIMS + "isRiskOf": SYSTEM,
            AIMS + "hasRiskSource": DEMO + "risk-source/data-leakage",  # matched to NIST's data privacy risk
            AIMS + "hasLikelihood": RM + "L2",
            AIMS + "hasSeverity": RM + "S2",
            AIMS + "hasRiskLevel": RM + "Low",
            AIMS + "hasRiskOwner": OWNER_ROLE,
            AIMS + "affectsStakeholder": DEMO + "party/retail-loan-applicants",
            AIMS + "treatmentDecision": AIMS + "Mitigate",
        }
        for path, value in choices.items():
            Select(chrome.find_element(By.ID, field_id("Risk", path))).select_by_value(value)
        review = chrome.find_element(By.ID, field_id("Risk", AIMS + "nextReviewDate"))
        chrome.execute_script("arguments[0].value = '2027-03-31'", review)
        chrome.find_element(By.CSS_SELECTOR, 'button[value="check"]').click()
        fixed = wait.until(lambda c: c.find_elements(By.ID, "fixed")).pop().text
        assert "suggest the risk source" in fixed and "nist-data-privacy" in fixed
        created = chrome.find_element(By.ID, "created").text
        assert "no control treats, mitigates or detects it" in created
        screenshot(chrome, "workflow-check")
        chrome.find_element(By.CSS_SELECTOR, 'button[value="save"]').click()
        wait.until(lambda c: c.find_elements(By.ID, "saved"))
        risk = chrome.find_element(By.CSS_SELECTOR, "p.iri code").text
        settled(server)

        # 3. the task to put a control in place is on alice's list; she starts it
        chrome.get(server.url + "/my-work?kind=finding")
        task = next(li for li in chrome.find_elements(By.CSS_SELECTOR, "li[id^=task-]") if "no control treats" in li.text)
        task_id = task.get_attribute("id").removeprefix("task-")
        task.find_element(By.XPATH, ".//button[text()='Start']").click()
        wait.until(lambda c: "in-progress" in c.find_element(By.ID, f"task-{task_id}").text)

        # 4. she links the control that carries out the treatment
        chrome.get(server.url + "/records/edit?iri=" + quote(CONTROL, safe=""))
        Select(chrome.find_element(By.ID, field_id("ImplementedControl", AIMS + "treatsRisk"))).select_by_value(risk)
        chrome.find_element(By.CSS_SELECTOR, 'button[value="save"]').click()
        wait.until(lambda c: c.find_elements(By.ID, "saved"))
        settled(server)
        open_tasks = requests.get(server.url + f"/api/tasks/{task_id}", timeout=30)
        assert open_tasks.status_code == 404 or open_tasks.json()["status"] == "resolved"  # the cause is gone

        # 5. and approves the risk acceptance
        chrome.get(server.url + "/approvals?about=" + quote(risk, safe=""))
        chrome.find_element(By.ID, "approve").click()
        wait.until(lambda c: c.find_elements(By.ID, "approved"))
        assert "the record has not changed since" in chrome.find_element(By.ID, "standing").text
        screenshot(chrome, "workflow-approved")
        assert console_errors(chrome) == []
    finally:
        chrome.quit()

    # every step in the audit trail, as the person who signed in
    def trail(resource: str) -> list[tuple[str, str]]:
        changes = requests.get(server.url + "/api/changes", params={"resource": resource}, timeout=30).json()["changes"]
        return [(c["operation"], c["agent"]) for c in changes]

    approval = requests.get(server.url + "/api/approvals", params={"about": risk}, timeout=30).json()["approvals"][0]
    assert approval["account"] == "oidc:alice" and approval["current"]
    assert ("form", "oidc:alice") in trail(risk)
    assert ("form", "oidc:alice") in trail(CONTROL)
    assert trail(approval["iri"]) == [("approve", "oidc:alice")]
    assert ("task-status", "oidc:alice") in trail(f"https://w3id.org/aimsgraph/task/{task_id}")

    # the approval reached the webhook (signed) and, by email, the risk owner
    hook = wait_for(lambda: stack.receiver.accepted("approval.recorded"))[0]
    assert signed(SECRET, hook.timestamp, hook.signature, hook.body, time.time())
    assert risk in hook.body.decode()
    mail = wait_for(lambda: stack.mailbox.with_delivery(hook.delivery))
    assert any("marco.bianchi@meridian.example" in recipients for recipients, _ in mail)
