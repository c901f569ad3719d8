"""The admin page end to end: the real server, driven in headless Chromium.

Debian's chromium is driven by Playwright's Python package; nothing here ever
downloads a browser. Screenshots of each main screen, at 1280 and 390 pixels
wide, are saved under tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, SNAPSHOTS, RunningServer, cli, free_port

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
NAME, PASSWORD = "root", "correct horse battery staple"
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


def _browser_missing() -> str | None:
    missing = []
    if not os.path.exists(CHROMIUM):
        missing.append(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is missing (pip install playwright)")
    return "; ".join(missing) or None


@pytest.fixture(scope="module")
def chromium():
    reason = _browser_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run in CI, but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def _appliance(tmp_path: Path, with_admin: bool = True):
    cfg = tmp_path / "appliance.toml"
    cfg.write_text(
        '[storage]\ndatabase = "data/afinitwin.db"\n[log]\nlevel = "warning"\n'
    )
    cli("init", config_path=cfg)
    if with_admin:
        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "afinitwin_appliance",
                "--config",
                str(cfg),
                "admin",
                "add",
                NAME,
                "--password-stdin",
            ],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert added.returncode == 0, added.stderr
    server = RunningServer(cfg, free_port())
    server.config_path = cfg
    return server


@pytest.fixture
def appliance(tmp_path):
    server = _appliance(tmp_path)
    yield server
    server.stop()


class Watched:
    """A page whose console errors and outside requests are collected."""

    def __init__(self, chromium, base: str, viewport: dict) -> None:
        self.context = chromium.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)

    def _console(self, message) -> None:
        # Chromium reports every 4xx answer too; the refusals the tests provoke
        # are expected, a CSP violation or a script error is not.
        if message.type == "error" and not message.text.startswith(
            "Failed to load resource"
        ):
            self.errors.append(message.text)

    def _request(self, request) -> None:
        if not request.url.startswith(self.base):
            self.foreign.append(request.url)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"]
        path = ARTIFACTS / f"admin-{name}-{width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    def fits_width(self) -> bool:
        return self.page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(chromium, appliance):
    pages: list[Watched] = []

    def open_page(viewport: dict = WIDE) -> Watched:
        page = Watched(chromium, appliance.base, viewport)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()


def public_api(base: str, path: str, key: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/v1/public/twin{path}", headers={"X-Twin-Key": key}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def sign_in(page) -> None:
    form = page.locator("#signin")
    form.get_by_label("Name").fill(NAME)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Owners").wait_for()


def test_admin_manages_owner_snapshot_and_key_end_to_end(appliance, watched):
    w = watched(WIDE)
    page = w.page
    page.goto(appliance.base + "/admin")
    page.get_by_role("heading", name="Sign in").wait_for()
    w.shot("sign-in")
    page.locator("#signin").get_by_label("Password").fill("a wrong password")
    page.locator("#signin").get_by_label("Name").fill(NAME)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("The name or the password is wrong.").wait_for()
    sign_in(page)
    page.get_by_text("No owners yet").wait_for()
    w.shot("owners-empty")

    page.get_by_role("button", name="Add owner").click()
    page.locator("#view").get_by_label("Name").fill("Lucía Ortega")
    page.locator("form").get_by_role("button", name="Add owner").click()
    page.get_by_role("heading", name="Lucía Ortega").wait_for()
    page.get_by_text("Owner Lucía Ortega added.").wait_for()

    # An invalid document: every problem is listed with its path.
    page.get_by_role("link", name="Snapshots").click()
    page.evaluate(
        """() => {
        window.progressSeen = false;
        new MutationObserver(() => {
            const p = document.querySelector('.upload-progress');
            if (p && !p.hidden) window.progressSeen = true;
        }).observe(document.body, {subtree: true, attributes: true, childList: true});
    }"""
    )
    page.set_input_files(
        "#snapshot-file", str(SNAPSHOTS / "invalid-several-errors.yaml")
    )
    page.get_by_role("button", name="Import snapshot").click()
    page.get_by_text("10 problems found").wait_for()
    problems = page.locator(".problems li").all_inner_texts()
    assert len(problems) == 10
    assert "bigFive.domains.openness.percentile must be 0–100" in problems
    assert page.evaluate("window.progressSeen") is True
    w.shot("snapshot-refused")

    page.set_input_files("#snapshot-file", str(SNAPSHOTS / "lucia-ortega.yaml"))
    page.get_by_role("button", name="Import snapshot").click()
    page.get_by_text("Snapshot snp_lucia_2026_11 imported (ready).").wait_for()
    page.locator("td", has_text="snp_lucia_2026_11").wait_for()
    w.shot("snapshots")

    # A key: shown once, copied, used against the public API, then revoked.
    page.get_by_role("link", name="Keys").click()
    page.get_by_text("No keys yet").wait_for()
    page.get_by_role("button", name="Create key").click()
    w.shot("key-form")
    page.locator("#view").get_by_label("Name").fill("CRM production")
    page.locator("#view").get_by_label("Monthly quota").fill("500")
    page.locator("form").get_by_role("button", name="Create key").click()
    page.get_by_text("This key will not be shown again.").wait_for()
    key = page.locator("#new-key").input_value()
    assert key.startswith("atk_live_") and len(key) == 50
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied to the clipboard.").wait_for()
    w.shot("key-created")

    status, body = public_api(appliance.base, "/me", key)
    assert status == 200
    assert body["keyName"] == "CRM production"
    assert body["twins"]["ready"] == 1

    page.get_by_role("button", name="I have stored it").click()
    page.get_by_role("link", name="Snapshots").click()
    page.get_by_role("link", name="Keys").click()
    page.locator("td", has_text="1 / 500").wait_for()
    assert key not in page.content()  # gone once the panel is dismissed
    w.shot("keys")

    page.get_by_role("button", name="Revoke").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("will be refused from its very next request").wait_for()
    w.shot("revoke-confirm")
    dialog.get_by_role("button", name="Revoke key").click()
    page.get_by_text(f"Key {key[9:17]} revoked.").wait_for()
    status, body = public_api(appliance.base, "/health", key)
    assert status == 401
    assert body["error"]["code"] == "API_KEY_REVOKED"

    sections = page.get_by_role("navigation", name="Sections")
    sections.get_by_role("link", name="Owners").click()
    page.get_by_role("link", name="Lucía Ortega").wait_for()
    w.shot("owners")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    actions = page.locator("td[data-label=Action]").all_inner_texts()
    assert actions == [
        "key.revoke",
        "key.create",
        "snapshot.import",
        "owner.add",
        "session.sign_in",
        "admin.add",
    ]
    w.shot("audit")
    assert key not in page.content()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    assert w.errors == []
    assert w.foreign == []


def test_review_queue_shows_facts_from_the_api_and_decides_them(appliance, watched):
    cfg = appliance.config_path
    owner = cli(
        "owner", "add", "--name", "Tom", "--quiet", config_path=cfg
    ).stdout.strip()
    key = cli(
        "key",
        "create",
        "--owner",
        owner,
        "--name",
        "writer",
        "--scope",
        "twin:write",
        "--quiet",
        config_path=cfg,
    ).stdout.strip()
    request = urllib.request.Request(
        f"{appliance.base}/v1/public/twin/life-facts",
        method="POST",
        data=json.dumps(
            {
                "facts": [
                    {
                        "category": "hobbies",
                        "value": "Started sailing on weekends",
                        "consent": True,
                        "externalRef": "crm-17",
                        "confidence": 0.8,
                    },
                ]
            }
        ).encode(),
        headers={"X-Twin-Key": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 202
        inbox = json.loads(resp.read())["inboxUrl"]

    w = watched(WIDE)
    w.page.goto(inbox)
    sign_in_page = w.page
    form = sign_in_page.locator("#signin")
    form.get_by_label("Name").fill(NAME)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    sign_in_page.get_by_role("heading", name="Review queue").wait_for()
    sign_in_page.get_by_text("Started sailing on weekends").wait_for()
    w.shot("review")
    sign_in_page.get_by_role("button", name="Accept").click()
    sign_in_page.get_by_text("Nothing to review").wait_for()
    assert w.errors == []


def test_page_is_usable_at_390_pixels_with_the_keyboard(appliance, watched):
    cfg = appliance.config_path
    owner = cli(
        "owner", "add", "--name", "Lucía Ortega", "--quiet", config_path=cfg
    ).stdout.strip()
    cli(
        "snapshot",
        "import",
        "--owner",
        owner,
        str(SNAPSHOTS / "lucia-ortega.yaml"),
        config_path=cfg,
    )
    cli("key", "create", "--owner", owner, "--name", "CRM production", config_path=cfg)

    w = watched(NARROW)
    page = w.page
    page.goto(appliance.base + "/admin/")
    page.locator("#signin").get_by_label("Name").wait_for()
    assert page.evaluate("document.activeElement.id") == "signin-name"
    w.shot("sign-in")
    page.keyboard.type(NAME)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Owners").wait_for()
    assert w.fits_width()
    w.shot("owners")

    page.get_by_role("link", name="Lucía Ortega").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Lucía Ortega").wait_for()
    page.locator("td", has_text="CRM production").wait_for()
    assert w.fits_width()
    w.shot("keys")

    page.get_by_role("link", name="Snapshots").click()
    page.locator("td", has_text="snp_lucia_2026_11").wait_for()
    assert w.fits_width()
    w.shot("snapshots")

    page.get_by_role("link", name="Plan").click()
    page.get_by_role("button", name="Save plan").wait_for()
    assert w.fits_width()
    w.shot("plan")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    assert w.fits_width()
    w.shot("audit")
    assert w.errors == []


def test_page_without_an_admin_shows_the_command_that_creates_one(chromium, tmp_path):
    server = _appliance(tmp_path, with_admin=False)
    try:
        page = Watched(chromium, server.base, WIDE)
        page.page.goto(server.base + "/admin/")
        page.page.get_by_role(
            "heading", name="Create the first admin account"
        ).wait_for()
        command = page.page.locator("#setup-command").inner_text()
        assert command == (
            f"afinitwin-appliance --config {server.config_path} admin add NAME"
        )
        assert page.page.get_by_role("button", name="Sign in").is_hidden()
        page.shot("setup")
        assert page.errors == []
        page.close()
    finally:
        server.stop()
