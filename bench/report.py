#!/usr/bin/env python3
"""Turns the RESULT lines bench/run collected into one markdown table (on
stdout) and the same rows as JSON.

Input: one line per result, "LABEL rep=N key=value ...", LABEL one of
varsync, varsync_sharded (--shards P), varsync_separate_seed (the seed in
its own process), varsync_caf (bulk plane off), varsync_tls (mutual TLS)
and varsync_unauthenticated (the main before authentication) from
bench/cluster_step,
mpi_tcp / mpi_shm (bench/mpi/allreduce) and
local (bench/local_ops). Each figure is the median over the reps of the
per-launch medians; the table shows "median (min-max)" when there were
several reps. ratio = varsync median / peer median (above 1: varsync is
slower). algbw = bytes / time (GB/s = 1e9 B/s); for local reads and adds
the last column is the rate per thread instead (Mop/s = 1e6 operations/s).

Usage: report.py [--mode M] [--reps N] [--seconds S] RAW_FILE JSON_FILE
"""

import argparse
import datetime
import json
import os
import platform
import statistics
from collections import defaultdict

# Local operations: op -> (what varsync does, its peer, the extra peer).
LOCAL_CASES = {
    "read_on_write": ("read of an on_write f64 scalar",
                      "atomic_shared_ptr", "atomic_double"),
    "read_on_read": ("read of an on_read f64 scalar",
                     "atomic_shared_ptr", "atomic_double"),
    "add_on_read": ("on_read assign_add", "mutex_add", None),
    "on_write_step": ("in-process on_write step", "barrier_allreduce", None),
    "cross_read": ("cross-replica read (a host call)", "thread_handoff", None),
}
# Our network labels, in table order (see bench/run).
OURS = ("varsync", "varsync_sharded", "varsync_separate_seed", "varsync_caf",
        "varsync_tls")
# Labels whose rows say which transport they used.
TRANSPORT_NOTE = {"varsync_caf": ", bulk plane off",
                  "varsync_tls": ", mutual TLS"}
PEER_NAMES = {
    "atomic_shared_ptr": "atomic<shared_ptr> load",
    "atomic_double": "atomic<double> load",
    "mutex_add": "mutex-protected add",
    "barrier_allreduce": "std::barrier all-reduce",
    "thread_handoff": "request to a server thread (mutex + condvar + future)",
}


def parse(path):
    """Every line as a dict of its fields, with the label as 'label'."""
    rows = []
    with open(path) as lines:
        for line in lines:
            label, *fields = line.split()
            row = {"label": label}
            for field in fields:
                key, _, value = field.partition("=")
                row[key] = value
            rows.append(row)
    return rows


def human_size(size):
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    if size >= 1 << 10:
        return f"{size >> 10} KiB"
    return f"{size} B"


def number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if value != value else value  # nan -> None


