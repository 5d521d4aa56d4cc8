#!/usr/bin/env python3
"""Pools the teachers of several paper_mnist runs into one share-of-the-gap interval.

    scripts/gap_interval.py RUN.log [RUN.log ...]

Each log is the standard output of `examples/paper_mnist` (any of its modes; --gap-only is the
cheap one). Runs with different --seed values train different teachers (teacher t of a run has
seed N + 1000 t), so more teachers can be added run by run, on one machine or several of the
same kind, and pooled here: the teacher is the sampling unit, as in paper_mnist itself. The logs
must agree on everything but the seed (data, students per teacher, epochs, T, alpha). A teacher
seed that appears twice is refused, since the same teacher counted twice is not a new sample, and
so are two teachers whose students share a seed (teacher seed s has students s + 2 + 10k): their
scratch students would be the same networks. Runs whose --seed values differ modulo 10 (such as
1, 4 and 7) never share one, with up to 95 students per teacher; the check names any that do.

Prints the teachers' errors, the students' errors pooled over all teachers, each teacher's share
of the gap between its scratch students and itself, their mean with a 95% Student-t interval
over teachers, and the per-teacher standard deviation. The shares are recomputed from the means
the logs print to one decimal, so they can differ from paper_mnist's own by about 0.3 points.
"""

import math
import re
import sys

TEACHER = re.compile(
    r"^teacher \d+ \(seed (\d+)\): (\d+) errors; scratch ([\d.]+)(?: ± ([\d.]+))?, "
    r"(?:hard targets [\d.]+(?: ± [\d.]+)?, )?distilled ([\d.]+)(?: ± ([\d.]+))?")
SETTINGS = re.compile(r"^\d+ teachers?, (\d+) students? of each kind per teacher, (.*)$")

# Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom; 1.96 beyond (as in
# examples/paper_mnist.cpp).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def fail(message):
    sys.exit(f"gap_interval: {message}")


def read_run(path):
    """(data line, settings, students per teacher, [teacher records]) of one log."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail(f"cannot read '{path}': {e.strerror}")
    data = next((l for l in lines if l.startswith("The paper's MNIST experiments")), None)
    settings = next((SETTINGS.match(l) for l in lines if SETTINGS.match(l)), None)
    if data is None or settings is None:
        fail(f"'{path}' is not the output of paper_mnist (no data or settings line)")
    students = int(settings.group(1))
    teachers = []
    for line in lines:
        m = TEACHER.match(line)
        if m:
            teachers.append({
                "seed": int(m.group(1)),
                "errors": float(m.group(2)),
                "scratch": float(m.group(3)),
                "scratch_sd": float(m.group(4) or 0),
                "distilled": float(m.group(5)),
                "distilled_sd": float(m.group(6) or 0),
                "log": path,
            })
    if not teachers:
        fail(f"'{path}' holds no finished teacher")
    return data, settings.group(2), students, teachers


def pooled(records, mean_key, sd_key, n):
    """Mean and sample sd of all students, from each teacher's mean and sd of n students."""
    total = n * len(records)
    mean = sum(r[mean_key] for r in records) / len(records)
    if total < 2:
        return mean, 0.0
    within = sum((n - 1) * r[sd_key] ** 2 for r in records)
    between = sum(n * (r[mean_key] - mean) ** 2 for r in records)
    return mean, math.sqrt((within + between) / (total - 1))


def mean_sd(values):
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    runs = [read_run(p) for p in argv[1:]]
    data, settings, students, _ = runs[0]
    records = []
    for path, (d, s, n, teachers) in zip(argv[1:], runs):
        if (d, s, n) != (data, settings, students):
            fail(f"'{path}' ran other settings than '{argv[1]}' "
                 f"({n} students, {s!r} against {students} students, {settings!r})")
        records.extend(teachers)
    seeds = [r["seed"] for r in records]
    for s in seeds:
        if seeds.count(s) > 1:
            fail(f"teacher seed {s} appears {seeds.count(s)} times; each teacher counts once")
    # paper_mnist: teacher seed ts has students ts + 2 + 10 k for k < students.
    owner = {}
    for s in seeds:
        for k in range(students):
            student = s + 2 + 10 * k
            if student in owner:
                fail(f"the teachers of seeds {owner[student]} and {s} both have a student of seed "
                     f"{student}: their scratch students are the same networks, not two samples "
                     f"(give the runs --seed values that differ modulo 10)")
            owner[student] = s

    print(f"{len(records)} teachers from {len(runs)} run(s), {students} students of each kind "
          f"per teacher, {settings}")
    shares = []
    for r in records:
        gap = r["scratch"] - r["errors"]
        share = 100 * (r["scratch"] - r["distilled"]) / gap if gap > 0 else None
        print(f"  teacher seed {r['seed']:>5}: {r['errors']:.0f} errors, scratch "
              f"{r['scratch']:.1f}, distilled {r['distilled']:.1f}: " +
              (f"{share:.1f}% of the gap closed" if share is not None else "no gap to close"))
        if share is not None:
            shares.append(share)
    t_mean, t_sd = mean_sd([r["errors"] for r in records])
    s_mean, s_sd = pooled(records, "scratch", "scratch_sd", students)
    d_mean, d_sd = pooled(records, "distilled", "distilled_sd", students)
    print(f"test errors: teacher {t_mean:.1f} ± {t_sd:.1f} (min {min(r['errors'] for r in records):.0f}, "
          f"max {max(r['errors'] for r in records):.0f}), student from scratch {s_mean:.1f} ± "
          f"{s_sd:.1f}, distilled {d_mean:.1f} ± {d_sd:.1f} (mean ± sample sd)")
    if len(shares) < 2:
        print("share of the gap: fewer than two teachers with a gap, no interval")
        return 0
    mean, sd = mean_sd(shares)
    df = len(shares) - 1
    half = (T975[df - 1] if df <= 30 else 1.96) * sd / math.sqrt(len(shares))
    print(f"share of the gap closed: {mean:.1f}% ± {half:.1f}% (95% interval over "
          f"{len(shares)} teachers; per-teacher sd {sd:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
