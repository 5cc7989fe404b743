# SPDX-License-Identifier: MIT
#
# ui_webdriver.py - drives headless Chromium through chromedriver's W3C
# WebDriver HTTP API (standard library only: urllib and json) over the
# pages of a running `ntm ui`: the overview, a search, approving a
# record, resolving a conflict by typing a value, enrolling a device, a
# sync; a screenshot of each page goes to the artifact folder. Prints
# "ok - ..." or "FAIL - ..." per check (ui_browser.sh counts them).
#
# Usage: ui_webdriver.py URL ARTIFACTS APPROVE_ID CONFLICT_ID DEVICE_KEY
#        SCOPE
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

URL, ART, APPROVE, CONFLICT, DEVKEY, SCOPE = sys.argv[1:7]
BASE = URL.split("/login")[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


PORT = free_port()
DRIVER = subprocess.Popen(["chromedriver", "--port=%d" % PORT],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
WD = "http://127.0.0.1:%d" % PORT


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(WD + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}").get("value")
    except urllib.error.HTTPError as e:
        raise RuntimeError("%s %s: %s" % (method, path, e.read()[:300]))


for _ in range(100):
    try:
        call("GET", "/status")
        break
    except Exception:
        time.sleep(0.1)

failures = 0


def check(desc, cond):
    global failures
    print(("ok - " if cond else "FAIL - ") + desc, flush=True)
    if not cond:
        failures += 1


caps = {"capabilities": {"alwaysMatch": {
    "browserName": "chrome",
    "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        # a phone's screen: 360 px wide
        "mobileEmulation": {"deviceMetrics": {
            "width": 360, "height": 740, "pixelRatio": 1}},
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--lang=vi"]}}}}
sess = call("POST", "/session", caps)["sessionId"]
S = "/session/" + sess


def go(url):
    call("POST", S + "/url", {"url": url})


def find(css):
    v = call("POST", S + "/element", {"using": "css selector", "value": css})
    return list(v.values())[0]  # the W3C element reference


def finds(css):
    v = call("POST", S + "/elements", {"using": "css selector", "value": css})
    return [list(e.values())[0] for e in v]


def retry(fn):
    """fn() again while the page it looked at is being replaced."""
    for i in range(50):
        try:
            return fn()
        except RuntimeError as e:
            if i == 49 or ("stale" not in str(e) and
                           "no such element" not in str(e)):
                raise
            time.sleep(0.1)


def text(css):
    return retry(lambda: call("GET", S + "/element/%s/text" % find(css)))


def click(css):
    call("POST", S + "/element/%s/click" % find(css), {})
    time.sleep(0.3)  # let the form's answer load


def fill(css, value):
    el = find(css)
    call("POST", S + "/element/%s/clear" % el, {})
    call("POST", S + "/element/%s/value" % el, {"text": value})


def shot(name):
    png = base64.b64decode(call("GET", S + "/screenshot"))
    path = os.path.join(ART, name + ".png")
    with open(path, "wb") as f:
        f.write(png)
    print("screenshot %s" % path, flush=True)


def page_url():
    return call("GET", S + "/url")


try:
    # 1. the address with the token: a cookie, then the overview without it
    go(URL)
    check("login: the token is dropped from the address",
          "token" not in page_url() and page_url().rstrip("/") == BASE)
    check("overview: the progress table is there", len(finds("#progress")) == 1)
    check("overview: one record in conflict", text("#nconflicts b") == "1")
    check("overview: records wait for review",
          int(text("#queue b")) >= 1)
    shot("01-overview")

    # 2. search without diacritics
    click('a[href="/records"]')
    fill("#q", "be tong")
    click("#search")
    check("search: 'be tong' finds one record", "1 " in text("#count"))
    check("search: the query is in the address", "q=be+tong" in page_url())
    shot("02-search")
    click("table.records a")
    check("record page: history lists the creating entry",
          len(finds("#history tbody tr")) >= 1)
    shot("03-record")

    # 3. approve one record of the queue
    go(BASE + "/review")
    click("#sel-" + APPROVE)
    fill("#comment", "Đã kiểm tra tại xã")
    shot("04-review-queue")
    click("#do-approved")
    check("review: the page says it was signed",
          "1" in text("#flash") and len(finds("p.good")) == 1)
    check("review: the record left the queue",
          len(finds("#sel-" + APPROVE)) == 0)
    shot("05-reviewed")

    # 4. resolve the conflict: type a new value
    go(BASE + "/conflicts")
    shot("06-conflicts")
    fill("#v-%s-qty" % CONFLICT, "1.8")
    call("POST", S + "/element/%s/value" % find("#v-%s-qty" % CONFLICT),
         {"text": "\ue007"})  # Enter submits the form (keyboard only)
    check("resolve: the page says it was signed",
          len(finds("p.good")) == 1)
    check("resolve: no conflict left", len(finds("#none")) == 1)
    shot("07-resolved")

    # 5. enroll a device from its pasted key
    go(BASE + "/devices")
    fill("#key", DEVKEY)
    fill("#scope", SCOPE)
    fill("#name", "Ấp Thạnh Hòa")
    click("#enroll")
    check("enroll: the page says it was signed", len(finds("p.good")) == 1)
    check("enroll: the device is listed", DEVKEY in text("#devices"))
    shot("08-devices")

    # 6. sync
    go(BASE + "/sync")
    click("#sync")
    check("sync: sent and fetched", len(finds("p.good")) == 1)
    check("sync: nothing left to send", ": 0" in text("#status"))
    shot("09-sync")

    # 7. every page at 360 px: nothing wider than the screen
    for path in ["/", "/records", "/review", "/conflicts", "/devices",
                 "/sync", "/new"]:
        go(BASE + path)
        if path == "/new":
            shot("10-new-record")
        width = call("POST", S + "/execute/sync", {
            "script": "return document.documentElement.scrollWidth",
            "args": []})
        check("360 px: %s needs no sideways scrolling (%s px)" % (path, width),
              width is not None and width <= 360)
finally:
    try:
        call("DELETE", S)
    finally:
        DRIVER.terminate()
        DRIVER.wait()
sys.exit(1 if failures else 0)
