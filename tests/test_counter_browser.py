"""Issue 15: the officer's counter app in real Chromium (Debian's chromium + chromium-driver, driven by
Selenium) against a real `edge run`: real TFLite face pipeline, folder camera, real Mosquitto, officers
provisioned and signed in with their PINs.

The folder camera shows Paradorn Srichaphan's photograph and, in the next frame, the invitation letter's
QR code (written by `edge invitation make` into the camera's folder), like a claimant who holds the
letter up and then faces the camera. One `edge run` and one browser serve every test in this module.

`COUNTER_SCREENSHOTS=docs` also writes the 1024x600 screenshots of docs/COUNTER.md
(`make counter-screenshots`).
"""

from __future__ import annotations

import http.client
import os
import shutil
from pathlib import Path

import pytest

from tests.fixtures_claim import PERIOD
from tests.support import free_port
from tests.support.counter_browser import WAIT, by_id, claim_typed, counter_browser, screen, sign_in, text, wait_for
from tests.support.served_terminal import ROOT, edge, provision, serve, write_edge_toml

pytestmark = pytest.mark.shared

SHOWN = "Paradorn_Srichaphan"  # the face in front of the camera
OTHER = "Thaksin_Shinawatra"  # on the roster, not the face shown
LETTER = "PKH-QR-1"  # on the roster with the shown face's reference photo; invited by letter
ENROL = "PKH-ENROL-1"  # no photo yet: enrolment at first payout
OFFICERS = (("OFF-1", "Ani Officer", "officer"), ("SUP-1", "Citra Supervisor", "supervisor"))
SHOTS = os.environ.get("COUNTER_SCREENSHOTS")


@pytest.fixture(scope="module")
def counter(datasets_dir, tmp_path_factory, mosquitto):
    """(terminal, browser): a provisioned `edge run` and a headless Chromium at 1024x600 on its counter page."""
    tmp = tmp_path_factory.mktemp("counter")
    photos, camera = tmp / "photos", tmp / "camera"
    for name, src in ((SHOWN, SHOWN), (OTHER, OTHER), (LETTER, SHOWN)):
        (photos / name).mkdir(parents=True)
        shutil.copy(datasets_dir / "faces" / src / "1.jpg", photos / name / "1.jpg")
    (photos / ENROL).mkdir()
    camera.mkdir()
    shutil.copy(datasets_dir / "faces" / SHOWN / "2.jpg", camera / "0-face.jpg")
    port = free_port()
    config = write_edge_toml(tmp, port, mosquitto, "dev-4", tmp / "issuer.pub.pem", camera)
    edge(config, "roster", "keygen", str(tmp / "issuer.pem"))
    edge(config, "invitation", "make", LETTER, "--period", PERIOD, "--point", "dev-point", "--key", str(tmp / "issuer.pem"),
         "-o", str(camera / "1-invitation.png"))
    pins = {oid: f"{n}{os.getpid() % 10000:04d}{n}{n}{n}"[:8] for n, (oid, _, _) in enumerate(OFFICERS, start=1)}
    provision(config, tmp, photos, OFFICERS, pins, period=PERIOD, enrolment=True)
    with serve(config, port, pins, ready=lambda term: term.request("GET", "/counter/")[0] == 200) as term, \
            counter_browser(port, tmp / "chromium") as driver:
        yield term, driver


# --- helpers ------------------------------------------------------------------------------------------

def shot(driver, name: str) -> None:
    if SHOTS:
        out = Path(SHOTS) if Path(SHOTS).is_absolute() else ROOT / SHOTS
        driver.save_screenshot(str(out / f"counter-{name}.png"))


# --- the tests ----------------------------------------------------------------------------------------

def test_sign_in_claim_by_typed_id_accept(counter):
    term, driver = counter
    screen(driver, "lock", 30)
    assert "Not signed in" in text(driver, "who")
    sign_in(driver, term, "OFF-1")
    assert "Ani Officer (OFF-1)" in text(driver, "who")  # the signed-in officer is always shown
    assert claim_typed(driver, SHOWN) == "accept"
    assert "DITERIMA" in text(driver, "words") and "ACCEPTED" in text(driver, "words-en") and text(driver, "icon") == "\u2714"
    assert "STRONG" in text(driver, "band")
    # the roster's reference photo beside the capture, fetched with the session cookie
    wait_for(driver, "document.getElementById('reference').complete && document.getElementById('reference').naturalWidth > 0", 30)
    assert driver.execute_script("return document.getElementById('captured').naturalWidth") > 0
    assert "Ani Officer (OFF-1)" in text(driver, "who")
    shot(driver, "result")


