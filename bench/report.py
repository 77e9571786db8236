#!/usr/bin/env python3
"""Turns the RESULT lines collected by bench/run into one markdown table and
a JSON file. Each figure is the median over the reps of that figure; ratios
are varsync / peer of those medians (lower is better for times)."""

import json
import statistics
import sys
from collections import defaultdict


def parse(path):
    rows = []
    with open(path) as lines:
        for line in lines:
            label, *fields = line.split()
            entry = {"label": label}
            for field in fields:
                key, _, value = field.partition("=")
                entry[key] = value
            rows.append(entry)
    return rows


def human(size):
    size = int(size)
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    if size >= 1 << 10:
        return f"{size >> 10} KiB"
    return f"{size} B"


def main(raw_path, json_path):
    rows = parse(raw_path)
    times = defaultdict(list)   # (label, np, bytes) -> [us]
    ok = defaultdict(lambda: True)
    stragglers = defaultdict(list)  # (scenario, policy) -> [seconds]
    for row in rows:
        if row["label"] == "stragglers":
            if row.get("seconds", "not_reached") != "not_reached":
                stragglers[(row["scenario"], row["policy"])].append(
                    float(row["seconds"]))
            continue
        key = (row["label"], int(row["np"]), int(row["bytes"]))
        times[key].append(float(row["med_us"]))
        ok[key] = ok[key] and row.get("ok") == "1"

    report = []
    print("\n## on_write step vs MPI_Allreduce (median us per step; ratio = "
          "varsync / MPI over TCP)\n")
    print("| P | size | varsync | MPI tcp | ratio | MPI shm | varsync algbw "
          "GB/s | correct |")
    print("|---|---|---|---|---|---|---|---|")
    for (label, np, size) in sorted(k for k in times if k[0] == "varsync"):
        ours = statistics.median(times[(label, np, size)])
        tcp = times.get(("mpi_tcp", np, size))
        shm = times.get(("mpi_shm", np, size))
        tcp_med = statistics.median(tcp) if tcp else None
        shm_med = statistics.median(shm) if shm else None
        ratio = ours / tcp_med if tcp_med else None
        correct = ok[(label, np, size)] and ok[("mpi_tcp", np, size)]
        algbw = size / (ours * 1e-6) / 1e9
        report.append({"kind": "network_step", "np": np, "bytes": size,
                       "varsync_us": ours, "mpi_tcp_us": tcp_med,
                       "mpi_shm_us": shm_med, "ratio_vs_mpi_tcp": ratio,
                       "varsync_algbw_gbs": algbw, "correct": correct,
                       "reps": len(times[(label, np, size)])})
        fmt = lambda x, f: (f % x) if x is not None else "-"
        print(f"| {np} | {human(size)} | {ours:.1f} | {fmt(tcp_med, '%.1f')} "
              f"| {fmt(ratio, '%.2fx')} | {fmt(shm_med, '%.1f')} | "
              f"{algbw:.3f} | {'yes' if correct else 'NO'} |")

    if stragglers:
        print("\n## time to target loss under stragglers (median s; "
              "speed-up = s=0 time / this time)\n")
        print("| scenario | policy | seconds | speed-up vs s=0 |")
        print("|---|---|---|---|")
        for scenario in sorted({k[0] for k in stragglers}):
            base = stragglers.get((scenario, "ssp0"))
            base_med = statistics.median(base) if base else None
            for policy in ["on_write", "ssp0", "ssp1", "ssp3", "unbounded"]:
                values = stragglers.get((scenario, policy))
                if not values:
                    print(f"| {scenario} | {policy} | not reached | - |")
                    continue
                med = statistics.median(values)
                speedup = base_med / med if base_med else None
                report.append({"kind": "stragglers", "scenario": scenario,
                               "policy": policy, "seconds": med,
                               "speedup_vs_s0": speedup})
                print(f"| {scenario} | {policy} | {med:.3f} | "
                      f"{speedup:.2f}x |" if speedup else
                      f"| {scenario} | {policy} | {med:.3f} | - |")

    with open(json_path, "w") as out:
        json.dump(report, out, indent=1)
    print(f"\nJSON: {json_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
