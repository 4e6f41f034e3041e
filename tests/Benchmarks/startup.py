#!/usr/bin/env python3
"""Start-up cost of short kmeshc commands: median wall time and CPU (user + system) of N runs of each
command, for each kmeshc binary given. Usage:
  python3 tests/Benchmarks/startup.py [--runs 21] BINARY [BINARY...]
Compare a plain build (dotnet build -o DIR) with the launcher's ReadyToRun publish (.build/kmeshc/kmeshc)."""
import resource, statistics, subprocess, sys, time

COMMANDS = [
    ["validate", "examples/bookinfo"],
    ["check", "examples/bookinfo", "--dst", "bookinfo/productpage-v1-7d6cfb7dfd-x2kqp", "--port", "9080"],
    ["--version"],
]

def measure(binary, args, runs):
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([binary] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000)
    return statistics.median(walls), statistics.median(cpus)

def main():
    args = sys.argv[1:]
    runs = 21
    if args[:1] == ["--runs"]:
        runs, args = int(args[1]), args[2:]
    print(f"| binary | command | wall ms | CPU ms |\n|---|---|---:|---:|")
    for binary in args:
        for cmd in COMMANDS:
            wall, cpu = measure(binary, cmd, runs)
            print(f"| {binary} | `{' '.join(cmd)}` | {wall:.0f} | {cpu:.0f} |")

if __name__ == "__main__":
    main()
