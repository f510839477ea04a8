#!/usr/bin/env python3
"""Schemathesis over every operation of GET /v1/openapi.json.

Starts satsgate-local (as tests/browser/checkout_live.py does, in a fresh
data directory), creates a regtest store, and runs `st run` against the
served document with the store key, a bounded number of examples per
operation, failing on any 5xx (`not_a_server_error`) and on any response
that does not match its documented schema (`response_schema_conformance`)
or content type (`content_type_conformance`).

Usage: tests/schemathesis/run.py   (exit status: schemathesis's)
Env: SATSGATE_LOCAL_BIN as checkout_live.py; ST (default: `st` next to
     this Python); ST_MAX_EXAMPLES (default 10)
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "browser"))
from checkout_live import VPUB, Server  # noqa: E402


def main():
    # Generated requests come fast: a limit that does not turn them all into 429s.
    os.environ.setdefault("RATE_LIMIT_PER_MINUTE", "1000000")
    server = Server()
    try:
        store = server.ok("POST", "/v1/stores", server.account_key,
                          {"name": "Schemathesis shop", "network": "regtest", "wallet": VPUB})
        key = store["api_key"]["key"]
        st = os.environ.get("ST", os.path.join(os.path.dirname(sys.executable), "st"))
        cmd = [
            st, "run", f"{server.base}/v1/openapi.json",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--max-examples", os.environ.get("ST_MAX_EXAMPLES", "10"),
            "--header", f"Authorization: Bearer {key}",
            "--workers", "2",
            "--generation-deterministic",
            "--no-color",
        ]
        print("schemathesis:", " ".join(c if key not in c else "Authorization: Bearer ***" for c in cmd), flush=True)
        return subprocess.call(cmd)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
