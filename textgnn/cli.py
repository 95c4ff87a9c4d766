"""Command line: ``python -m textgnn COMMAND`` (``build_parser`` lists the commands; ``--help``
shows them, and ``COMMAND --help`` each one's options).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import StudyFailed, TextGNNError


def _add_config_args(parser: argparse.ArgumentParser, config_required: bool) -> None:
    parser.add_argument("--config", required=config_required, help="YAML experiment file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set model.layers=3 (repeatable)")


def print_json(obj) -> None:
    """One JSON line, UTF-8 kept readable; a lone surrogate (undecodable bytes in argv)
    becomes its ``\\udXXX`` escape, which is still valid JSON."""
    text = json.dumps(obj, ensure_ascii=False)
    print(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def cmd_train(args: argparse.Namespace) -> None:
    from .config import load_config
    from .training import train

    if args.resume:
        if args.config or args.overrides or args.out:
            raise TextGNNError("--resume RUN_DIR continues that run with its own config.yaml; "
                               "drop --config, --set and --out")
        if not (args.resume / "config.yaml").is_file():
            raise TextGNNError(f"--resume: {args.resume} is not a run directory (no config.yaml)")
        config = load_config(args.resume / "config.yaml")
        summary = train(config, args.resume, progress=not args.quiet, resume=True)
        if summary is not None:  # under torchrun only rank 0 reports
            print(json.dumps(summary))
        return
    if not args.config:
        raise TextGNNError("train: give --config FILE (or --resume RUN_DIR)")
    config = load_config(args.config, args.overrides)
    out = args.out or Path("runs") / (
        f"{Path(config.data.name).name}-{config.model.encoder}-{config.graph.kind}"
        f"-seed{config.train.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    summary = train(config, out, progress=not args.quiet)
    if summary is not None:  # under torchrun only rank 0 reports
        print(json.dumps(summary))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from .data import load_configured
    from .pipeline import load

    pipeline = load(args.model, device=args.device)
    data = load_configured(pipeline.config.data, args.data, splits=(args.split,))
    split = data.split(args.split)
    metrics = pipeline.evaluate(split.texts, split.labels, split.source)
    metrics.pop("predictions")
    print(json.dumps({"model": str(args.model), "data": args.data, "split": args.split, **metrics}))


def _read_inputs(path: str) -> list[str]:
    """Texts to classify: a .jsonl file (one object with a ``text`` field per line) or one
    text per line of a plain file; ``-`` reads standard input."""
    handle = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    with handle:
        lines = handle.read().splitlines()
    if not path.endswith(".jsonl"):
        return lines
    from .data import jsonl_records

    texts = []
    for lineno, record in jsonl_records(lines, path):
        if not isinstance(record, dict) or "text" not in record:
            raise TextGNNError(f"{path}, line {lineno}: missing field 'text'")
        texts.append(record["text"])
    return texts


def cmd_predict(args: argparse.Namespace) -> None:
    from .pipeline import load

    texts = list(args.texts)
    if args.input:
        try:
            texts += _read_inputs(args.input)
        except FileNotFoundError:
            raise TextGNNError(f"input file not found: {args.input}") from None
    if not texts:
        raise TextGNNError("nothing to predict: give TEXT arguments or --input FILE")
    pipeline = load(args.model, device=args.device)
    for result in pipeline.predict(texts, batch_size=args.batch_size):
        print_json(result)


def cmd_graph(args: argparse.Namespace) -> None:
    from .config import load_config
    from .features import Vocab
    from .pipeline import Pipeline

    config = load_config(args.config, [f"graph.kind={args.kind}", *args.overrides])
    text = " ".join(args.text)
    if not text.strip():
        raise TextGNNError("graph: give a non-empty TEXT")
    pipeline = Pipeline(config, Vocab([]), ["?"])
    [graph] = pipeline.token_graphs([text], progress=False)
    print_json(pipeline.builder.describe(graph))


def cmd_explain(args: argparse.Namespace) -> None:
    from .explain import explain, plot_explanation
    from .pipeline import load

    result = explain(load(args.model), " ".join(args.text), args.layer)
    plot_explanation(result, args.out)
    print_json({k: result[k] for k in ("label", "probability", "encoder", "graph", "layer")}
               | {"png": str(args.out), "edges": len(result["edges"])})


def cmd_experiment(args: argparse.Namespace) -> None:
    from .experiments import run_study
    from .report import report
    from .run_records import read_runs
    from .study import Study

    study = Study.load(args.grid)
    if args.jobs < 1 or args.retries < 0:
        raise TextGNNError("--jobs must be at least 1 and --retries at least 0")
    if args.plan:
        from .plan import SearchCosts, plan, search_plan

        searches = SearchCosts(args.out)  # each search and its storage read once
        runs = plan(study, args.out, args.datasets, args.seeds, args.match, args.exclude,
                    searches, args.runs)
        trials = search_plan(study, args.out, args.datasets, searches)
        _print_plan(runs)
        _print_search_plan(trials)
        _print_plan_total(runs, trials)
        return
    done = run_study(study, args.out, jobs=args.jobs, datasets=args.datasets, seeds=args.seeds,
                     match=args.match, exclude=args.exclude, scheduler=args.scheduler,
                     retries=args.retries, runs=args.runs)
    if read_runs(done.runs):
        report(done.runs.parent)
    print(json.dumps({"runs": str(done.runs), "results": str(done.runs.parent / "RESULTS.md"),
                      "finished": done.finished, "failed": sorted(done.failed),
                      "waiting": len(done.waiting)}))
    if done.failed:
        raise StudyFailed(f"{len(done.failed)} run(s) failed (errors in "
                          f"{done.runs.parent / 'failures.jsonl'}); the others are recorded")


def _print_plan(rows: list[dict]) -> None:
    counts = {"planned": 7, "recorded": 8, "ready": 6, "changed": 7, "reusable": 8,
              "started": 7, "waiting": 7}  # widths
    hours = {"cpu_hours": ("CPU h", 7), "cpu_hours_left": ("CPU h left", 10)}

    def line(name: str, r: dict) -> str:
        return (f"{name:<25} " + " ".join(f"{r[k]:>{w}}" for k, w in counts.items())
                + "".join(f" {r[k]:>{w}.1f}" for k, (_, w) in hours.items())
                + f" {r['scaled']:>6} {r['unestimated']:>11}")

    print(f"{'part':<15} {'dataset':<9} " + " ".join(f"{k:>{w}}" for k, w in counts.items())
          + "".join(f" {title:>{w}}" for title, w in hours.values())
          + f" {'scaled':>6} {'no estimate':>11}")

    for r in rows:
        print(line(f"{r['part']:<15} {r['dataset']:<9}", r))
    print(line("all", {k: sum(r[k] for r in rows)
                       for k in (*counts, "cpu_hours", "cpu_hours_left", "scaled", "unestimated")}))
    print("changed: ready runs that were recorded on a config their cell no longer has (the "
          "study moves their records to superseded.jsonl and runs them again); reusable: "
          "ready runs that a study named in the study file's reuse: has recorded on the same "
          "config (copied, not trained: no CPU h left); started: ready runs with a "
          "checkpoint in their run directory (running, or cut off: the next invocation "
          "continues them); "
          "CPU h: the recorded runs' CPU time; CPU h left: a started run's CPU seconds per "
          "epoch so far times its epochs left to train.epochs (an upper bound: patience may "
          "stop it sooner), the rest at the mean of their "
          "cell's recorded seeds, for a cell with none its started seeds' cost to that limit, "
          "for a cell with neither its search's trials (a union graph's "
          "cell not searched yet: those of the cells on its dearest part) scaled by the "
          "training examples a run reads; scaled: runs of a dataset with no trial yet, "
          "estimated from the same cell's trials on the search's other datasets by training "
          "tokens (rough); no estimate: runs with none of these")


def _print_search_plan(rows: list[dict]) -> None:
    if not rows:
        return
    width = max(15, *(len(r["search"]) for r in rows))  # a search's name fills its column
    print(f"\n{'search':<{width}} {'dataset':<9} {'trials':>7} {'finished':>8} {'CPU h':>7} "
          f"{'CPU h left':>10} {'scaled':>6} {'no estimate':>11}")
    for r in rows:
        print(f"{r['search']:<{width}} {r['dataset']:<9} {r['planned']:>7} {r['finished']:>8} "
              f"{r['cpu_hours']:>7.1f} {r['cpu_hours_left']:>10.1f} {r['scaled']:>6} "
              f"{r['unestimated']:>11}")
    print("trials: the budget times the cells; CPU h: their CPU time (a trial from before it "
          "was counted: its wall time, an upper bound); CPU h left: each cell's trials left at "
          "the mean of its finished ones (a cell not started: of the dataset's other cells, for "
          "a union graph of the cells on its dearest part; a dataset with none finished: of "
          "the same cell's on the search's other datasets, scaled by training tokens, counted "
          "in scaled); no estimate: trials with none of these")


def _print_plan_total(runs: list[dict], trials: list[dict]) -> None:
    left = sum(r["cpu_hours_left"] for r in runs), sum(r["cpu_hours_left"] for r in trials)
    scaled = sum(r["scaled"] for r in runs), sum(r["scaled"] for r in trials)
    print(f"\nleft: {sum(left):.1f} CPU h estimated ({left[0]:.1f} for "
          f"{sum(r['planned'] - r['recorded'] for r in runs)} runs, {left[1]:.1f} for "
          f"{sum(r['planned'] - r['finished'] for r in trials)} search trials; of those, "
          f"{scaled[0]} runs and {scaled[1]} trials scaled from other datasets), besides "
          f"{sum(r['unestimated'] for r in runs)} runs and "
          f"{sum(r['unestimated'] for r in trials)} trials with no estimate yet")
    missing = sorted({m for r in runs for m in r["missing"]})
    if missing:
        print(f"waiting for {len(missing)} config file(s) a search has not written yet:")
        print("\n".join(f"  {m}" for m in missing))


def cmd_tune(args: argparse.Namespace) -> None:
    from .tuning import Search, report_search, tune

    if args.jobs < 1 or args.retries < 0:
        raise TextGNNError("--jobs must be at least 1 and --retries at least 0")
    search = Search.load(args.search)
    if args.report_only:
        report = report_search(search, args.out, args.configs, args.datasets)
    else:
        report = tune(search, args.out, args.runs, args.configs, args.datasets, jobs=args.jobs,
                      scheduler=args.scheduler, retries=args.retries)
    print(json.dumps({"search": search.name, "report": str(report),
                      "configs": str(args.configs / search.name)}))


def cmd_probe(args: argparse.Namespace) -> None:
    from .probe import probe, save
    from .probe_report import write_report

    if args.limit is not None and args.limit < 1:
        raise TextGNNError(f"--limit must be at least 1, got {args.limit}")
    result = probe(args.model, args.data, args.split, args.limit, args.parser, progress=not args.quiet)
    path = save(result, args.out)
    overall = result["relations"][0]
    print_json({"result": str(path), "report": str(write_report(args.out, args.study)),
                "texts": result["texts"], "words": result["words"],
                "best_head": overall["accuracy"], "best_offset": overall["offset_accuracy"]})


def cmd_reach(args: argparse.Namespace) -> None:
    from .graph_reach import measure, write_report

    if args.hops < 1 or args.window < 1 or args.max_tokens < 1:
        raise TextGNNError("reach: --hops, --window and --max-tokens must be at least 1")
    rows = measure(args.datasets, args.hops, args.window, args.max_tokens, args.parser,
                   progress=not args.quiet)
    print_json({"report": str(write_report(rows, args.out))}
               | {name: r["reach"] | {"complete": r["complete"]} for name, r in rows.items()})


def cmd_serve(args: argparse.Namespace) -> None:
    try:
        from .serving import serve
    except ImportError:
        raise TextGNNError("serve needs FastAPI and uvicorn: pip install 'textgnn[serve]'") from None
    serve(args.model, args.host, args.port, args.max_batch, args.max_wait_ms, args.max_texts,
          args.max_body_bytes, args.threads, args.workers)


def cmd_report(args: argparse.Namespace) -> None:
    from .report import report

    print(report(args.study_dir, args.readme))


DESCRIPTION = "Text classification with graph neural networks on token graphs."
# how every command behaves, shown under --help
CONVENTIONS = ("Progress and logs go to stderr; results are JSON on stdout. An error in the "
               "input (a bad config key, data line or name) ends the command with one "
               "'error:' line and exit status 2, never a traceback. 'python -m textgnn "
               "COMMAND --help' gives a command's options; README.md, its examples.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textgnn", description=DESCRIPTION, epilog=CONVENTIONS)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model; prints a JSON summary as the last line")
    _add_config_args(p, config_required=False)
    p.add_argument("--out", type=Path, help="run directory (default: runs/<name>-<time>)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue an interrupted run from its last epoch checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="metrics of a saved model on a dataset split (JSON)")
    p.add_argument("--model", required=True, help="model directory (or hub repo id)")
    p.add_argument("--data", required=True, help="dataset name or directory")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"],
                   help="which split of the dataset to score (default: test)")
    p.add_argument("--device", default="cpu",
                   help="torch device to run the model on, e.g. cuda or cuda:1 (default: cpu)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify texts; one JSON line per text")
    p.add_argument("--model", required=True, help="model directory (or hub repo id)")
    p.add_argument("--input", help="file with one text per line, or .jsonl with a text field; - = stdin")
    p.add_argument("--batch-size", type=int, default=None,
                   help="texts per model call (default: the model's train.eval_batch_size)")
    p.add_argument("--device", default="cpu",
                   help="torch device to run the model on, e.g. cuda or cuda:1 (default: cpu)")
    p.add_argument("texts", nargs="*", metavar="TEXT",
                   help="texts to classify, one argument each (quote them); these come before --input's")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("graph", help="show the token graph a model would see (JSON)")
    p.add_argument("--kind", required=True, help="dependency | window | complete | none")
    _add_config_args(p, config_required=False)
    p.add_argument("text", nargs="+", metavar="TEXT", help="the text (its words may be separate arguments)")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("explain", help="draw a text's graph weighted by the model's attention (PNG)")
    p.add_argument("--model", required=True, help="model directory (or hub repo id)")
    p.add_argument("--out", type=Path, required=True, help="PNG file to write")
    p.add_argument("--layer", type=int, default=-1, help="which block (default: the last)")
    p.add_argument("text", nargs="+", metavar="TEXT", help="the text (its words may be separate arguments)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("experiment", help="run a grid study (resumable); appends to runs.jsonl")
    p.add_argument("grid", help="study YAML, e.g. configs/claim.yaml")
    p.add_argument("--datasets", nargs="+", help="only these datasets of the grid")
    p.add_argument("--seeds", type=int, help="only the first N seeds of the grid")
    p.add_argument("--match", help="only cells whose key matches this glob, e.g. 'mr/*@minilm/*'")
    p.add_argument("--exclude", help="not the cells whose key matches this glob, e.g. '*@mpnet/*'")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once: worker processes of a Dask LocalCluster")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="run on an existing Dask cluster instead (workers started with "
                        "DASK_DISTRIBUTED__WORKER__DAEMON=False and --nthreads 1)")
    p.add_argument("--retries", type=int, default=2,
                   help="times a run whose worker died is started again on another worker")
    p.add_argument("--out", type=Path, default=Path("results"), help="results root")
    p.add_argument("--runs", type=Path,
                   help="where run directories go (log, checkpoint, model): <runs>/<study>/<key>; "
                        "default runs/ beside the results root (--plan reads the started runs' "
                        "checkpoints there)")
    p.add_argument("--plan", action="store_true",
                   help="run nothing: per part and dataset, the runs planned, recorded, ready "
                        "(of those, changed: recorded on a config their cell no longer has, "
                        "to run again; reusable: recorded on the same config by a study its "
                        "reuse: names, to copy), and waiting for a config a search has not written yet; "
                        "CPU hours recorded and an estimate of those left (a cell with no seed "
                        "recorded: from its search's trials, or, before its dataset has any, "
                        "the same cell's on the search's other datasets scaled by training "
                        "tokens); then the trials of the study's searches")
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser("tune", help="hyperparameter search, the same budget per cell (Optuna; "
                                    "resumable)")
    p.add_argument("search", type=Path, help="search YAML, e.g. configs/tune/sentences.yaml")
    p.add_argument("--datasets", nargs="+", help="only these datasets of the search")
    p.add_argument("--out", type=Path, default=Path("results"),
                   help="results root: <out>/<search>/optuna.sqlite3 and TUNING.md")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where trial run directories go")
    p.add_argument("--configs", type=Path, default=Path("configs/tuned"),
                   help="where the chosen configs go: <configs>/<search>/<dataset>/<cell>.yaml")
    p.add_argument("--jobs", type=int, default=1,
                   help="cells searched at once: worker processes of a Dask LocalCluster (each "
                        "cell's trials stay in order, so the trials do not depend on it)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="search on an existing Dask cluster instead (workers with --nthreads 1; "
                        "give the search a storage URL every machine reaches, e.g. PostgreSQL)")
    p.add_argument("--retries", type=int, default=2,
                   help="times a cell whose worker died is started again on another worker")
    p.add_argument("--report-only", action="store_true",
                   help="run no trial: write TUNING.md and the chosen configs (of the cells that "
                        "have spent their budget) from the storage as it stands, e.g. while the "
                        "search runs in another process or on a cluster")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("probe", help="does attention follow the dependency parse? every head "
                                     "against spaCy's parse (Clark et al., 2019)")
    p.add_argument("--model", required=True,
                   help="a model directory of ours (encoder transformer or hybrid, or a fine-tuned "
                        "pretrained encoder), or a Hugging Face encoder name or directory")
    p.add_argument("--data", required=True, help="dataset name or directory")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"],
                   help="which texts (default test; CoLA's test is its public dev file)")
    p.add_argument("--limit", type=int, help="only the first N texts")
    p.add_argument("--out", type=Path, default=Path("results/probe"),
                   help="directory for the JSON result, heatmaps and RESULTS.md")
    p.add_argument("--study", type=Path,
                   help="a study (e.g. results/claim) whose dependency-graph gains the report "
                        "relates to the probe")
    p.add_argument("--parser", default="en_core_web_sm", help="spaCy model that parses the texts")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("reach", help="how far a token sees: the share of its text a node "
                                     "reaches in 1..L hops on the window and dependency graphs, "
                                     "beside the complete graph cut at --max-tokens")
    p.add_argument("datasets", nargs="+", help="dataset names or directories (their test texts)")
    p.add_argument("--hops", type=int, default=3, help="up to this many hops (layers; default 3, "
                                                       "the most the searches allow)")
    p.add_argument("--window", type=int, default=2, help="the window graph's width (default 2, "
                                                         "graph.window's default)")
    p.add_argument("--max-tokens", type=int, default=512,
                   help="where the complete graph is cut (default 512, as the document study does)")
    p.add_argument("--parser", default="en_core_web_sm", help="spaCy model that parses the texts")
    p.add_argument("--out", type=Path, default=Path("results/reach"),
                   help="directory for REACH.md, reach.json and reach.png")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reach)

    p = sub.add_parser("serve", help="serve a saved model over HTTP (/predict, /explain, /model, "
                                     "/health, and a page at /)")
    p.add_argument("--model", required=True, help="model directory (or hub repo id)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    p.add_argument("--max-batch", type=int, default=256,
                   help="most texts of concurrent requests gathered into one model call")
    p.add_argument("--max-wait-ms", type=float, default=1.0,
                   help="while requests arrive concurrently, how long the first of a batch "
                        "waits for others to join (a lone request never waits; requests that "
                        "queue while the model is busy join the next call anyway)")
    p.add_argument("--max-texts", type=int, default=1000, help="most texts in one request")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20,
                   help="larger request bodies are refused with 413")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads of the model call (default 1: on sentences a second thread "
                        "only added overhead)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes on one port, each with its own copy of the model "
                        "(memory x N); about one per core the clients leave free")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("report", help="tables, intervals and paired tests for a study")
    p.add_argument("study_dir", help="e.g. results/claim")
    p.add_argument("--readme", type=Path, help="also fill this file's <!-- STUDY-table --> block")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except TextGNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
