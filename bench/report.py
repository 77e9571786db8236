#!/usr/bin/env python3
"""Turns the RESULT lines bench/run collected into one markdown table (on
stdout) and the same rows as JSON.

Input: one line per result, "LABEL rep=N key=value ...", LABEL one of
varsync (pinned one process per core when P <= CPUs), varsync_unpinned,
varsync_sharded (--auto-shards: the library's automatic sharding),
varsync_separate_seed (the seed in
its own process), varsync_caf (bulk plane off), varsync_tls (mutual TLS)
and varsync_unauthenticated (the main before authentication) from
bench/cluster_step,
mpi_tcp / mpi_shm (bench/mpi/allreduce) and
local (bench/local_ops). Each figure is the median over the reps of the
per-launch medians; the table shows "median (min-max)" when there were
several reps. ratio = varsync median / peer median (above 1: varsync is
slower). algbw = bytes / time (GB/s = 1e9 B/s); for local reads and adds
the last column is the rate per thread instead (Mop/s = 1e6 operations/s).

Discipline (shared/DEVELOPERS.md): a row is "noisy" when the 1-minute
load at the start of the run exceeded 0.5 (--load-at-start, the line
bench/run prints) or, for rows against MPI, MPI's own reps differ by more
than 15% of their median (the spread column). The targets table judges
the project's stated targets from these rows: "met" only when the ratio is
within the target and the row is not noisy; "missed by F" (the factor over
the target) otherwise, "(noisy)" added when it was.

Usage: report.py [--mode M] [--reps N] [--seconds S]
                 [--load-at-start "L1 L5 L15"] RAW_FILE JSON_FILE
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
OURS = ("varsync", "varsync_unpinned", "varsync_sharded",
        "varsync_separate_seed", "varsync_caf", "varsync_tls")
# Labels whose rows say which transport they used.
TRANSPORT_NOTE = {"varsync_caf": ", bulk plane off",
                  "varsync_tls": ", mutual TLS",
                  "varsync_unpinned": ", not pinned"}
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


# Noise limits (see the docstring).
QUIET_LOAD = 0.5
PEER_SPREAD = 0.15

# The stated targets, as (issue, what, kind, case, ratio at most). `case` is
# the row's case text; a target whose row was not measured is "not
# measured". The sharded targets are judged on the rows of the library's
# automatic sharding (variable_options::shards = 0, label varsync_sharded).
TARGETS = [
    (11, "P=2 8 B on_write step <= 10x MPI_Allreduce tcp", "network",
     "on_write step P=2 8 B", 10.0),
    (11, "in-process R=4 8 B step <= 2.0x std::barrier", "local",
     "in-process on_write step R=4 8 B", 2.0),
    (15, "P=2 1 MiB <= 1.0x MPI (automatic sharding)", "network",
     "on_write step P=2 1 MiB, 2 shards (automatic)", 1.0),
    (15, "P=2 16 MiB <= 0.8x MPI (automatic sharding)", "network",
     "on_write step P=2 16 MiB, 2 shards (automatic)", 0.8),
    (15, "P=2 64 MiB <= 0.8x MPI (automatic sharding)", "network",
     "on_write step P=2 64 MiB, 2 shards (automatic)", 0.8),
    (15, "P=4 16 MiB <= 0.8x MPI (automatic sharding)", "network",
     "on_write step P=4 16 MiB, 4 shards (automatic)", 0.8),
    (15, "P=4 64 MiB <= 0.8x MPI (automatic sharding)", "network",
     "on_write step P=4 64 MiB, 4 shards (automatic)", 0.8),
    (15, "P=2 1%-of-rows step of a 1M x 64 f32 table >= 20x faster than "
     "its dense step", "rows",
     "on_write row step P=2 256 MiB table, 1% of rows", 0.05),
]


def spread(stat):
    """(max - min) / median of a summary's runs, or None."""
    if not stat or len(stat["runs"]) < 2 or not stat["median"]:
        return None
    return (stat["max"] - stat["min"]) / stat["median"]


def mark_noise(table, load1):
    """Sets each row's 'peer_spread' and 'noisy' (see the docstring)."""
    loaded = load1 is not None and load1 > QUIET_LOAD
    for row in table:
        row["peer_spread"] = spread(row.get("peer"))
        noisy_peer = (row["kind"] == "network" and
                      row["peer_spread"] is not None and
                      row["peer_spread"] > PEER_SPREAD)
        row["noisy"] = loaded or noisy_peer


