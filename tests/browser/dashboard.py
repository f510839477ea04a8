#!/usr/bin/env python3
"""The merchant dashboard in a real browser (headless Chromium, Selenium).

Starts satsgate-local (as checkout_live.py does), creates a user with
`satsgate-local create-user`, and then, only through the dashboard's pages:
  1. a wrong password is refused; the right one logs in; the session cookie
     is HttpOnly and SameSite=Strict and no page holds the account key or the
     session token;
  2. a store whose key is refused shows why; a regtest store is created;
  3. an invoice is created and paid with the sandbox form; it turns paid and
     then (blocks mined from outside the page) completed without a reload,
     over the WebSocket;
  4. a webhook endpoint pointing at a loopback receiver (an http.server in
     this script that checks the Satsgate-Signature) gets a signed test
     delivery, which the delivery log shows with the receiver's answer;
  4. (b, c) the invoice list is live; a quote;
  4d. a payment request to an address of the merchant's own (seed 000's
     POST /r) opens its invoice page; a second one to that address is
     refused with the reason;
  4e. the store-wide payments list (filtered by status), a sandbox payment
     to an address from it, and the event log filtered by invoice;
  5. a cross-origin POST carrying the session cookie is refused;
  6. every form field has a label, the pages fit 390 px, no console errors;
  7. logout ends the session on the server.
Screenshots (desktop and 390 px) go to docs/screenshots/.

Usage: tests/browser/dashboard.py   (exit status 0 when all holds)
Env: as checkout_live.py (SATSGATE_LOCAL_BIN, CHROMIUM, CHROMEDRIVER)
"""

import hashlib
import hmac
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from checkout_live import ROOT, VPUB, Server, browser, console_errors, free_port, wait_for

USER, PASSWORD = "merchant", "correct horse battery staple"
SHOTS = os.path.join(ROOT, "docs", "screenshots")
LIVE_SECONDS = 10


def step(msg):
    print(f"dashboard: {msg}", flush=True)


def create_user(server):
    binary = os.environ.get("SATSGATE_LOCAL_BIN")
    args = ["create-user", "--username", USER, "--data-dir", server.data_dir]
    cmd = [binary] + args if binary else ["cargo", "run", "-q", "-p", "satsgate-local", "--"] + args
    env = dict(os.environ, SATSGATE_ACCOUNT_KEY=server.account_key)
    out = subprocess.run(cmd, cwd=ROOT, env=env, input=PASSWORD + "\n", text=True,
                         capture_output=True, timeout=600)
    assert out.returncode == 0, f"create-user failed: {out.stdout}{out.stderr}"


class Receiver:
    """A loopback webhook receiver that checks each delivery's signature."""

    def __init__(self):
        self.secret = None
        self.verified = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                sig = dict(p.split("=", 1) for p in self.headers.get("Satsgate-Signature", "").split(",") if "=" in p)
                want = hmac.new((outer.secret or "").encode(), f"{sig.get('t')}.".encode() + body,
                                hashlib.sha256).hexdigest()
                ok = outer.secret is not None and hmac.compare_digest(want, sig.get("v1", ""))
                if ok:
                    outer.verified.append(json.loads(body))
                answer = b"signature ok" if ok else b"bad signature"
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *a):
                pass

        self.port = free_port()
        self.httpd = http.server.HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def stop(self):
        self.httpd.shutdown()


def regtest_address(program):
    """The regtest P2WPKH address (BIP 173 bech32) of a 20-byte program."""
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

    def polymod(values):
        chk = 1
        for v in values:
            top = chk >> 25
            chk = (chk & 0x1ffffff) << 5 ^ v
            for i, g in enumerate((0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3)):
                chk ^= g if (top >> i) & 1 else 0
        return chk

    hrp = "bcrt"
    acc, bits, data = 0, 0, [0]
    for b in program:
        acc, bits = (acc << 8) | b, bits + 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    mod = polymod(expanded + data + [0] * 6) ^ 1
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(charset[d] for d in data + checksum)


def by_css(d, css):
    return d.find_element(By.CSS_SELECTOR, css)


def fill(d, form, values):
    """Type into the fields of `form` (a WebElement) found by their labels."""
    for label, value in values.items():
        lab = form.find_element(By.XPATH, f".//label[normalize-space()='{label}']")
        el = d.find_element(By.ID, lab.get_attribute("for"))
        if el.tag_name == "select":
            el.find_element(By.CSS_SELECTOR, f"option[value='{value}']").click()
        else:
            el.clear()
            el.send_keys(value)