def test_reference_photo_only_for_the_recipient_served_and_never_cached(counter):
    term, _ = counter
    term.sign_in("OFF-1")
    conn = http.client.HTTPConnection("127.0.0.1", term.port, timeout=60)
    conn.request("GET", f"/api/counter/reference/{SHOWN}", headers={"Cookie": f"tepat_session={term.cookies['OFF-1']}"})
    resp = conn.getresponse()
    jpeg = resp.read()
    conn.close()
    assert resp.status == 200 and resp.getheader("Content-Type") == "image/jpeg" and resp.getheader("Cache-Control") == "no-store"
    assert jpeg[:2] == b"\xff\xd8"
    status, body, _ = term.request("GET", f"/api/counter/reference/{OTHER}", officer="OFF-1")
    assert status == 403 and body["error_id"] == "not_claimed"  # nobody asked for OTHER yet
    status, body, _ = term.request("GET", f"/api/counter/reference/{SHOWN}")
    assert status == 401
    term.sign_in("SUP-1")  # another officer did not serve this recipient
    assert term.request("GET", f"/api/counter/reference/{SHOWN}", officer="SUP-1")[0] == 403


def test_claim_by_invitation_qr_shown_to_the_camera(counter):
    term, driver = counter
    by_id(driver, "go-start").click()
    screen(driver, "start")
    by_id(driver, "scan").click()
    wait_for(driver, f"document.getElementById('live-title').textContent.includes('{LETTER}')", 60)
    screen(driver, "result")
    assert driver.execute_script("return document.getElementById('banner').dataset.outcome") == "accept"
    assert LETTER in text(driver, "rid-shown")
    assert LETTER in [d["recipient_id"] for d in term.ledger("OFF-1", LETTER)["disbursements"]]


def test_repeat_claim_shows_when_and_where_first_collected(counter):
    term, driver = counter
    assert claim_typed(driver, SHOWN) == "reject"
    first = wait_for(driver, "!document.getElementById('first').hidden && document.getElementById('first').textContent", 30)
    paid = term.ledger("OFF-1", SHOWN)["paid_this_period"]
    assert "dev-point" in first and "dev-4" in first and "First collected" in first
    hh_mm = paid["decided_at"][11:16].replace(":", ".")  # id-ID renders 14.05.09
    assert hh_mm in first or paid["decided_at"][11:16] in first, (first, paid)
    assert "DITOLAK" in text(driver, "words") and text(driver, "icon") == "\u2716"


def test_two_officer_override_on_the_same_screen(counter):
    term, driver = counter
    assert claim_typed(driver, OTHER) == "reject"
    assert "mismatch" in text(driver, "reason")
    by_id(driver, "do-accept").click()  # alone: refused, the screen asks for the second officer
    wait_for(driver, "document.getElementById('notice').textContent.length > 0", 30)
    assert driver.execute_script("return document.getElementById('banner').dataset.outcome") == "reject"
    by_id(driver, "second-id").send_keys("SUP-1")
    by_id(driver, "second-pin").send_keys(term.pins["SUP-1"])
    by_id(driver, "do-accept").click()
    wait_for(driver, "document.getElementById('banner').dataset.outcome === 'accept'", 60)
    assert "OFFICER OVERRIDE" in text(driver, "words-en") and "SUP-1" in text(driver, "message-en")
    overrides = [d for d in term.ledger("OFF-1", OTHER)["decisions"] if d["schema"] == "tepat.override"]
    assert len(overrides) == 1


