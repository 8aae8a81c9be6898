#!/usr/bin/env python3
"""Load run against one berthd: many clients at once, for minutes, checking
every answer, while berthd's RSS is sampled to see whether it stays flat.

    python3 bench/load.py --host unix:///tmp/x/berth.sock --pid PID \
        [--clients 50] [--duration 600] [--image busybox:latest]

bench/load.sh builds, starts a private daemon and cleans up around this.
Against a private dockerd (no bridge) add --network none: the same checks
hold there, which is how they were checked. Exits non-zero on any wrong
answer or when RSS grows more than --max-growth %.

Each client is a thread with its own connection pool (the point is to load
the daemon, so the generator stays threads in one process). A client loops:
  long:  run -d, exec (output, exit code), logs, inspect, list,
         then stop / kill / nothing in turn, wait, rm -f, inspect -> 404
  short: create, start, wait (exit code), logs, rm; every other time with
         AutoRemove and wait?condition=removed instead, as `run --rm` does.
"""
import argparse
import collections
import os
import sys
import threading
import time
import traceback

import docker
from docker.errors import APIError, NotFound

KEEP_ERRORS = 20
# Output of a container appears in its log a little after start returns;
# an answer still missing after this long is an error, not a race.
LOG_PATIENCE = 15.0


class Tally:
    """Counters shared by all clients; one lock, held only to add."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = collections.Counter()
        self.errors = collections.Counter()
        self.first_errors = []
        self.latency = collections.defaultdict(float)

    def op(self, kind, seconds):
        with self.lock:
            self.ops[kind] += 1
            self.latency[kind] += seconds

    def error(self, kind, msg):
        with self.lock:
            self.errors[kind] += 1
            if len(self.first_errors) < KEEP_ERRORS:
                self.first_errors.append(f"{time.strftime('%H:%M:%S')} [{kind}] {msg}")


class Wrong(Exception):
    """An answer that came back without an HTTP error but is not the right one."""


class Client(threading.Thread):
    def __init__(self, idx, args, api_version, tally, stop_at):
        super().__init__(name=f"client-{idx}", daemon=True)
        self.idx = idx
        self.args = args
        self.tally = tally
        self.stop_at = stop_at
        self.prefix = f"load{os.getpid()}-{idx}-"
        self.made = set()
        self.dc = docker.DockerClient(base_url=args.host, version=api_version, timeout=args.timeout)

    def timed(self, kind, fn, *a, **kw):
        t0 = time.monotonic()
        try:
            return fn(*a, **kw)
        finally:
            self.tally.op(kind, time.monotonic() - t0)

    def run(self):
        n = 0
        while time.monotonic() < self.stop_at:
            for kind, body in (("long", self.long_life), ("short", self.short_life)):
                name = f"{self.prefix}{n}-{kind}"
                try:
                    body(name, n)
                except (APIError, Wrong) as e:
                    self.tally.error(kind, f"{name}: {type(e).__name__}: {e}")
                except Exception as e:  # timeouts, broken connections: also the daemon's answer
                    self.tally.error(kind, f"{name}: {type(e).__name__}: {e}")
                finally:
                    self.remove(name)
            n += 1
        self.dc.close()

    def remove(self, name):
        if name not in self.made:
            return
        try:
            self.dc.api.remove_container(name, force=True)
        except NotFound:
            pass
        except Exception as e:
            self.tally.error("cleanup", f"{name}: rm -f: {e}")
            return
        self.made.discard(name)

    def logs_with(self, c, want, **kw):
        """Logs until every line of `want` is in them, within LOG_PATIENCE."""
        give_up = time.monotonic() + LOG_PATIENCE
        while True:
            out = self.timed("logs", c.logs, **kw).decode(errors="replace")
            lines = out.splitlines()
            if all(w in lines for w in want):
                return lines
            if time.monotonic() > give_up:
                raise Wrong(f"logs {kw}: want lines {want}, got {out!r}")
            time.sleep(0.2)

    def long_life(self, name, n):
        api = self.dc.api
        script = (f"trap 'echo bye-{name}; exit 0' TERM; "
                  f"echo hello-{name}; echo oops-{name} >&2; sleep 600 & wait")
        self.made.add(name)
        c = self.timed("run", self.dc.containers.run, self.args.image,
                       ["sh", "-c", script], name=name, detach=True,
                       network_mode=self.args.network)

        code = 3 if n % 2 else 0
        r = self.timed("exec", c.exec_run,
                       ["sh", "-c", f"echo out-{n}; echo err-{n} >&2; exit {code}"], demux=True)
        if r.exit_code != code or r.output != (f"out-{n}\n".encode(), f"err-{n}\n".encode()):
            raise Wrong(f"exec: want exit {code} and (out-{n}, err-{n}), got {r.exit_code} {r.output!r}")

        # Both lines printed after the trap is set, so a stop now finds it.
        self.logs_with(c, [f"hello-{name}", f"oops-{name}"], stdout=True, stderr=True)
        lines = self.logs_with(c, [f"hello-{name}"], stdout=True, stderr=False)
        if f"oops-{name}" in lines:
            raise Wrong(f"logs stdout only: stderr line in {lines}")

        info = self.timed("inspect", api.inspect_container, name)
        if (info["Name"] != "/" + name or not info["State"]["Running"]
                or info["Id"] != c.id or info["Config"]["Cmd"] != ["sh", "-c", script]):
            raise Wrong(f"inspect: Name {info['Name']} State {info['State']} Id {info['Id']}")

        listed = self.timed("list", api.containers, filters={"name": name})
        if [x["Id"] for x in listed] != [c.id]:
            raise Wrong(f"list name={name}: want [{c.id}], got {[x['Id'] for x in listed]}")
        self.timed("list", api.containers, all=(n % 2 == 0))

        way = n % 3
        if way == 0:
            self.timed("stop", api.stop, name, timeout=10)
            want = 0
        elif way == 1:
            self.timed("kill", api.kill, name)
            want = 137
        if way != 2:
            got = self.timed("wait", api.wait, name)["StatusCode"]
            if got != want:
                raise Wrong(f"wait after {'stop' if way == 0 else 'kill'}: want {want}, got {got}")
            state = self.timed("inspect", api.inspect_container, name)["State"]
            if state["Running"] or state["Status"] != "exited" or state["ExitCode"] != want:
                raise Wrong(f"inspect after exit: {state}")
            if way == 0:
                self.logs_with(c, [f"bye-{name}"], stdout=True, stderr=False)

        self.timed("rm", api.remove_container, name, force=True)
        self.made.discard(name)
        try:
            self.timed("inspect", api.inspect_container, name)
        except NotFound:
            return
        raise Wrong("inspect after rm -f: still there")

    def short_life(self, name, n):
        api = self.dc.api
        code = n % 5
        auto = n % 2 == 1
        self.made.add(name)
        cid = self.timed("create", api.create_container, self.args.image,
                         ["sh", "-c", f"echo short-{n}; exit {code}"], name=name,
                         host_config=api.create_host_config(auto_remove=auto,
                                                            network_mode=self.args.network))["Id"]
        if auto:
            # The CLI's `run --rm`: the wait for removal is in place before
            # start (its headers come back at once, the body at the end).
            t0 = time.monotonic()
            resp = api._post(api._url("/containers/{0}/wait", cid),
                             params={"condition": "removed"}, stream=True)
            api._raise_for_status(resp)
            self.timed("start", api.start, cid)
            got = resp.json()["StatusCode"]
            self.tally.op("wait", time.monotonic() - t0)
            if got != code:
                raise Wrong(f"wait?condition=removed: want {code}, got {got}")
            try:
                self.timed("inspect", api.inspect_container, cid)
            except NotFound:
                self.made.discard(name)
                return
            raise Wrong("inspect after AutoRemove: still there")

        self.timed("start", api.start, cid)
        got = self.timed("wait", api.wait, cid)["StatusCode"]
        if got != code:
            raise Wrong(f"wait: want {code}, got {got}")
        out = self.timed("logs", api.logs, cid).decode(errors="replace")
        if out != f"short-{n}\n":
            raise Wrong(f"logs of exited: want 'short-{n}\\n', got {out!r}")
        self.timed("rm", api.remove_container, cid)
        self.made.discard(name)


class Sampler(threading.Thread):
    def __init__(self, pid, interval):
        super().__init__(name="rss", daemon=True)
        self.pid, self.interval = pid, interval
        self.samples = []  # (seconds since start, kB)
        self.t0 = time.monotonic()
        self.done = threading.Event()
        self.lost = False

    def read(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            self.lost = True
        return None

    def run(self):
        while not self.done.is_set():
            kb = self.read()
            if kb is not None:
                self.samples.append((time.monotonic() - self.t0, kb))
            self.done.wait(self.interval)

    def at(self, t):
        """First sample at or after t seconds."""
        return next((s for s in self.samples if s[0] >= t), None)


def leftovers(dc, prefix):
    return dc.api.containers(all=True, filters={"name": prefix})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", required=True, help="unix:///path/to/berth.sock")
    p.add_argument("--pid", type=int, required=True, help="the daemon's pid, for its RSS")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=600, help="seconds")
    p.add_argument("--image", default="busybox:latest")
    p.add_argument("--network", help="network mode (a dockerd without a bridge needs none)")
    p.add_argument("--warmup", type=float, default=30, help="seconds before the start RSS")
    p.add_argument("--interval", type=float, default=5, help="seconds between RSS samples")
    p.add_argument("--max-growth", type=float, default=20, help="RSS growth allowed, %%")
    p.add_argument("--timeout", type=float, default=120, help="per request, seconds")
    args = p.parse_args()

    dc = docker.DockerClient(base_url=args.host, version="auto", timeout=args.timeout)
    version = dc.api.api_version
    dc.images.get(args.image)

    tally = Tally()
    sampler = Sampler(args.pid, args.interval)
    sampler.start()
    start = time.monotonic()
    clients = [Client(i, args, version, tally, start + args.duration) for i in range(args.clients)]
    for c in clients:
        c.start()
    last_report = start
    while any(c.is_alive() for c in clients):
        time.sleep(1)
        if time.monotonic() - last_report >= 60:
            last_report = time.monotonic()
            with tally.lock:
                ops, errs = sum(tally.ops.values()), sum(tally.errors.values())
            rss = sampler.samples[-1][1] if sampler.samples else 0
            print(f"  {last_report - start:5.0f} s  {ops} ops  {errs} errors  RSS {rss} kB", flush=True)
    loaded_for = time.monotonic() - start
    end_sample = sampler.samples[-1] if sampler.samples else None
    time.sleep(args.interval)
    sampler.done.set()
    sampler.join()
    idle = sampler.read()

    left = leftovers(dc, f"load{os.getpid()}-")
    for x in left:
        tally.error("leftover", f"{x['Names']} {x['State']}")
        try:
            dc.api.remove_container(x["Id"], force=True)
        except Exception as e:
            tally.error("leftover", f"rm -f {x['Id'][:12]}: {e}")
    if sampler.lost:
        tally.error("berthd", f"pid {args.pid} gone")

    print(f"\n{args.clients} clients, {loaded_for:.0f} s, image {args.image}, API {version}")
    print(f"{'operation':<10} {'count':>8} {'mean ms':>9}")
    for kind, count in sorted(tally.ops.items()):
        print(f"{kind:<10} {count:>8} {1000 * tally.latency[kind] / count:>9.1f}")
    total = sum(tally.ops.values())
    print(f"{'total':<10} {total:>8}  ({total / loaded_for:.1f}/s)")
    errors = sum(tally.errors.values())
    print(f"errors: {errors}" + (f" {dict(tally.errors)}" if errors else ""))
    for e in tally.first_errors:
        print("  " + e)

    first = sampler.at(args.warmup)
    growth = None
    if first and end_sample:
        peak = max(kb for _, kb in sampler.samples)
        growth = 100.0 * (end_sample[1] - first[1]) / first[1]
        print(f"daemon RSS: start {first[1]} kB (at {first[0]:.0f} s), end {end_sample[1]} kB "
              f"(at {end_sample[0]:.0f} s), max {peak} kB, change {growth:+.1f} %, "
              f"idle after {idle} kB; {len(sampler.samples)} samples")
    else:
        print("daemon RSS: too few samples (duration shorter than warm-up?)")

    failed = errors > 0 or growth is None or growth > args.max_growth
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        traceback.print_exc()
        sys.exit(130)
