"""Command line: iomqa ingest | serve | mcp | ask | eval | bench | index."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from core.errors import IomqaError
from core.records import Hit, Mode, SearchResult
from core.settings import Settings, get_settings
from index.build import BuildConfig, BuildReport, build_index
from index.generations import (
    GENERATIONS,
    current_generation,
    current_version,
    ingest_lock,
    list_versions,
    set_current,
)
from index.manifest import read_manifest
from index.rerank import load_reranker
from index.searcher import Searcher
from ingest.embed import LazyEmbedder, make_embedder
from ingest.executor import LOCAL, Executor
from ingest.ray_backend import ray_executor
from iomqa import serving
from iomqa.bench import ingest as ingest_bench
from iomqa.bench import query as query_bench
from iomqa.bench import scale as scale_bench
from iomqa.bench import workers as workers_bench
from iomqa.bench.report import markdown, splice
from iomqa.bench.stats import machine
from iomqa.evaluation.adapt import refit_adapter
from iomqa.evaluation.calibrate import refit
from iomqa.evaluation.harness import (
    Ask,
    evaluate,
    interval_table,
    kind_table,
    load_questions,
    markdown_table,
    question_union,
)
from iomqa.evaluation.service import baseline_systems, service_system
from iomqa.evaluation.tuning import write_reranker_readings, write_tuning_pairs
from service import replicated
from service.citations import cite
from service.mcp.stdio import serve_stdio
from service.views import stages_out

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
index_app = typer.Typer(no_args_is_help=True, help="Inspect and check index generations.")
app.add_typer(index_app, name="index")
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _settings(corpus_dir: Path | None = None, index_dir: Path | None = None) -> Settings:
    settings = get_settings()
    updates = {k: v for k, v in (("corpus_dir", corpus_dir), ("index_dir", index_dir)) if v}
    return settings.model_copy(update=updates) if updates else settings


def _fail(exc: IomqaError) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


@app.command()
def ingest(
    corpus_dir: Annotated[
        Path | None, typer.Option(help="Default: IOMQA_CORPUS_DIR or corpus/")
    ] = None,
    index_dir: Annotated[
        Path | None, typer.Option(help="Default: IOMQA_INDEX_DIR or var/index")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    if_missing: Annotated[bool, typer.Option(help="Do nothing when an index exists")] = False,
    rebuild: Annotated[
        bool, typer.Option(help="Parse and embed everything again, ignoring the served index")
    ] = False,
    wait: Annotated[
        bool, typer.Option(help="Wait for a running ingest instead of failing")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="HOST:PORT",
            help="Parse and embed on this Ray cluster (default: IOMQA_RAY_ADDRESS; needs "
            "pip install -e '.[ray]')",
        ),
    ] = None,
) -> None:
    """Bring the index up to date with the corpus folder (new, changed and removed files
    only) and publish the new generation atomically."""

    settings = _settings(corpus_dir, index_dir)
    if if_missing and current_version(settings.index_dir):
        err.print(f"index present in {settings.index_dir}; not rebuilding")
        return
    config = BuildConfig.from_settings(settings, rebuild=rebuild)
    embedder = LazyEmbedder(
        settings.model, lambda: make_embedder(settings.model, settings.model_source)
    )
    try:
        with (
            _executor(ray_address or settings.ray_address, settings) as executor,
            _progress_bar(disabled=as_json or not err.is_terminal) as progress,
        ):
            report = build_index(config, embedder, progress, wait=wait, executor=executor)
    except IomqaError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps(report.summary(), indent=2, ensure_ascii=False))
    else:
        _print_build_report(report)
    if not (report.published or report.up_to_date):
        raise typer.Exit(1)


@contextmanager
def _executor(address: str | None, settings: Settings) -> Iterator[Executor]:
    """This process, or the Ray cluster at `address`, joined before any work starts."""
    if address is None:
        yield LOCAL
        return
    with ray_executor(address, settings.model, settings.model_source) as executor:
        yield executor


@contextmanager
def _progress_bar(*, disabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """One bar per build stage (parse, pages, embed), drawn only on a terminal."""
    with Progress(
        TextColumn("{task.description:>6}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=disabled,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield progress


def _print_build_report(report: BuildReport) -> None:
    table = Table("status", "source", "doc_id", "pages", "passages", "reason")
    for d in report.documents:
        colour = "green" if d.status == "ok" else "yellow"
        table.add_row(
            f"[{colour}]{d.status}[/]", d.source, d.doc_id, str(d.pages), str(d.passages), d.reason
        )
    err.print(table)
    ok = sum(d.status == "ok" for d in report.documents)
    if report.up_to_date:
        outcome = f"; index {report.index_version} is up to date"
    elif report.published:
        outcome = f"; published {report.index_version}"
    else:
        outcome = "; nothing published"
    err.print(
        f"{ok}/{len(report.documents)} documents, {report.passages} passages, "
        f"{report.embedded} embedded; added {len(report.added)}, changed "
        f"{len(report.changed)}, removed {len(report.removed)}, unchanged "
        f"{len(report.unchanged)}{outcome}"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: IOMQA_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: IOMQA_PORT or 8000")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes on this machine; default: IOMQA_WORKERS or 1"),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="HOST:PORT",
            help="Serve through Ray Serve on this cluster, the HTTP proxy on the head at "
            "--host/--port (default: IOMQA_RAY_ADDRESS; needs pip install -e '.[ray]')",
        ),
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Replicas with --ray; default: IOMQA_REPLICAS or 2"),
    ] = None,
) -> None:
    """Serve the HTTP API (and /docs) over the published index."""

    settings = _settings()
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    if current_version(settings.index_dir) is None:
        err.print(
            f"[red]error:[/red] no index in {settings.index_dir}. "
            "Build it first with `iomqa ingest` (or run `make serve`, which does both)."
        )
        raise typer.Exit(2)
    try:
        # Built here, before any worker or replica starts, so that each loads it rather
        # than tuning its own (the tuned cross-encoder on a first start: minutes).
        load_reranker(settings.reranker, settings.model_cache_dir)
    except IomqaError as exc:
        raise _fail(exc) from exc
    address = ray_address or settings.ray_address
    if address is not None:
        if workers is not None:
            raise _fail(IomqaError("--workers is for one machine; with --ray use --replicas"))
        replicas = replicas or settings.replicas
        _serve_replicated(settings, address, replicas, host or settings.host, port or settings.port)
        return
    serving.run(settings, host or settings.host, port or settings.port)


def _serve_replicated(
    settings: Settings, address: str, replicas: int, host: str, port: int
) -> None:
    """Through Ray Serve until Ctrl-C or SIGTERM, which delete the Serve application."""
    try:
        replicated.run(settings, address, replicas, host, port)
    except IomqaError as exc:
        raise _fail(exc) from exc


@app.command("mcp")
def mcp_command() -> None:
    """Serve the MCP tools (search_passages, get_passage, cite, list_documents) over stdio,
    for AI assistants such as Claude Desktop; permalinks use IOMQA_PUBLIC_URL."""
    # stdout carries the protocol: everything else goes to stderr.
    serve_stdio(_settings())


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question in plain language")],
    k: Annotated[int, typer.Option("-k", "--top-k", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    mode: Annotated[
        Mode,
        typer.Option(help="precise: rerank the best candidates with a cross-encoder; fast: not"),
    ] = Mode.PRECISE,
) -> None:
    """Print the passages that best answer QUESTION, with citations."""

    settings = _settings()
    if not question.strip():
        err.print("[red]error:[/red] the question is empty")
        raise typer.Exit(2)
    try:
        # A fast question never reads the cross-encoder, so it does not wait for its loading.
        reranker = (
            load_reranker(settings.reranker, settings.model_cache_dir)
            if mode is Mode.PRECISE
            else None
        )
        searcher = Searcher.open_current(
            settings.index_dir, settings.model_source, reranker, adapt=settings.query_adapter
        )
    except IomqaError as exc:
        raise _fail(exc) from exc
    started = time.perf_counter()
    result = searcher.search(question.strip(), k, mode=mode)
    stages = stages_out(result.stages, (time.perf_counter() - started) * 1000, cached=False)
    if as_json:
        summary = {
            "question": question,
            "index_version": searcher.version,
            "answerable": result.answerable,
            "confidence": round(result.confidence, 4),
            "passages": [_hit_json(h) for h in result.hits],
            "stages": stages.model_dump(mode="json"),
        }
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    _print_hits(result)
    reranking = (
        f"{stages.reranker} read {stages.reranked} ({stages.read_whole} also whole), "
        f"weight {stages.rerank_weight:.2f}"
        if stages.reranked
        else "no reranking"
    )
    err.print(f"{stages.mode}: {reranking}; {stages.total_ms:.1f} ms", style="dim")


def _hit_json(h: Hit) -> dict[str, object]:
    return {
        "rank": h.rank,
        "score": round(h.score, 4),
        "passage_id": h.passage.passage_id,
        "text": h.passage.text,
        "citation": asdict(cite(h.document, h.passage)),
    }


def _print_hits(result: SearchResult) -> None:
    if not result.answerable:
        out.print(
            f"No confident evidence in the corpus (confidence {result.confidence:.2f}); "
            "the closest passages follow.",
            style="yellow",
        )
    for h in result.hits:
        citation = cite(h.document, h.passage)
        out.rule(f"#{h.rank}  score {h.score:.3f}  {h.passage.passage_id}")
        out.print(h.passage.text, markup=False, highlight=False)
        out.print(f"— {citation.formatted}", style="dim", markup=False, highlight=False)


@app.command("eval")
def evaluate_command(
    questions: Annotated[
        list[Path] | None,
        typer.Option(help="JSONL question set; given twice or more, their union"),
    ] = None,
    url: Annotated[str | None, typer.Option(help="Evaluate a running service instead")] = None,
    baselines: Annotated[bool, typer.Option(help="Also run the 200-word-window baselines")] = True,
    k: Annotated[int, typer.Option(min=1, max=50)] = 10,
    json_out: Annotated[Path | None, typer.Option(help="Write per-question ranks as JSON")] = None,
    fit_adapter: Annotated[
        bool, typer.Option(help="Fit the query adapter on these questions' evidence first")
    ] = False,
    calibrate: Annotated[
        bool, typer.Option(help="Refit the confidence model on these questions first")
    ] = False,
    mode: Annotated[Mode, typer.Option(help="The ranking mode the service is asked for")] = (
        Mode.PRECISE
    ),
    tuning_pairs: Annotated[
        Path | None,
        typer.Option(help="Write the tuned embedder's training pairs for these questions here"),
    ] = None,
    reranker_readings: Annotated[
        Path | None,
        typer.Option(help="Write the tuned cross-encoder's readings for these questions here"),
    ] = None,
) -> None:
    """Score retrieval on a question set: hit@1/5/10, MRR@10, nDCG@10, abstention AUROC."""

    settings = _settings()
    paths = questions or [Path("tests/eval/questions.jsonl")]
    try:
        qs = question_union(paths)
    except ValueError as exc:
        raise _fail(IomqaError(str(exc))) from exc
    name = " + ".join(p.name for p in paths)
    try:
        if tuning_pairs:
            err.print(write_tuning_pairs(settings, qs, tuning_pairs))
        if reranker_readings:
            err.print(write_reranker_readings(settings, qs, reranker_readings))
        # The adapter first: the confidence model reads signals of adapted questions.
        if fit_adapter:
            err.print(refit_adapter(settings, qs, name))
        if calibrate:
            err.print(refit(settings, qs, name))
    except IomqaError as exc:
        raise _fail(exc) from exc
    systems = _systems(settings, url, mode, baselines=baselines)
    reports = []
    for name, ask_fn in systems:
        err.print(f"evaluating {name} on {len(qs)} questions…")
        reports.append(evaluate(name, ask_fn, qs, k))
    out.print(markdown_table(reports), markup=False, highlight=False)
    out.print()
    out.print(interval_table(reports), markup=False, highlight=False)
    out.print()
    out.print(kind_table(reports), markup=False, highlight=False)
    if json_out:
        json_out.write_text(
            json.dumps({r.system: r.ranks for r in reports}, indent=1), encoding="utf-8"
        )


def _systems(
    settings: Settings, url: str | None, mode: Mode, *, baselines: bool
) -> list[tuple[str, Ask]]:
    """The service in `mode`, named so the table says which, then the baselines."""
    try:
        systems = [(f"iomqa (POST /ask, {mode})", service_system(settings, url, mode))]
        if baselines:
            systems += baseline_systems(settings)
    except IomqaError as exc:
        raise _fail(exc) from exc
    return systems


@app.command("bench")
def bench_command(
    query: Annotated[bool, typer.Option(help="Query latency through HTTP")] = True,
    ingest_: Annotated[bool, typer.Option("--ingest/--no-ingest", help="Ingest cost")] = True,
    workers: Annotated[
        str, typer.Option(help="Worker counts to measure throughput with, e.g. '1,2'; '' skips")
    ] = "1,2",
    scale: Annotated[str, typer.Option(help="Synthetic sizes, comma-separated; '' skips")] = (
        "100000,1000000"
    ),
    questions: Annotated[Path, typer.Option(help="Questions to ask")] = Path(
        "tests/eval/questions.jsonl"
    ),
    added_report: Annotated[Path, typer.Option(help="File added in the ingest run")] = Path(
        "tests/pdf-samples/pdflatex-4-pages.pdf"
    ),
    report: Annotated[Path, typer.Option(help="Markdown report to update")] = Path(
        "docs/benchmarks.md"
    ),
) -> None:
    """Measure queries, ingest and scale; write docs/benchmarks.md and .json."""

    settings = _settings()
    try:
        searcher = Searcher.open_current(settings.index_dir, settings.model_source)
    except IomqaError as exc:
        raise _fail(exc) from exc
    texts = [q.question for q in load_questions(questions)]
    saved = report.with_suffix(".json")
    # Parts not run this time keep their last figures.
    results: dict[str, object] = json.loads(saved.read_text()) if saved.exists() else {}
    results |= {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "model": searcher.manifest.model,
        "passages": searcher.manifest.passages,
    }
    if query:
        err.print("bench: queries…")
        results["query"] = query_bench.run(settings, texts)
    counts = [int(n) for n in workers.split(",") if n.strip()]
    if counts:
        err.print(f"bench: workers {counts}…")
        results["workers"] = workers_bench.run(settings, texts, counts)
    if ingest_:
        err.print("bench: ingest…")
        results["ingest"] = ingest_bench.run(settings, added_report)
    sizes = [int(s) for s in scale.split(",") if s.strip()]
    if sizes:
        err.print(f"bench: scale {sizes}…")
        vectors = np.asarray(searcher.embedder.encode(texts), dtype=np.float32)
        results["scale"] = scale_bench.run(
            searcher.generation,
            settings.model_source,
            texts,
            vectors,
            sizes,
            settings.ann_min_passages,
            lambda line: err.print(line, markup=False, highlight=False),
        )
    _write_bench_report(report, results)


def _write_bench_report(report: Path, results: dict[str, object]) -> None:
    """The figures as JSON beside the Markdown; only the bench's own section is replaced."""
    report.parent.mkdir(parents=True, exist_ok=True)
    report.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    document = report.read_text(encoding="utf-8") if report.exists() else "# Benchmarks\n"
    section = markdown(results)
    report.write_text(splice(document, section), encoding="utf-8")
    print(section)