def test_keyboard_only_claim_and_enrolment(counter):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    term, driver = counter

    def keys(*k):
        ActionChains(driver).send_keys(*k).perform()

    def focused() -> str:
        return driver.execute_script("return document.activeElement.id")

    driver.get(driver.current_url.split("?")[0] + "?auto=0")  # a reload keeps the session; capture by key
    screen(driver, "start", 30)
    assert focused() == "rid"
    order = []
    for _ in range(3):
        keys(Keys.TAB)
        order.append(focused())
    assert order == ["typed-go", "scan", "nocard"]
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB, Keys.TAB, Keys.TAB).key_up(Keys.SHIFT).perform()
    assert focused() == "rid"
    keys(ENROL, Keys.ENTER)
    screen(driver, "live", 30)
    assert focused() == "capture"
    wait_for(driver, "document.getElementById('preview').naturalWidth > 0", 60)
    # the face box over the preview and the quality prompt in words (the camera alternates face and letter frames)
    wait_for(driver, "!document.getElementById('box').hidden && document.getElementById('prompt').textContent.includes('Hold still')", 60)
    shot(driver, "claim")
    keys(Keys.ENTER)  # the capture button
    screen(driver, "result")
    assert "enrolment" in text(driver, "reason")
    for _ in range(30):
        if focused() == "consent":
            break
        keys(Keys.TAB)
    assert focused() == "consent"
    keys(Keys.SPACE, Keys.TAB)
    assert focused() == "enrol"
    keys(Keys.ENTER)
    wait_for(driver, "document.getElementById('reason').textContent.includes('enrolled')", WAIT)
    assert driver.execute_script("return document.getElementById('banner').dataset.outcome") == "accept"
    assert focused() == "next"


def test_day_counts_search_and_report(counter):
    term, driver = counter
    by_id(driver, "go-day").click()
    screen(driver, "day", 30)
    counts = {k: int(text(driver, f"c-{k}")) for k in ("accept", "reject")}
    assert counts["accept"] >= 4 and counts["reject"] >= 1, counts  # typed, letter, override, enrolment; the repeat
    link = driver.execute_script("return document.getElementById('c-link').dataset.state")
    assert link in ("up", "down", "reconnecting", "connecting") and text(driver, "c-link") != link  # in words
    by_id(driver, "search").send_keys(OTHER)
    rows = driver.execute_script("return [...document.querySelectorAll('#rows tr')].map(r => r.textContent)")
    assert rows and all(OTHER in r for r in rows)
    shot(driver, "day")
    driver.get(f"http://127.0.0.1:{term.port}/counter/report")
    page = driver.page_source
    assert "End-of-day report" in page and "@media print" in page and OTHER in page
    driver.back()


def _viewport(driver, width: int, height: int) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def test_layouts_for_1024x600_and_1920x1080(counter):
    term, driver = counter
    driver.get(f"http://127.0.0.1:{term.port}/counter/")
    screen(driver, "start", 30)
    assert claim_typed(driver, SHOWN) == "reject"  # a repeat: the result screen with the first collection
    wait_for(driver, "!document.getElementById('first').hidden", 30)
    sizes = {}
    try:
        for width, height in ((1024, 600), (1920, 1080)):
            _viewport(driver, width, height)
            geo = driver.execute_script("""const d = document.documentElement, b = document.getElementById('banner');
                return {sw: d.scrollWidth, sh: d.scrollHeight, w: innerWidth, h: innerHeight, font: parseFloat(getComputedStyle(b).fontSize),
                        bannerBottom: b.getBoundingClientRect().bottom, next: document.getElementById('next').getBoundingClientRect().bottom}""")
            assert (geo["w"], geo["h"]) == (width, height)
            assert geo["sw"] <= width, geo  # nothing cut off sideways
            assert geo["sh"] <= height + 1 and geo["next"] <= height, geo  # the whole result fits: no scrolling at the desk
            sizes[width] = geo["font"]
    finally:
        _viewport(driver, 1024, 600)
    assert sizes[1920] > sizes[1024]  # larger type on the big screen


def test_auto_lock_after_inactivity(counter):
    term, driver = counter
    driver.get(f"http://127.0.0.1:{term.port}/counter/?lock=5")  # long enough to see the start screen on a loaded machine
    screen(driver, "start", 30)
    screen(driver, "lock", 30)
    assert "Locked after inactivity" in text(driver, "notice") and "Not signed in" in text(driver, "who")
    status, _, _ = term.request("GET", "/api/counter/day")
    assert status == 401