def judge_targets(table):
    """The TARGETS, each with its row's ratio and a verdict."""
    by_case = {(row["kind"], row["case"]): row for row in table}
    result = []
    for issue, what, kind, case, limit in TARGETS:
        row = by_case.get((kind, case))
        ratio = row["ratio"] if row else None
        if ratio is None:
            verdict = "not measured"
        elif ratio <= limit and not row["noisy"]:
            verdict = "met"
        elif ratio <= limit:
            verdict = "within, but noisy: not met"
        else:
            verdict = f"missed by {ratio / limit:.2f}x" + (
                " (noisy)" if row["noisy"] else "")
        result.append({"issue": issue, "target": what, "case": case,
                       "limit": limit, "ratio": ratio, "verdict": verdict,
                       "noisy": bool(row and row["noisy"])})
    return result


def print_targets(targets, load_at_start):
    print(f"\nTargets (load at start: {load_at_start or 'unknown'}; noisy: "
          f"1-minute load > {QUIET_LOAD} or MPI's reps spread > "
          f"{PEER_SPREAD:.0%}):\n")
    print("| issue | target | ratio | verdict |")
    print("|---|---|---|---|")
    for target in targets:
        ratio = f"{target['ratio']:.2f}x" if target["ratio"] else "-"
        print(f"| {target['issue']} | {target['target']} | {ratio} "
              f"| {target['verdict']} |")


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
    sent = defaultdict(list)   # (label, np, bytes) -> [bytes per node step]
    copies = defaultdict(list)  # (label, np, bytes) -> [copies per node step]
    ring = {}                  # (np, bytes) -> ring optimum bytes
    for row in rows:
        if row["label"] not in OURS + ("mpi_tcp", "mpi_shm"):
            continue
        key = (row["label"], int(row["np"]), int(row["bytes"]))
        runs[key].append(number(row.get("med_us")))
        ok[key] = ok[key] and row.get("ok") in ("1", "na")
        status[key].add(row.get("status", "ok"))
        shards[key[:2]] = int(row.get("shards", "1"))
        if number(row.get("node_bytes_per_step")) is not None:
            sent[key].append(number(row["node_bytes_per_step"]))
            ring[key[1:]] = number(row.get("ring_optimum_bytes"))
        copied = number(row.get("node_copies_per_step"))
        if copied is not None and copied >= 0:
            copies[key].append(copied)
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
            if label == "varsync_sharded":
                case += " (automatic)"
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
            "node_bytes_per_step": summary(sent.get((label, np, size), [])),
            "ring_optimum_bytes": ring.get((np, size)),
            "node_copies_per_step": summary(copies.get((label, np, size), [])),
            "ok": all(ok[(name, np, size)]
                      for name in (label, "mpi_tcp", "mpi_shm")
                      if (name, np, size) in runs),
            "status": ",".join(statuses),
        })
    return result


def row_step_rows(rows):
    """on_write row steps (assign_add_rows of a share of a [n, 64] table's
    rows) against the dense step of the same table, both across P
    processes in the same run (labels varsync_rows, varsync_dense_table)."""
    runs = defaultdict(list)   # (label, np, bytes, percent) -> [us]
    ok = defaultdict(lambda: True)
    sent = defaultdict(list)
    for row in rows:
        if row["label"] not in ("varsync_rows", "varsync_dense_table"):
            continue
        percent = row.get("rows_percent") if row["label"] == "varsync_rows" \
            else None
        key = (row["label"], int(row["np"]), int(row["bytes"]), percent)
        runs[key].append(number(row.get("med_us")))
        ok[key] = ok[key] and row.get("ok") in ("1", "na")
        if number(row.get("node_bytes_per_step")) is not None:
            sent[key].append(number(row["node_bytes_per_step"]))
    result = []
    for key in sorted(k for k in runs if k[0] == "varsync_rows"):
        _, np, size, percent = key
        dense_key = ("varsync_dense_table", np, size, None)
        ours = summary(runs[key])
        dense = summary(runs.get(dense_key, []))
        result.append({
            "kind": "rows",
            "case": f"on_write row step P={np} {human_size(size)} table, "
                    f"{percent}% of rows",
            "np": np, "bytes": size, "unit": "us",
            "varsync": ours, "peer_name": "dense step of the same table",
            "peer": dense, "extra_name": None, "extra": None,
            "ratio": ours["median"] / dense["median"]
            if ours and dense else None,
            "speed": {"unit": "GB/s", "varsync": None, "peer": None},
            "node_bytes_per_step": summary(sent.get(key, [])),
            "ring_optimum_bytes": None,
            "node_copies_per_step": None,
            "ok": ok[key] and ok[dense_key],
            "status": "ok",
        })
    return result


