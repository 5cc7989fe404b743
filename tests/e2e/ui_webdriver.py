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
#        SCOPE JOIN_KEY JOIN_FINGERPRINT
import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

URL, ART, APPROVE, CONFLICT, DEVKEY, SCOPE, JKEY, JFP = sys.argv[1:9]
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


def show(css):
    """Scroll the element into view (for the screenshot)."""
    call("POST", S + "/execute/sync", {
        "script": "document.querySelector(arguments[0]).scrollIntoView()",
        "args": [css]})


def value(css):
    return call("GET", S + "/element/%s/property/value" % find(css))


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
    # the charts: a bar per target drawn to the figure written beside it
    bars = finds("#charts li")
    check("overview: a chart per target (%d)" % len(bars),
          len(bars) >= 1 and len(bars) == len(finds("#progress tbody tr")))
    drawn, widths = 0, []
    for li in bars:
        fig = call("GET", S + "/element/%s/text" % li)
        m = re.search(r"(\d+)%", fig)
        rect = list(call("POST", S + "/element/%s/element" % li, {
            "using": "css selector", "value": "rect.fill"}).values())[0]
        w = float(call("GET", S + "/element/%s/attribute/width" % rect))
        widths.append(w)
        if m and abs(min(int(m.group(1)), 100) - w) <= 0.6:
            drawn += 1
    check("overview: each bar is drawn to its figure in text (%d of %d)" %
          (drawn, len(bars)), drawn == len(bars))
    check("overview: some target has progress (%s)" % max(widths or [0]),
          max(widths or [0]) > 0)
    check("overview: the bars are hidden from screen readers (the text "
          "says it)", len(finds('#charts svg[aria-hidden="true"]')) ==
          len(bars))
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
    imgs = finds("#attachments img")
    check("record page: the photo's thumbnail is drawn (%d)" % len(imgs),
          len(imgs) == 1 and int(call("GET", S + "/element/%s/property/"
                                       "naturalWidth" % imgs[0]) or 0) > 0)
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

    # 5. enroll a device from its pasted key; a short key first, refused
    # in the words of ntm admin enroll (one check for both: cli/checks.c)
    go(BASE + "/devices")
    fill("#key", "123abc")
    fill("#scope", SCOPE)
    click("#enroll")
    check("enroll: a short key is refused as ntm admin enroll refuses it",
          len(finds("p.bad")) == 1 and "'123abc'" in text("#flash"))
    fill("#key", DEVKEY)
    fill("#scope", SCOPE)
    fill("#name", "Ấp Thạnh Hòa")
    click("#enroll")
    check("enroll: the page says it was signed", len(finds("p.good")) == 1)
    check("enroll: the device is listed", DEVKEY in text("#devices"))
    shot("08-devices")

    # 5b. enroll the device that asked with a join code: listed with its
    # fingerprint; a wrong one typed enrolls nothing; the right one does
    go(BASE + "/devices")
    check("join requests: the device that asked is listed",
          "Ấp Thạnh Hòa (máy 2)" in text("#requests"))
    check("join requests: with its fingerprint", JFP in text("#requests"))
    show("#requests")
    shot("08b-join-requests")
    fill("#fp-" + JKEY[:16], "0000 0000 0000 0000")
    click("#join-" + JKEY[:16])
    check("join: a wrong fingerprint is refused",
          len(finds("p.bad")) == 1 and "0000 0000" in text("#flash"))
    check("join: ... and enrolls nothing", JKEY not in text("#devices"))
    fill("#fp-" + JKEY[:16], JFP.replace(" ", "").upper())
    click("#join-" + JKEY[:16])
    check("join: the fingerprint typed enrolls it (signed)",
          len(finds("p.good")) == 1)
    check("join: the device is listed", JKEY in text("#devices"))
    show("#flash")
    shot("08c-joined")

    # 5c. record entry: the form of a task, from the plan's data dictionary
    go(BASE + "/new")
    call("POST", S + "/element/%s/click" %
         find('#task option[value="doan.rural_roads_km"]'), {})
    click("#choose")
    check("entry form: the task's fields from the dictionary",
          len(finds("#f-date[required]")) == 1 and len(finds("#f-qty")) == 1
          and len(finds("#f-people")) == 1 and len(finds("#f-period")) == 0)
    check("entry form: the units the task accepts (km, m)",
          len(finds('select#f-uom option[value="km"]')) == 1 and
          len(finds('select#f-uom option[value="m"]')) == 1)
    fill("#f-unit", SCOPE)
    fill("#f-date", "2019-06-20")
    fill("#f-qty", "abc")
    fill("#f-title", "Đường ấp Thạnh Hòa, đoạn 2")
    click("#save")
    check("entry: a wrong quantity is refused beside its field",
          "'abc'" in text("#e-qty") and
          len(finds('#f-qty[aria-invalid="true"]')) == 1)
    check("entry: the values typed are kept",
          value("#f-title") == "Đường ấp Thạnh Hòa, đoạn 2")
    show("label[for=f-qty]")
    shot("10b-entry-refused")
    fill("#f-qty", "300")
    fill("#f-people", "20000000")
    click("#save")
    check("entry: the dictionary's range refuses 20000000 people beside it",
          len(finds("#e-people")) == 1 and len(finds("#e-qty")) == 0)
    fill("#f-people", "12")
    call("POST", S + "/element/%s/click" %
         find('select#f-uom option[value="m"]'), {})
    click("#save")
    check("entry: recorded and signed", "/record?id=" in page_url() and
          len(finds("p.good")) == 1)
    check("entry: 300 m kept as typed, in m", "300" in text("main"))
    shot("10c-recorded")

    # 6. sync
    go(BASE + "/sync")
    click("#sync")
    # the page refreshes itself while the worker runs
    for _ in range(300):
        if retry(lambda: len(finds("#sync-running"))) == 0:
            break
        time.sleep(0.1)
    check("sync: done, said on the page", len(finds("#sync-done")) == 1)
    sent = int("".join(ch for ch in text("#sync-sent") if ch.isdigit()) or 0)
    check("sync: the entries sent are counted (%d)" % sent, sent >= 5)
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