def buttons(d, label):
    """The visible buttons labelled `label` (none while the page re-renders)."""
    try:
        return [x for x in d.find_elements(By.TAG_NAME, "button") if x.text == label and x.is_displayed()]
    except StaleElementReferenceException:
        return []


def submit(d, button_text):
    """Press a button with the keyboard (focus + Enter)."""
    b = wait_for(f"button {button_text!r}", lambda: buttons(d, button_text), 10)[0]
    b.send_keys("\n")
    return b


def form_of(d, button_text):
    b = wait_for(f"button {button_text!r}", lambda: buttons(d, button_text), 10)[0]
    return b.find_element(By.XPATH, "./ancestor::form")


def text(d):
    return d.find_element(By.TAG_NAME, "body").text


def wait_text(d, what, seconds=10):
    return wait_for(f"the page shows {what!r}", lambda: what in text(d), seconds)


def go(d, hash_):
    d.execute_script("location.hash = arguments[0]", hash_)


def assert_no_secrets(d, secrets):
    src = d.page_source + d.execute_script(
        "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie")
    for name, s in secrets.items():
        assert s not in src, f"the page holds the {name}"


def unlabelled(d):
    return d.execute_script("""
        return Array.prototype.filter.call(document.querySelectorAll('input,select,textarea'), function (e) {
          return !(e.id && document.querySelector('label[for="' + e.id + '"]'));
        }).map(function (e) { return e.outerHTML; });""")


def shoot(d, name, width):
    d.set_window_size(width, 900)
    time.sleep(0.3)
    overflow = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow} px wider than {width} px"
    height = d.execute_script("return document.documentElement.scrollHeight")
    d.set_window_size(width, min(max(height + 120, 600), 2400))
    time.sleep(0.3)
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, name))
    d.set_window_size(1280, 900)