def security_rows(rows):
    """What security costs: the default (authenticated) step and the step
    over mutual TLS, each against the unauthenticated step of the main
    before authentication in the same run; the TLS row's extra column is
    the authenticated step. Without a baseline the TLS row compares with
    the authenticated step."""
    labels = ("varsync", "varsync_unpinned", "varsync_tls",
              "varsync_unauthenticated")
    runs = defaultdict(list)
    for row in rows:
        if row["label"] in labels:
            runs[(row["label"], int(row["np"]), int(row["bytes"]))].append(
                number(row.get("med_us")))
    result = []
    cases = sorted({(np, size) for (label, np, size) in runs
                    if label == "varsync_tls"})
    for np, size in cases:
        # Not pinned, like the TLS and baseline rows (when measured).
        plain = summary(runs.get(("varsync_unpinned", np, size), [])
                        or runs.get(("varsync", np, size), []))
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
    print("| case | peer (extra) | unit | varsync | peer | peer spread "
          "| ratio | extra "
          "| algbw GB/s or rate Mop/s per thread (varsync / peer) | ok |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in table:
        reference = row["varsync"] or row["peer"]
        digits = digits_for(reference["median"]) if reference else 1
        peers = row["peer_name"] + (f" ({row['extra_name']})"
                                    if row["extra_name"] else "")
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
        if row["noisy"] and row["ratio"]:
            ratio += " noisy"
        peer_spread = (f"{row['peer_spread']:.0%}"
                       if row["peer_spread"] is not None else "-")
        rates = row["speed"]
        speed_text = " / ".join(
            f"{rates[who]:.3g}" if rates[who] else "-"
            for who in ("varsync", "peer")) + " " + rates["unit"].split()[0]
        varsync = shown(row["varsync"], digits)
        if row["status"] != "ok":
            varsync = f"{row['status']}" if not row["varsync"] else (
                f"{varsync} [{row['status']}]")
        print(f"| {row['case']} | {peers} | {row['unit']} | {varsync} "
              f"| {shown(row['peer'], digits)} | {peer_spread} | {ratio} "
              f"| {shown(row['extra'], digits)} | {speed_text} "
              f"| {'yes' if row['ok'] else 'NO'} |")


def print_bytes(table):
    """Bytes the busiest node sent per step against the ring optimum
    2(P-1)/P x N, for the steps of at least 1 MiB."""
    rows = [row for row in table if row["kind"] == "network" and
            row["bytes"] >= 1 << 20 and row.get("node_bytes_per_step") and
            row.get("ring_optimum_bytes")]
    if not rows:
        return
    print("\n| case | bytes sent per step by the busiest node | ring optimum "
          "2(P-1)/P x N | ratio | user-space copies per step (whole "
          "tensors, busiest node) |")
    print("|---|---|---|---|---|")
    for row in rows:
        sent = row["node_bytes_per_step"]["median"]
        copied = row.get("node_copies_per_step")
        copied_text = f"{copied['median']:.3f}" if copied else "-"
        print(f"| {row['case']} | {sent / 2**20:.2f} MiB "
              f"| {row['ring_optimum_bytes'] / 2**20:.2f} MiB "
              f"| {sent / row['ring_optimum_bytes']:.2f}x | {copied_text} |")


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
    parser.add_argument("--load-at-start", default="")
    parser.add_argument("raw")
    parser.add_argument("json")
    args = parser.parse_args()

    rows = parse(args.raw)
    table = (network_rows(rows) + row_step_rows(rows) + security_rows(rows)
             + local_rows(rows))
    load1 = number(args.load_at_start.split()[0]) if args.load_at_start \
        else None
    mark_noise(table, load1)
    print_table(table)
    print_bytes(table)
    stragglers = straggler_rows(rows)
    print_stragglers(stragglers)
    targets = judge_targets(table)
    print_targets(targets, args.load_at_start)
    with open("/proc/loadavg") as load:
        loadavg = " ".join(load.read().split()[:3])
    document = {
        "mode": args.mode, "reps": args.reps, "seconds": args.seconds,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                 "load_at_start": args.load_at_start,
                 "load_at_end": loadavg},
        "rows": table,
        "targets": targets,
        "stragglers": stragglers,
    }
    with open(args.json, "w") as out:
        json.dump(document, out, indent=1)
        out.write("\n")


if __name__ == "__main__":
    main()
