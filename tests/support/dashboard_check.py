#!/usr/bin/env python3
"""Checks a node's live dashboard in headless Chromium, through ChromeDriver.

Usage: dashboard_check.py --url URL --nodes N --screenshot FILE
                          [--kill-pid PID --lost-node NAME]

Opens URL once (no reload afterwards) and, reading the page's DOM:
  1. waits until it is live and lists N nodes, all alive;
  2. waits until some variable's version grows (live updates arrive);
  3. saves a screenshot (PNG) to FILE;
  4. with --kill-pid: sends SIGKILL to PID and waits until the node named
     NAME shows as lost (the page not reloaded).
Exit status 0 when every step held, 1 otherwise (the page's text on
stderr), 2 on a usage error.

Talks the W3C WebDriver protocol (plain HTTP + JSON, Python's urllib) to
Debian's chromedriver, which drives Debian's chromium; both from
scripts/setup. Traffic goes to 127.0.0.1 only.
"""
import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return json.loads(reply.read() or b"{}").get("value")
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.read().decode()}")

    def start(self, profile):
        options = {"binary": CHROMIUM,
                   "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--no-first-run",
                            "--window-size=1400,820",
                            f"--user-data-dir={profile}"]}
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = value["sessionId"]

    def run(self, script):
        return self.call("POST", f"/session/{self.session}/execute/sync",
                         {"script": script, "args": []})

    def open(self, url):
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def screenshot(self, path):
        png = base64.b64decode(
            self.call("GET", f"/session/{self.session}/screenshot"))
        with open(path, "wb") as out:
            out.write(png)

    def stop(self):
        if self.session:
            try:
                self.call("DELETE", f"/session/{self.session}", timeout=20)
            except Exception:  # the browser may be gone already
                pass


PAGE_STATE = """
const rows = [...document.querySelectorAll('#nodes tr')];
return {
  live: document.getElementById('connection').dataset.state,
  samples: Number(document.getElementById('samples').textContent),
  nodes: rows.map((r) => [r.dataset.node, r.dataset.state]),
  versions: [...document.querySelectorAll('#variables tr')].map(
      (r) => Number(r.dataset.version)),
  text: document.body.innerText,
};
"""


def wait_for(driver, what, holds, timeout):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = driver.run(PAGE_STATE)
        if holds(state):
            return state
        time.sleep(0.2)  # the poll interval; the page updates once a second
    raise RuntimeError(f"timed out waiting for {what}; page:\n"
                       + (state or {}).get("text", "(no page)"))


def check(arguments, driver):
    driver.open(arguments.url)
    state = wait_for(
        driver, f"{arguments.nodes} alive nodes",
        lambda s: s["live"] == "live" and len(s["nodes"]) == arguments.nodes
        and all(n[1] == "alive" for n in s["nodes"]) and s["versions"],
        60)
    first_version = max(state["versions"])
    first_samples = state["samples"]
    state = wait_for(
        driver, f"a version above {first_version}",
        lambda s: s["versions"] and max(s["versions"]) > first_version
        and s["samples"] > first_samples, 60)
    print(f"live: {arguments.nodes} nodes alive, version "
          f"{first_version} -> {max(state['versions'])}, "
          f"{state['samples']} updates")
    driver.screenshot(arguments.screenshot)
    if arguments.kill_pid:
        os.kill(arguments.kill_pid, signal.SIGKILL)
        wait_for(driver, f"node {arguments.lost_node} lost",
                 lambda s: [arguments.lost_node, "lost"] in s["nodes"], 60)
        print(f"lost: {arguments.lost_node} shown lost")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--kill-pid", type=int)
    parser.add_argument("--lost-node")
    arguments = parser.parse_args()
    if bool(arguments.kill_pid) != bool(arguments.lost_node):
        parser.error("--kill-pid and --lost-node go together")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="varsync-chromium-") as profile:
        service = subprocess.Popen(
            [CHROMEDRIVER, f"--port={port}", "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        driver = WebDriver(port)
        try:
            deadline = time.monotonic() + 30
            while True:  # until chromedriver answers
                try:
                    driver.call("GET", "/status", timeout=5)
                    break
                except (urllib.error.URLError, ConnectionError, OSError):
                    if time.monotonic() > deadline:
                        raise RuntimeError("chromedriver did not start")
                    time.sleep(0.1)
            driver.start(profile)
            check(arguments, driver)
            return 0
        except Exception as error:  # report, do not trace back
            print(f"dashboard_check: {error}", file=sys.stderr)
            return 1
        finally:
            driver.stop()
            service.terminate()
            try:
                service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.kill()


if __name__ == "__main__":
    sys.exit(main())
