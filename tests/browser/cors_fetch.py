#!/usr/bin/env python3
"""CORS in a real browser (headless Chromium, Selenium).

Starts satsgate-local (as tests/browser/checkout_live.py does) and a plain
static server on another port serving one page: another origin. In that
page, `fetch`
  1. GET /v1/prices (no key): a simple request; the answer is readable;
  2. POST /v1/invoices with `Authorization`, `Content-Type: application/json`
     and `Idempotency-Key`: the browser sends a real preflight first; the
     invoice is created and `X-Request-Id` / `X-RateLimit-*` are readable;
  3. GET /v1/invoices/{id} with `Api-Key`: also preflighted, readable;
  4. a header the API does not allow (`X-Not-Allowed`): the browser refuses
     (the preflight is what decides, so this proves one happened).

Usage: tests/browser/cors_fetch.py   (exit status 0 when all holds)
Env: as checkout_live.py (SATSGATE_LOCAL_BIN, CHROMIUM, CHROMEDRIVER)
"""

import contextlib
import functools
import http.server
import os
import sys
import tempfile
import threading
import time

from checkout_live import VPUB, Server, browser, console_errors, free_port

PAGE = "<!doctype html><html><head><title>shop</title><link rel=\"icon\" href=\"data:,\"></head><body>shop</body></html>"

# Runs in the page: one fetch, its status, body and the headers JS can read.
FETCH = """
const [url, init, done] = arguments;
fetch(url, init).then(async r => done({
  ok: true, status: r.status, body: await r.json(),
  requestId: r.headers.get('X-Request-Id'),
  rateLimit: r.headers.get('X-RateLimit-Limit'),
  rateRemaining: r.headers.get('X-RateLimit-Remaining'),
})).catch(e => done({ok: false, error: String(e)}));
"""


def step(msg):
    print(f"cors_fetch: {msg}", flush=True)


def serve_page():
    """A static server for PAGE on its own port (another origin)."""
    root = tempfile.mkdtemp(prefix="satsgate-cors-page-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write(PAGE)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/index.html"


def fetch(d, url, init):
    d.set_script_timeout(30)
    return d.execute_async_script(FETCH, url, init)


def check(server, driver, page):
    """The four fetches (module doc), from `page` on its own origin."""
    store = server.ok("POST", "/v1/stores", server.account_key,
                      {"name": "CORS shop", "network": "regtest", "wallet": VPUB})
    key = store["api_key"]["key"]
    # The sandbox price feed fills in shortly after start.
    deadline = time.time() + 60
    while server.call("GET", "/v1/prices", key)[0] != 200:
        if time.time() > deadline:
            raise AssertionError("no prices within 60 s")
        time.sleep(0.5)

    driver.get(page)
    origin = driver.execute_script("return location.origin")
    assert origin != server.base, (origin, server.base)
    step(f"page at {origin}, API at {server.base}")

    step("1. GET /v1/prices without a key")
    r = fetch(driver, server.base + "/v1/prices", {})
    assert r["ok"] and r["status"] == 200, r
    assert r["body"]["prices"], r
    assert r["requestId"] and r["requestId"].startswith("req_"), r

    step("2. POST /v1/invoices with a key (preflighted)")
    r = fetch(driver, server.base + "/v1/invoices", {
        "method": "POST",
        "headers": {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                    "Idempotency-Key": "cors-browser-1"},
        "body": '{"amount": "0.001", "currency": "BTC"}',
    })
    assert r["ok"] and r["status"] == 201, r
    invoice_id = r["body"]["id"]
    assert r["requestId"], r
    assert r["rateLimit"] and r["rateRemaining"], f"rate-limit headers not exposed: {r}"

    step("3. GET /v1/invoices/{id} with Api-Key (preflighted)")
    r = fetch(driver, f"{server.base}/v1/invoices/{invoice_id}", {"headers": {"Api-Key": key}})
    assert r["ok"] and r["status"] == 200 and r["body"]["id"] == invoice_id, r
    errors = console_errors(driver)
    assert not errors, f"console errors: {errors}"

    step("4. a header the API does not allow is refused by the browser")
    r = fetch(driver, server.base + "/v1/prices", {"headers": {"X-Not-Allowed": "1"}})
    assert not r["ok"], f"the browser let a disallowed header through: {r}"


def main():
    step("starting satsgate-local (cargo run -p satsgate-local)")
    with contextlib.ExitStack() as cleanup:
        server = Server()
        cleanup.callback(server.stop)
        httpd, page = serve_page()
        cleanup.callback(httpd.shutdown)
        driver = browser()
        cleanup.callback(driver.quit)
        try:
            check(server, driver, page)
        except AssertionError as e:
            step(f"FAILED: {e}")
            return 1
        step("ok: another origin reads prices and creates and reads an invoice")
        return 0


if __name__ == "__main__":
    sys.exit(main())
