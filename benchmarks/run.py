"""Speed and memory benchmarks, each measured against a baseline timed in the same run.

    python benchmarks/run.py [--quick] [--out DIR]
        [--only train,parse,20ng,predict,mr,beyond,features,probe,serve,cluster]

Prints one JSON document (``results``: one entry per acceptance figure with ``name``,
``value``, ``target``, ``ok``; ``details``: every measurement) and each part's time on
stderr. A full run stores each part measured in ``benchmarks/results/<part>.json`` with the
command that produced it, and regenerates ``BENCHMARKS.md`` and ``benchmarks/scaling.png``
from every stored part, so ``--only`` refreshes its parts and keeps the others. A quick run
(fewer repetitions and smaller inputs, under 10 minutes on 2 cores) writes the same files to
a scratch directory instead (``benchmarks/scratch/``, ignored by git; ``--out`` picks
another), never over the committed results. Times are medians of repeated trials with the
spread (min-max); each ratio compares numbers from one process run only, and
training-speed ratios pair every trial with a baseline step timed just before it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.common import REPO, log  # noqa: E402
from benchmarks.markdown import write_markdown  # noqa: E402
from benchmarks.parts import beyond, cluster, features, memory, mr, parse, predict, probe, serve, train  # noqa: E402
from textgnn.runtime import usable_cpus  # noqa: E402

# part name -> its module (``run(quick, out) -> (details, figures)``), in the order run
PARTS = {"train": train, "parse": parse, "20ng": memory, "predict": predict, "mr": mr,
         "beyond": beyond, "features": features, "probe": probe, "serve": serve,
         "cluster": cluster}
COMMITTED = REPO / "benchmarks" / "results"
SCRATCH = REPO / "benchmarks" / "scratch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions and smaller inputs (< 10 min on 2 cores); "
                             "writes to the scratch directory")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts to run")
    parser.add_argument("--out", type=Path, default=None,
                        help="where results go (default: benchmarks/results for a full run, "
                             "benchmarks/scratch for --quick)")
    args = parser.parse_args()
    parts = args.only.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; choose from {', '.join(PARTS)}")
    committed = args.out is None and not args.quick
    results = args.out or (SCRATCH if args.quick else COMMITTED)
    results.mkdir(parents=True, exist_ok=True)
    # a full run's plot and markdown live where the README links them; a scratch run's beside
    # its results
    figures_dir = REPO / "benchmarks" if committed else results
    markdown = REPO / "BENCHMARKS.md" if committed else results / "BENCHMARKS.md"
    torch.set_num_threads(usable_cpus())
    command = "python benchmarks/run.py" + (" --quick" if args.quick else "") + (
        f" --only {args.only}" if args.only != parser.get_default("only") else "")
    machine = {"cpus": usable_cpus(), "python": platform.python_version(),
               "torch": torch.__version__, "platform": platform.platform()}
    doc = {"machine": machine, "quick": args.quick, "results": [], "details": {}, "seconds": {}}
    start = time.perf_counter()
    for name, part in PARTS.items():
        if name not in parts:
            continue
        part_start = time.perf_counter()
        detail, figures = part.run(args.quick, figures_dir)
        seconds = time.perf_counter() - part_start
        log(f"part {name}: {seconds / 60:.1f} min")
        record = {"part": name, "command": command, "machine": machine, "quick": args.quick,
                  "date": time.strftime("%Y-%m-%d"), "seconds": seconds, "results": figures,
                  "details": detail}
        (results / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
        doc["results"] += figures
        doc["details"][name] = detail
        doc["seconds"][name] = seconds
    doc["seconds"]["total"] = time.perf_counter() - start
    log(f"all parts: {doc['seconds']['total'] / 60:.1f} min; results in {results}")
    scaling = "benchmarks/scaling.png" if committed else "scaling.png"
    write_markdown(markdown, results, list(PARTS), scaling)
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