def summary(values):
    """median, min, max of the values that are numbers (None if none)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "runs": values}


def shown(stat, digits):
    if stat is None:
        return "-"
    text = f"{stat['median']:.{digits}f}"
    if len(stat["runs"]) > 1:
        text += f" ({stat['min']:.{digits}f}-{stat['max']:.{digits}f})"
    return text


def digits_for(value):
    return 0 if value >= 1000 else 1 if value >= 10 else 2


def network_rows(rows):
    """on_write step across processes vs MPI_Allreduce, one row per P and
    size."""
    runs = defaultdict(list)   # (label, np, bytes) -> [us or None]
    ok = defaultdict(lambda: True)
    status = defaultdict(set)
    shards = {}                # (label, np) -> shard count
    for row in rows:
        if row["label"] not in OURS + ("mpi_tcp", "mpi_shm"):
            continue
        key = (row["label"], int(row["np"]), int(row["bytes"]))
        runs[key].append(number(row.get("med_us")))
        ok[key] = ok[key] and row.get("ok") in ("1", "na")
        status[key].add(row.get("status", "ok"))
        shards[key[:2]] = int(row.get("shards", "1"))
    result = []
    ours_keys = sorted((k for k in runs if k[0] in OURS),
                       key=lambda k: (k[1], k[2], OURS.index(k[0])))
    for label, np, size in ours_keys:
        ours = summary(runs[(label, np, size)])
        tcp = summary(runs.get(("mpi_tcp", np, size), []))
        shm = summary(runs.get(("mpi_shm", np, size), []))
        statuses = sorted(status[(label, np, size)])
        count = shards.get((label, np), 1)
        case = f"on_write step P={np} {human_size(size)}"
        if count > 1:
            case += f", {count} shards"
        if label == "varsync_separate_seed":
            case += ", separate seed"
        case += TRANSPORT_NOTE.get(label, "")
        ratio = ours["median"] / tcp["median"] if ours and tcp else None
        bandwidth = {
            "unit": "GB/s",
            "varsync": size / ours["median"] / 1e3 if ours else None,
            "peer": size / tcp["median"] / 1e3 if tcp else None,
        }
        result.append({
            "kind": "network",
            "case": case,
            "np": np, "bytes": size, "shards": count, "unit": "us",
            "varsync": ours, "peer_name": "MPI_Allreduce tcp", "peer": tcp,
            "extra_name": "MPI_Allreduce shm", "extra": shm,
            "ratio": ratio, "speed": bandwidth,
            "ok": all(ok[(name, np, size)]
                      for name in (label, "mpi_tcp", "mpi_shm")
                      if (name, np, size) in runs),
            "status": ",".join(statuses),
        })
    return result


def security_rows(rows):
    """What security costs: the default (authenticated) step and the step
    over mutual TLS, each against the unauthenticated step of the main
    before authentication in the same run; the TLS row's extra column is
    the authenticated step. Without a baseline the TLS row compares with
    the authenticated step."""
    labels = ("varsync", "varsync_tls", "varsync_unauthenticated")
    runs = defaultdict(list)
    for row in rows:
        if row["label"] in labels:
            runs[(row["label"], int(row["np"]), int(row["bytes"]))].append(
                number(row.get("med_us")))
    result = []
    cases = sorted({(np, size) for (label, np, size) in runs
                    if label == "varsync_tls"})
    for np, size in cases:
        plain = summary(runs.get(("varsync", np, size), []))
        tls = summary(runs.get(("varsync_tls", np, size), []))
        base = summary(runs.get(("varsync_unauthenticated", np, size), []))
        compared = []
        if base:
            compared.append(("authenticated", plain, "unauthenticated (before "
                             "authentication)", base, None, None))
            compared.append(("over mutual TLS", tls, "unauthenticated (before "
                             "authentication)", base, "authenticated", plain))
        else:
            compared.append(("over mutual TLS", tls, "authenticated", plain,
                             None, None))
        for what, ours, peer_name, peer, extra_name, extra in compared:
            result.append({
                "kind": "security",
                "case": f"on_write step P={np} {human_size(size)} {what}",
                "np": np, "bytes": size, "shards": 1, "unit": "us",
                "varsync": ours, "peer_name": peer_name, "peer": peer,
                "extra_name": extra_name, "extra": extra,
                "ratio": ours["median"] / peer["median"] if ours and peer
                else None,
                "speed": {"unit": "GB/s",
                          "varsync": size / ours["median"] / 1e3 if ours
                          else None,
                          "peer": size / peer["median"] / 1e3 if peer
                          else None},
                "ok": True, "status": "ok",
            })
    return result


def speed(op, size, per_second, ours, peer):
    """algbw of a step (GB/s), the rate per thread of other operations."""
    if op == "on_write_step":
        # medians are in us here
        return {"unit": "GB/s",
                "varsync": size / ours["median"] / 1e3 if ours else None,
                "peer": size / peer["median"] / 1e3 if peer else None}
    return {"unit": "Mop/s per thread",
            "varsync": per_second / ours["median"] / 1e6 if ours else None,
            "peer": per_second / peer["median"] / 1e6 if peer else None}


def local_rows(rows):
    """Local operations vs their peers, one row per operation, thread count
    and size."""
    runs = defaultdict(list)   # (op, threads, bytes, impl) -> [ns]
    ok = defaultdict(lambda: True)
    for row in rows:
        if row["label"] != "local":
            continue
        key = (row["op"], int(row["threads"]), int(row["bytes"]), row["impl"])
        runs[key].append(number(row.get("ns_per_op")))
        ok[key] = ok[key] and row.get("ok") == "1"
    result = []
    cases = sorted({k[:3] for k in runs},
                   key=lambda k: (list(LOCAL_CASES).index(k[0]), k[1], k[2]))
    for op, threads, size in cases:
        what, peer_impl, extra_impl = LOCAL_CASES[op]
        ours = summary(runs[(op, threads, size, "varsync")])
        peer = summary(runs.get((op, threads, size, peer_impl), []))
        extra = (summary(runs.get((op, threads, size, extra_impl), []))
                 if extra_impl else None)
        # Steps read better in microseconds.
        scale = 1e-3 if op == "on_write_step" else 1.0
        for stat in (ours, peer, extra):
            if stat:
                for key in ("median", "min", "max"):
                    stat[key] *= scale
                stat["runs"] = [v * scale for v in stat["runs"]]
        per_second = 1e9 * scale
        if op == "on_write_step":
            label = f"{what} R={threads} {human_size(size)}"
        else:
            label = f"{what}, {threads} thread{'s' if threads > 1 else ''}"
        result.append({
            "kind": "local", "case": label, "op": op, "threads": threads,
            "bytes": size, "unit": "us" if op == "on_write_step" else "ns",
            "varsync": ours, "peer_name": PEER_NAMES[peer_impl], "peer": peer,
            "extra_name": PEER_NAMES.get(extra_impl), "extra": extra,
            "ratio": ours["median"] / peer["median"] if ours and peer else None,
            "speed": speed(op, size, per_second, ours, peer),
            "ok": all(ok[(op, threads, size, impl)]
                      for impl in ("varsync", peer_impl, extra_impl)
                      if (op, threads, size, impl) in runs),
            "status": "ok",
        })
    return result


def print_table(table):
    print("| case | peer (extra) | unit | varsync | peer | ratio | extra "
          "| algbw GB/s or rate Mop/s per thread (varsync / peer) | ok |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in table:
        reference = row["varsync"] or row["peer"]
        digits = digits_for(reference["median"]) if reference else 1
        peers = row["peer_name"] + (f" ({row['extra_name']})"
                                    if row["extra_name"] else "")
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
        rates = row["speed"]
        speed_text = " / ".join(
            f"{rates[who]:.3g}" if rates[who] else "-"
            for who in ("varsync", "peer")) + " " + rates["unit"].split()[0]
        varsync = shown(row["varsync"], digits)
        if row["status"] != "ok":
            varsync = f"{row['status']}" if not row["varsync"] else (
                f"{varsync} [{row['status']}]")
        print(f"| {row['case']} | {peers} | {row['unit']} | {varsync} "
              f"| {shown(row['peer'], digits)} | {ratio} "
              f"| {shown(row['extra'], digits)} | {speed_text} "
              f"| {'yes' if row['ok'] else 'NO'} |")


def straggler_rows(rows):
    """Time to the target loss per (scenario, policy): median over reps,
    and the speed-up over s = 0 of the same run (median over reps)."""
    seconds = defaultdict(list)
    speedups = defaultdict(list)
    for row in rows:
        if row["label"] != "stragglers" or row.get("seconds") in (
                None, "not_reached"):
            continue
        key = (row["scenario"], row["policy"])
        seconds[key].append(float(row["seconds"]))
        speedups[key].append(float(row["speedup_vs_s0"]))
    return [{"kind": "stragglers", "scenario": scenario, "policy": policy,
             "seconds": statistics.median(seconds[(scenario, policy)]),
             "speedup_vs_s0": statistics.median(speedups[(scenario, policy)]),
             "reps": len(seconds[(scenario, policy)])}
            for (scenario, policy) in sorted(seconds)]


def print_stragglers(table):
    if not table:
        return
    print("\n| stragglers scenario | policy | time to target loss s | "
          "speed-up vs s=0 (same run) |")
    print("|---|---|---|---|")
    for row in table:
        print(f"| {row['scenario']} | {row['policy']} | {row['seconds']:.3f} "
              f"| {row['speedup_vs_s0']:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="full")
    parser.add_argument("--reps", type=int, default=0)
    parser.add_argument("--seconds", type=int, default=0)
    parser.add_argument("raw")
    parser.add_argument("json")
    args = parser.parse_args()

    rows = parse(args.raw)
    table = network_rows(rows) + security_rows(rows) + local_rows(rows)
    print_table(table)
    stragglers = straggler_rows(rows)
    print_stragglers(stragglers)
    with open("/proc/loadavg") as load:
        loadavg = " ".join(load.read().split()[:3])
    document = {
        "mode": args.mode, "reps": args.reps, "seconds": args.seconds,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                 "load_at_end": loadavg},
        "rows": table,
        "stragglers": stragglers,
    }
    with open(args.json, "w") as out:
        json.dump(document, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
