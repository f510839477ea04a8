"""The Docker-free developer loop of the README, run for real.

`cargo lambda watch` serves the workspace's function binaries under its
Lambda emulator; `cargo lambda invoke <function> --data-file events/<f>.json`
sends one a sample event. This script does what a developer does, against
moto_server instead of AWS:

1. creates the template's DynamoDB table in moto_server (its key schema and
   indexes read from template.yaml, the one definition of the table);
2. starts `cargo lambda watch` with the template's global environment
   (the table, the sandbox chain on) pointed at moto_server;
3. invokes one HTTP function (`health`, which reads the table) and one
   scheduled job (`chain-poller`), and checks their answers;
4. stops the watcher.

Needs SATSGATE_TEST_AWS_ENDPOINT (moto_server) and cargo-lambda (PyPI,
installed into the venv by scripts/test).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import boto3
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.dirname(sys.executable)
sys.path.insert(0, os.path.join(ROOT, "tests", "browser"))
from checkout_live import free_port  # noqa: E402  (one free-port helper for the Python tests)


def template():
    with open(os.path.join(ROOT, "template.yaml")) as f:
        return yaml.safe_load(f)


def create_table(endpoint, t):
    """The template's `Table` resource, created in moto_server under a fresh name."""
    props = t["Resources"]["Table"]["Properties"]
    name = "satsgate-dev-" + uuid.uuid4().hex[:12]
    args = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    dynamo = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dynamo.create_table(**args)
    return name


def global_env(t, table, endpoint):
    """Globals.Function.Environment with its references resolved as a test
    stack would (parameters at their defaults, `Sandbox` on)."""
    params = t.get("Parameters", {})
    env = {}
    for key, value in t["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            if ref == "Table":
                value = table
            elif ref == "Sandbox":
                value = "1"
            elif ref in params and "Default" in params[ref]:
                value = params[ref]["Default"]
            else:
                raise SystemExit(f"global env {key}: cannot resolve Ref {ref}")
        env[key] = str(value)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    return env


def cargo_lambda(*args):
    return [os.path.join(VENV_BIN, "cargo-lambda"), "lambda", *args]


def wait_port(port, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"cargo lambda watch exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"cargo lambda watch did not listen on {port} in {seconds} s")


def invoke(port, function, event_file):
    """`cargo lambda invoke` as a developer types it; the function's answer as JSON."""
    out = subprocess.run(
        cargo_lambda(
            "invoke",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            str(port),
            "--data-file",
            os.path.join("events", event_file),
            "--output-format",
            "json",
            function,
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        print(out.stdout)
        print(out.stderr)
        raise SystemExit(f"cargo lambda invoke {function} failed ({out.returncode})")
    return json.loads(out.stdout)


def main():
    endpoint = os.environ.get("SATSGATE_TEST_AWS_ENDPOINT")
    if not endpoint:
        raise SystemExit("SATSGATE_TEST_AWS_ENDPOINT (moto_server) is not set")
    t = template()
    table = create_table(endpoint, t)
    env = global_env(t, table, endpoint)
    port = free_port()
    watch = subprocess.Popen(
        cargo_lambda(
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            str(port),
            "--ignore-changes",
            "--quiet",
            "--env-vars",
            ",".join(f"{k}={v}" for k, v in env.items()),
        ),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_port(port, watch)

        health = invoke(port, "health", "health.json")
        assert health.get("statusCode") == 200, health
        body = json.loads(health["body"])
        assert body["status"] == "ok" and body["storage"] == "dynamodb", body
        assert body["storage_ok"] is True, body
        print(f"health via cargo lambda invoke: 200, storage {body['storage']} ok")

        report = invoke(port, "chain-poller", "chain-poller.json")
        print(f"chain-poller via cargo lambda invoke: {json.dumps(report)}")
        assert isinstance(report, dict) and "error" not in report, report
    except BaseException:
        os.killpg(watch.pid, signal.SIGTERM)
        print(watch.communicate(timeout=30)[0][-4000:])
        raise
    os.killpg(watch.pid, signal.SIGTERM)
    watch.wait(timeout=30)
    print("lambda dev loop: ok")


if __name__ == "__main__":
    main()
