#!/usr/bin/env python3
"""The hosted checkout page in a real browser (headless Chromium, Selenium).

Starts satsgate-local (debug build, `cargo run -p satsgate-local`) on a free
loopback port with a temporary data directory, creates a regtest store and
invoices through the API, opens each invoice's `checkout_url`, pays and mines
through the sandbox API, and checks that the page follows the invoice
without a reload:
  1. over the WebSocket: pending -> completed;
  2. over the WebSocket: pending -> invalid (the payment is double-spent);
  3. with no WebSocket at all (polling fallback): pending -> completed;
and that the browser console has no errors (no favicon 404, no CSP
violation) and that the footer breaks no word on a narrow screen.

Usage: tests/browser/checkout_live.py   (exit status 0 when all holds)
Env: SATSGATE_LOCAL_BIN  use this binary instead of `cargo run`
     CHROMIUM, CHROMEDRIVER  paths (default /usr/bin/chromium, /usr/bin/chromedriver)
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# m/84'/1'/0' of the BIP39 test mnemonic "abandon ... about" (a public key only).
VPUB = (
    "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQd"
    "woTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc"
)
# An update pushed over the WebSocket shows within this; the page's poll
# runs every 30 s while the socket is up, so a pass proves the push.
PUSH_SECONDS = 10
POLL_SECONDS = 12


def step(msg):
    print(f"checkout_live: {msg}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """satsgate-local in a temporary data directory."""

    def __init__(self):
        self.data_dir = tempfile.mkdtemp(prefix="satsgate-browser-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        args = ["--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir]
        binary = os.environ.get("SATSGATE_LOCAL_BIN")
        cmd = [binary] + args if binary else ["cargo", "run", "-q", "-p", "satsgate-local", "--"] + args
        env = dict(os.environ)
        for k in ("TABLE_NAME", "PUBLIC_URL", "ALLOW_INSECURE_URLS", "WEBSOCKET_URL"):
            env.pop(k, None)
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines = []
        self.account_key = None
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip())
                if line.startswith("SATSGATE_ACCOUNT_KEY="):
                    self.account_key = line.strip().split("=", 1)[1]
                if line.startswith("listening on"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        # A cold debug build can take a while on a busy machine.
        deadline = time.time() + 1800
        while not ready.wait(1):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise SystemExit("satsgate-local did not start:\n" + "\n".join(self.lines[-40:]))
        if not self.account_key:
            self.stop()
            raise SystemExit("satsgate-local printed no account key")

    def call(self, method, path, key, body=None):
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ok(self, method, path, key, body=None):
        status, b = self.call(method, path, key, body)
        if status >= 300:
            raise AssertionError(f"{method} {path} -> {status} {b}")
        return b

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=360,900"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=opts)


def wait_for(what, check, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds} s")


def page_status(d):
    return d.execute_script(
        "var s = document.getElementById('state');"
        "return s && !s.hidden ? [s.getAttribute('data-status'),"
        " document.getElementById('state-title').textContent] : null;"
    )


def expect_status(d, status, title, seconds):
    got = wait_for(
        f"the page shows {status}",
        lambda: (page_status(d) or [None])[0] == status and page_status(d),
        seconds,
    )
    assert got[1] == title, f"title for {status}: {got[1]!r}"
    assert d.execute_script("return window.__sgMarker === 42"), "the page was reloaded"
    step(f"  page shows {status}: {got[1]!r}")


def open_page(d, url, live):
    d.get(url)
    d.execute_script("window.__sgMarker = 42")
    wait_for(
        f"the page is live over {live}",
        lambda: d.execute_script("return document.documentElement.getAttribute('data-live')") == live,
        PUSH_SECONDS,
    )
    assert page_status(d) is None, f"an open invoice shows the payment panel, not {page_status(d)}"


def footer_words_whole(d):
    """A word broken across lines has more than one client rect."""
    return d.execute_script(
        """
        var f = document.querySelector('footer'), t = f.firstChild, text = t.textContent;
        var broken = [], re = /\\S+/g, m;
        while ((m = re.exec(text))) {
          var r = document.createRange();
          r.setStart(t, m.index); r.setEnd(t, m.index + m[0].length);
          if (r.getClientRects().length !== 1) broken.push(m[0]);
        }
        return broken;
        """
    )


def mine_until(server, key, invoice_id, status):
    for _ in range(6):
        server.ok("POST", "/v1/sandbox/blocks", key, {"count": 1})
        if server.ok("GET", f"/v1/invoices/{invoice_id}", key)["status"] == status:
            return
    raise AssertionError(f"invoice {invoice_id} not {status} after 6 blocks")


def console_errors(d):
    return [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]


def main():
    step("starting satsgate-local (cargo run -p satsgate-local)")
    server = Server()
    driver = None
    try:
        step(f"up at {server.base}; creating a regtest store")
        store = server.ok("POST", "/v1/stores", server.account_key,
                          {"name": "Browser shop", "network": "regtest", "wallet": VPUB})
        key = store["api_key"]["key"]

        def invoice():
            inv = server.ok("POST", "/v1/invoices", key, {"amount": "0.001", "currency": "BTC"})
            assert inv["checkout_url"].startswith(server.base), inv["checkout_url"]
            return inv

        driver = browser()

        step("1. WebSocket: pending -> completed")
        inv = invoice()
        open_page(driver, inv["checkout_url"], "ws")
        broken = footer_words_whole(driver)
        assert not broken, f"footer words broken across lines: {broken}"
        server.ok("POST", "/v1/sandbox/payments", key,
                  {"invoice_id": inv["id"], "amount_sats": inv["crypto_amount_sats"]})
        expect_status(driver, "pending", "Paid", PUSH_SECONDS)
        mine_until(server, key, inv["id"], "completed")
        expect_status(driver, "completed", "Payment confirmed", PUSH_SECONDS)

        step("2. WebSocket: pending -> invalid (double-spent)")
        inv = invoice()
        open_page(driver, inv["checkout_url"], "ws")
        paid = server.ok("POST", "/v1/sandbox/payments", key,
                         {"invoice_id": inv["id"], "amount_sats": inv["crypto_amount_sats"], "rbf": True})
        expect_status(driver, "pending", "Paid", PUSH_SECONDS)
        server.ok("POST", "/v1/sandbox/double-spend", key, {"txid": paid["txid"]})
        expect_status(driver, "invalid", "Invoice invalid", PUSH_SECONDS)

        errors = console_errors(driver)
        assert not errors, f"console errors: {errors}"

        step("3. no WebSocket in the browser: polling fallback, pending -> completed")
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "Object.defineProperty(window, 'WebSocket', {value: undefined});"},
        )
        inv = invoice()
        open_page(driver, inv["checkout_url"], "poll")
        server.ok("POST", "/v1/sandbox/payments", key,
                  {"invoice_id": inv["id"], "amount_sats": inv["crypto_amount_sats"]})
        expect_status(driver, "pending", "Paid", POLL_SECONDS)
        mine_until(server, key, inv["id"], "completed")
        expect_status(driver, "completed", "Payment confirmed", POLL_SECONDS)

        errors = console_errors(driver)
        assert not errors, f"console errors: {errors}"
        step("ok: the page stays live until a final state, with no console errors")
        return 0
    except AssertionError as e:
        step(f"FAILED: {e}")
        return 1
    finally:
        if driver is not None:
            driver.quit()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