@index_app.command("list")
def index_list() -> None:
    """List generations; * marks the one being served."""

    settings = _settings()
    current = current_version(settings.index_dir)
    for version in list_versions(settings.index_dir):
        try:
            m = read_manifest(settings.index_dir / GENERATIONS / version)
            detail = f"{m.documents} documents, {m.passages} passages, {m.model}"
        except IomqaError as exc:
            detail = f"unreadable: {exc}"
        out.print(f"{'*' if version == current else ' '} {version}  {detail}", markup=False)


@index_app.command("rollback")
def index_rollback(
    version: Annotated[
        str | None, typer.Argument(help="Default: the generation before the current one")
    ] = None,
) -> None:
    """Serve an earlier generation again (after checking it); a running service follows."""

    settings = _settings()
    try:
        with ingest_lock(settings.index_dir):
            current = current_version(settings.index_dir)
            versions = list_versions(settings.index_dir)
            if version is None:
                older = [v for v in versions if current is None or v < current]
                if not older:
                    err.print("[red]error:[/red] no earlier generation to roll back to")
                    raise typer.Exit(2)
                version = older[-1]
            if version not in versions:
                err.print(f"[red]error:[/red] no generation {version!r}; have: {versions}")
                raise typer.Exit(2)
            generation = settings.index_dir / GENERATIONS / version
            # Checked with the configured model, as the service will load it: a generation
            # built with another model would be refused there, so it is refused here.
            Searcher.open(generation, make_embedder(settings.model, settings.model_source)).close()
            set_current(settings.index_dir, version)
    except IomqaError as exc:
        raise _fail(exc) from exc
    out.print(f"now serving {version} (was {current})", markup=False)


@index_app.command("verify")
def index_verify(
    version: Annotated[str | None, typer.Argument(help="Default: the current generation")] = None,
) -> None:
    """Check a generation's files, counts and model against its manifest."""

    settings = _settings()
    try:
        generation = (
            settings.index_dir / GENERATIONS / version
            if version
            else current_generation(settings.index_dir)
        )
        manifest = read_manifest(generation)
        Searcher.open(generation, make_embedder(manifest.model, settings.model_source)).close()
    except IomqaError as exc:
        raise _fail(exc) from exc
    out.print(
        f"{generation.name}: ok ({manifest.documents} documents, {manifest.passages} passages)"
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