def post(server, path, cookie, origin, body):
    headers = {"Content-Type": "application/json", "Cookie": f"sg_session={cookie}"}
    if origin:
        headers["Origin"] = origin
    req = urllib.request.Request(server.base + path, data=json.dumps(body).encode(),
                                 method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    step("starting satsgate-local")
    server = Server()
    receiver = Receiver()
    driver = None
    try:
        create_user(server)
        driver = browser()
        driver.set_window_size(1280, 900)

        step("1. login: a wrong password is refused, the right one works")
        driver.get(server.base + "/dashboard")
        wait_for("the login form", lambda: driver.find_elements(By.CSS_SELECTOR, ".login-form"), 10)
        fill(driver, by_css(driver, ".login-form"), {"User name": USER, "Password": "not the password!"})
        submit(driver, "Log in")
        wait_text(driver, "invalid user name or password")
        assert not driver.get_cookies(), "a refused login set a cookie"
        fill(driver, by_css(driver, ".login-form"), {"Password": PASSWORD})
        submit(driver, "Log in")
        wait_for("the overview", lambda: driver.find_elements(By.XPATH, "//h1[.='Overview']"), 10)
        cookies = {c["name"]: c for c in driver.get_cookies()}
        session = cookies["sg_session"]
        assert session["httpOnly"] and session.get("sameSite") == "Strict", session
        token = session["value"]
        secrets = {"account key": server.account_key, "session token": token}
        assert_no_secrets(driver, secrets)

        step("2. stores: a refused key says why; a regtest store is created")
        go(driver, "#/stores")
        wait_text(driver, "New store")
        store_form = form_of(driver, "Create store")
        fill(driver, store_form, {"Name": "Dash <b>shop</b> & co", "Network": "regtest",
                                  "Wallet descriptor or xpub/ypub/zpub/tpub/vpub": "wpkh(not-a-key/0/*)"})
        submit(driver, "Create store")
        err = wait_for("the refusal", lambda: driver.find_elements(By.CSS_SELECTOR, "[role=alert]"), 10)[0]
        assert "wallet" in err.text, f"the refusal names no reason for the wallet: {err.text!r}"
        step(f"  refused: {err.text.splitlines()[0]!r}")
        fill(driver, form_of(driver, "Create store"),
             {"Wallet descriptor or xpub/ypub/zpub/tpub/vpub": VPUB})
        submit(driver, "Create store")
        shown = wait_for("the store key shown once",
                         lambda: driver.find_elements(By.CSS_SELECTOR, "#store-created [data-secret]"), 10)
        store_key = shown[0].text
        assert store_key.startswith("sgs_"), store_key
        # Merchant strings are text, never markup.
        assert "Dash <b>shop</b> & co" in text(driver)
        assert not driver.find_elements(By.CSS_SELECTOR, "main td b"), "a store name became markup"
        secrets["store key (after it was shown)"] = store_key

        step("3. an invoice paid in the sandbox turns paid, then completed, without a reload")
        go(driver, "#/invoices")
        create = form_of(driver, "Create invoice")
        fill(driver, create, {"Amount": "0.001", "Currency": "BTC", "Order id (optional)": "order-<1>"})
        submit(driver, "Create invoice")

        def shown_status():
            el = driver.find_elements(By.ID, "invoice-status")
            try:
                return el[0].get_attribute("data-status") if el else None
            except StaleElementReferenceException:
                return None

        wait_for("the new invoice's page", lambda: shown_status() == "new", 10)
        invoice_id = driver.execute_script("return location.hash.split('/')[2]")
        wait_for("the page is live", lambda: driver.execute_script(
            "return document.documentElement.getAttribute('data-live')") == "ws", LIVE_SECONDS)
        driver.execute_script("window.__sgMarker = 42")
        submit(driver, "Pay invoice")

        wait_for("the invoice turns paid (pending)", lambda: shown_status() == "pending", LIVE_SECONDS)
        wait_text(driver, "payment.received")
        shoot(driver, "dashboard-invoice-desktop.png", 1280)
        for _ in range(6):  # mined outside the page: only the WebSocket can tell it
            server.ok("POST", "/v1/sandbox/blocks", store_key, {"count": 1})
            if server.ok("GET", f"/v1/invoices/{invoice_id}", store_key)["status"] == "completed":
                break
        wait_for("the invoice turns completed", lambda: shown_status() == "completed", LIVE_SECONDS)
        assert driver.execute_script("return window.__sgMarker === 42"), "the page was reloaded"
        assert_no_secrets(driver, {"account key": server.account_key, "session token": token})
        step(f"  {invoice_id}: new -> pending -> completed, no reload")
        shoot(driver, "dashboard-invoice-phone.png", 390)

        step("4. webhooks: a signed test delivery reaches a loopback receiver and shows in the log")
        go(driver, "#/webhooks")
        wait_text(driver, "New endpoint")
        fill(driver, form_of(driver, "Add endpoint"), {"URL": receiver.url, "Description": "loopback"})
        submit(driver, "Add endpoint")
        secret = wait_for("the secret shown once",
                          lambda: driver.find_elements(By.CSS_SELECTOR, "#flash [data-secret]"), 10)[0].text
        receiver.secret = secret
        submit(driver, "Send test")
        wait_for("the receiver verified a signed delivery", lambda: receiver.verified, 15)
        log = wait_for("the delivery log", lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, "#delivery-log .attempt")
                                                    if "HTTP 200" in e.text], 15)[0]
        assert "signature ok" in log.text, log.text
        step(f"  delivery log: {log.text!r}")
        shoot(driver, "dashboard-webhooks-desktop.png", 1280)

        step("4b. the invoice list updates live; the invoice's deliveries show on its page")
        go(driver, "#/invoices")
        wait_text(driver, invoice_id)
        inv2 = server.ok("POST", "/v1/invoices", store_key, {"amount": "0.0005", "currency": "BTC", "order_id": "second"})
        go(driver, "#/stores")
        go(driver, "#/invoices")
        wait_for("the list shows the new invoice", lambda: driver.find_elements(
            By.CSS_SELECTOR, f'[data-status-of="{inv2["id"]}"] .badge.new'), 10)
        wait_for("the list is live", lambda: driver.execute_script(
            "return document.documentElement.getAttribute('data-live')") == "ws", LIVE_SECONDS)
        driver.execute_script("window.__sgMarker = 43")
        server.ok("POST", "/v1/sandbox/payments", store_key,
                  {"invoice_id": inv2["id"], "amount_sats": inv2["crypto_amount_sats"]})
        wait_for("the row turns pending", lambda: driver.find_elements(
            By.CSS_SELECTOR, f'[data-status-of="{inv2["id"]}"] .badge.pending'), LIVE_SECONDS)
        assert driver.execute_script("return window.__sgMarker === 43"), "the list was reloaded"
        fill(driver, form_of(driver, "Filter"), {"Order id": "order-<1>"})
        submit(driver, "Filter")
        wait_for("the filtered list", lambda: len(driver.find_elements(By.CSS_SELECTOR, "[data-status-of]")) == 1
                 and driver.find_elements(By.CSS_SELECTOR, f'[data-status-of="{invoice_id}"]'), 10)
        wait_for("the receiver got the second invoice's events", lambda: any(
            (v.get("data") or {}).get("invoice", {}).get("id") == inv2["id"] for v in receiver.verified), 20)
        go(driver, f"#/invoice/{inv2['id']}")

        def invoice_deliveries():
            found = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#invoice-deliveries .attempt")
                     if "HTTP 200" in e.text and "signature ok" in e.text]
            if not found:
                for b in buttons(driver, "Refresh deliveries"):
                    b.click()
            return found

        wait_for("the invoice's deliveries with their attempts", invoice_deliveries, 20)
        step("  live row: new -> pending; filter by order id; deliveries on the invoice page")

        step("4c. a quote, then an invoice at that quote; the users page")
        go(driver, "#/invoices")
        summary = wait_for("the quote section", lambda: driver.find_elements(
            By.XPATH, "//summary[starts-with(., 'Quote a price')]"), 10)[0]
        summary.send_keys(" ")  # opened with the keyboard
        fill(driver, form_of(driver, "Get quote"), {"Quote amount": "12.50", "Quote currency": "USD"})
        submit(driver, "Get quote")
        quote = wait_for("the quote", lambda: driver.find_elements(By.ID, "quote"), 10)[0].text
        assert "12.50 USD" in quote, quote
        submit(driver, "Create invoice at this quote")
        wait_for("the invoice at the quote", lambda: shown_status() == "new"
                 and "12.50 USD" in text(driver), 10)

        step("4d. a payment request to an address of the merchant's own (seed 000's POST /r)")
        go(driver, "#/invoices")
        summary = wait_for("the fixed-address section", lambda: driver.find_elements(
            By.XPATH, "//summary[starts-with(., 'Request payment to an address')]"), 10)[0]
        summary.send_keys(" ")
        own = regtest_address(bytes(range(20)))
        fill(driver, form_of(driver, "Request payment"), {"Your address": own, "Amount": "0.0007", "Currency": "BTC"})
        submit(driver, "Request payment")
        wait_for("the request's invoice page", lambda: shown_status() == "new" and own in text(driver), 10)
        fixed_id = driver.execute_script("return location.hash.split('/')[2]")
        assert server.ok("GET", f"/v1/invoices/{fixed_id}", store_key)["address"] == own
        # The address backs one open request at a time: a second one says why.
        go(driver, "#/invoices")
        wait_for("the fixed-address section", lambda: driver.find_elements(
            By.XPATH, "//summary[starts-with(., 'Request payment to an address')]"), 10)[0].send_keys(" ")
        fill(driver, form_of(driver, "Request payment"), {"Your address": own, "Amount": "0.0007", "Currency": "BTC"})
        submit(driver, "Request payment")
        err = wait_for("the refusal", lambda: driver.find_elements(By.CSS_SELECTOR, "#fixed-request [role=alert]"), 10)[0]
        assert f"already backs the open payment request {fixed_id}" in err.text, err.text
        step(f"  {fixed_id} pays {own}; a second request to it is refused")

        go(driver, "#/users")
        wait_for("the user list", lambda: driver.find_elements(By.XPATH, f"//td[.='{USER}']"), 10)

        step("4e. the store's payments and event log; a sandbox payment to an address")
        inv3 = server.ok("POST", "/v1/invoices", store_key, {"amount": "0.0002", "currency": "BTC", "order_id": "third"})
        go(driver, "#/payments")

        def payment_rows(invoice):
            return driver.find_elements(By.CSS_SELECTOR, f'#payments-list a[href="#/invoice/{invoice}"]')

        wait_for("both invoices' payments in the store's list",
                 lambda: payment_rows(invoice_id) and payment_rows(inv2["id"]), 10)
        assert not payment_rows(inv3["id"]), "an unpaid invoice shows a payment"
        fill(driver, form_of(driver, "Pay address"), {"Address": inv3["address"], "Amount (sat)": str(inv3["crypto_amount_sats"])})
        submit(driver, "Pay address")
        refreshed = [time.time()]

        def detected():
            # The chain poller finds a payment by address on its next run;
            # the list shows what the API knows when it is (re)loaded.
            if payment_rows(inv3["id"]):
                return True
            if time.time() - refreshed[0] > 2 and buttons(driver, "Filter"):
                refreshed[0] = time.time()
                buttons(driver, "Filter")[0].send_keys("\n")
            return False

        wait_for("the address payment is detected and listed", detected, 30)
        fill(driver, form_of(driver, "Filter"), {"Status": "confirmed"})
        submit(driver, "Filter")
        wait_for("only the confirmed payment", lambda: payment_rows(invoice_id) and not payment_rows(inv2["id"])
                 and not payment_rows(inv3["id"]), 10)
        shoot(driver, "dashboard-payments-desktop.png", 1280)
        go(driver, "#/events")
        fill(driver, form_of(driver, "Filter"), {"Invoice id": inv3["id"]})
        submit(driver, "Filter")

        def event_types():
            try:
                links = driver.find_elements(By.CSS_SELECTOR, "#events-list a[href^='#/invoice/']")
                if any(a.get_attribute("href").split("/")[-1] != inv3["id"] for a in links):
                    return None
                return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#events-list .event-type")]
            except StaleElementReferenceException:
                return None

        types = wait_for("the third invoice's events", lambda: (lambda t: t and "payment.received" in t and t)(event_types()), 10)
        step(f"  payments listed store-wide, filtered by status; {inv3['id']} paid by address; its events: {types}")

        step("5. a cross-origin POST with the session cookie is refused")
        status_evil = post(server, "/dashboard/api/v1/stores", token, "http://evil.example",
                           {"name": "x", "network": "regtest", "wallet": VPUB})
        status_none = post(server, "/dashboard/api/v1/stores", token, None,
                           {"name": "x", "network": "regtest", "wallet": VPUB})
        assert status_evil == 403 and status_none == 403, (status_evil, status_none)
        assert post(server, "/dashboard/logout", token, "http://evil.example", {}) == 403
        step("  refused with 403 (and the same request from the page's origin works below)")

        step("6. overview, labels, 390 px, console")
        go(driver, "#/")
        bars_js = "return Array.from(document.querySelectorAll('#chart rect title')).map(t => t.textContent)"
        bars = wait_for("the 7-day chart", lambda: (lambda b: len(b) == 7 and b)(driver.execute_script(bars_js)), 10)
        received = sum(int(b.split(": ")[1].split(" ")[0]) for b in bars)
        paid = inv2["crypto_amount_sats"] + inv3["crypto_amount_sats"] + 100000
        assert received == paid, f"the chart shows {received} sat received, the sandbox paid {paid}: {bars}"
        fill(driver, driver.find_element(By.TAG_NAME, "main"), {"Period": "30"})
        wait_for("the 30-day chart", lambda: len(driver.execute_script(bars_js)) == 30, 10)
        fill(driver, driver.find_element(By.TAG_NAME, "main"), {"Period": "7"})
        wait_for("the 7-day chart", lambda: len(driver.execute_script(bars_js)) == 7, 10)
        wait_text(driver, "0.001")
        shoot(driver, "dashboard-overview-desktop.png", 1280)
        shoot(driver, "dashboard-overview-phone.png", 390)
        for page in ("#/", "#/invoices", "#/payments", "#/events", "#/stores", "#/webhooks", "#/users",
                     f"#/invoice/{invoice_id}"):
            go(driver, page)
            time.sleep(0.8)
            missing = unlabelled(driver)
            assert not missing, f"{page}: fields without a label: {missing}"
            assert_no_secrets(driver, {"account key": server.account_key, "session token": token})
        # Refused requests above (the first visit, the wrong password, the bad
        # wallet) are logged as network errors; anything else (a CSP
        # violation, a script error) fails the test.
        errors = [e for e in console_errors(driver) if e.get("source") != "network"]
        assert not errors, f"console errors: {errors}"

        step("7. logout ends the session on the server")
        submit(driver, "Log out")
        wait_for("the login form", lambda: driver.find_elements(By.CSS_SELECTOR, ".login-form"), 10)
        req = urllib.request.Request(server.base + "/dashboard/api/v1/stores",
                                     headers={"Cookie": f"sg_session={token}"})
        try:
            urllib.request.urlopen(req, timeout=30)
            raise AssertionError("the session still works after logout")
        except urllib.error.HTTPError as e:
            assert e.code == 401, e.code
        step("ok: login, stores, invoices, live updates, webhooks and logout work in the browser")
        return 0
    except AssertionError as e:
        step(f"FAILED: {e}")
        if driver is not None:
            os.makedirs(SHOTS, exist_ok=True)
            driver.save_screenshot("/tmp/dashboard-failure.png")
        return 1
    finally:
        if driver is not None:
            driver.quit()
        receiver.stop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
