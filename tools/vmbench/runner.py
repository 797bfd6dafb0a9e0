"""Running the matrix: every platform prepared and checked, a warm-up per
machine shape, then the repetitions with the platforms interleaved (case by
case, A B C A B C ...) so that drift in the host hits them all alike.

A case a platform does not apply to (Platform.skip: a qcow2 disk where the
platform takes raw disks only; or a run that raised CaseSkipped: the host's
CPUs could not be isolated) is not run there: its cell in the report reads
"not run", and environment.json's "skipped" says why.  Platforms are closed
however the run ends (an exception, Ctrl-C).

Each run becomes one record (report.py's input), appended to results.jsonl
as it finishes, so an interrupted run keeps what it measured.
"""

import datetime
import json
import sys
import time

from vmbench import environment
from vmbench.platforms.base import CaseSkipped, PlatformError


def flags(case, record, host_cpus):
    out = []
    if record.get("total_time_s", 1) < 1:
        out.append("short")
    if case.vcpus > host_cpus or int(case.option("threads", 1)) > host_cpus:
        out.append("overcommitted")
    return out


class Progress:
    """One line on stderr per run: what runs now, and an estimate of what is left."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.monotonic()

    def show(self, what):
        left = ""
        if self.done:
            per_run = (time.monotonic() - self.started) / self.done
            left = f", about {per_run * (self.total - self.done) / 60:.1f} min left"
        print(f"compare: [{self.done + 1}/{self.total}] {what}{left}", file=self.stream,
              flush=True)

    def step(self):
        self.done += 1


class Runner:
    def __init__(self, platforms, cases, reps, out_dir, command, run_id=None):
        self.platforms, self.cases, self.reps = platforms, cases, reps
        self.out_dir, self.command = out_dir, command
        self.run_id = run_id or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.records, self.failed = [], {}     # failed: platform name -> reason
        self.skipped = {}                      # (platform name, case label) -> reason
        self.host = environment.host()

    def _record(self, platform, case, rep, started, result=None, error=None):
        record = dict(result or {"schema": "vmbench.result/1", "test": case.test,
                                 "platform": platform.name})
        record["case"] = {"test": case.test, "options": dict(case.options),
                          "vcpus": case.vcpus, "mem_mib": case.mem_mib}
        record["rep"] = rep
        record["harness"] = {
            "run_id": self.run_id,
            "started": datetime.datetime.fromtimestamp(started, datetime.timezone.utc)
                                        .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wall_s": round(time.time() - started, 3),
            "flags": flags(case, record, self.host["cpus"]) if result else [],
        }
        if error:
            record["error"] = error
        self.records.append(record)
        with open(self.out_dir / "results.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def _skip(self, platform, case, why, todo):
        """A case the platform found, running it, not to apply: skipped."""
        self.skipped[(platform.name, case.label())] = str(why)
        print(f"compare: {platform.name} skips {case.label()}: {why}", file=sys.stderr)
        if case in todo[platform.name]:
            todo[platform.name].remove(case)

    def _run_one(self, platform, case, rep):
        started = time.time()
        try:
            result = platform.run(case)
        except CaseSkipped:
            raise
        except PlatformError as e:
            self._record(platform, case, rep, started, error=str(e))
            print(f"compare: {platform.name} failed: {e}", file=sys.stderr)
            return False
        self._record(platform, case, rep, started, result=result)
        return True

    def run(self):
        """Runs everything; returns the environment for the report."""
        try:
            return self._run_all()
        finally:
            for p in self.platforms:
                p.close()

    def _run_all(self):
        env = {"host": self.host, "command": self.command, "run_id": self.run_id,
               "load_before": environment.load(), "platforms": {}}
        env["busy_before"] = environment.busy(env["load_before"], self.host["cpus"])
        (self.out_dir / "results.jsonl").write_text("")
        live = []
        for p in self.platforms:
            print(f"compare: preparing {p.name}", file=sys.stderr, flush=True)
            try:
                p.prepare(self.cases)
                live.append(p)
            except PlatformError as e:
                self.failed[p.name] = str(e)
                print(f"compare: {p.name} cannot run: {e}", file=sys.stderr)
            env["platforms"][p.name] = p.environment() if p.name not in self.failed else \
                {"error": self.failed[p.name]}
        todo = {}                              # platform name -> the cases it runs
        for p in live:
            todo[p.name] = []
            for case in self.cases:
                why = p.skip(case)
                if why:
                    self.skipped[(p.name, case.label())] = why
                    print(f"compare: {p.name} skips {case.label()}: {why}", file=sys.stderr)
                else:
                    todo[p.name].append(case)
        shapes = list(dict.fromkeys((c.vcpus, c.mem_mib) for c in self.cases))
        warmups = [next(c for c in self.cases if (c.vcpus, c.mem_mib) == s) for s in shapes]
        progress = Progress(sum(len([c for c in warmups if c in todo[p.name]]) +
                                self.reps * len(todo[p.name]) for p in live))
        for case in warmups:
            for p in live:
                if case not in todo[p.name]:
                    continue
                progress.show(f"warm-up {p.name} {case.label()}")
                try:
                    p.run(case)
                except CaseSkipped as e:
                    self._skip(p, case, e, todo)
                except PlatformError as e:
                    print(f"compare: {p.name} warm-up failed: {e}", file=sys.stderr)
                progress.step()
        for rep in range(1, self.reps + 1):
            for case in self.cases:
                for p in live:
                    if case not in todo[p.name]:
                        continue
                    progress.show(f"rep {rep}/{self.reps} {p.name} {case.label()}")
                    try:
                        if not self._run_one(p, case, rep):
                            self.failed.setdefault(p.name, self.records[-1]["error"])
                    except CaseSkipped as e:
                        self._skip(p, case, e, todo)
                    progress.step()
        env["load_after"] = environment.load()
        if self.skipped:
            env["skipped"] = [{"platform": name, "case": label, "why": why}
                              for (name, label), why in self.skipped.items()]
        return env
