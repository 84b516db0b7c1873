"""Benchmark results -> the Markdown section of docs/benchmarks.md. Pure functions."""

from __future__ import annotations

from typing import Any

BEGIN = "<!-- iomqa bench: begin -->"
END = "<!-- iomqa bench: end -->"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        BEGIN,
        "## `iomqa bench`",
        "",
        f"{results['date']}; {results['machine']}; "
        f"model {results['model']}; index of {results['passages']} passages.",
        "",
    ]
    q = results.get("query")
    if q:
        lines += query_section(q)
    w = results.get("workers")
    if w:
        lines += workers_section(w)
    i = results.get("ingest")
    if i:
        lines += ingest_section(i)
    s = results.get("scale")
    if s:
        lines += scale_section(s)
    lines.append(END)
    return "\n".join(lines)


def _ms(value: float) -> str:
    return f"{value:.1f}"


def query_section(q: dict[str, Any]) -> list[str]:
    rounds = {1: "once", 2: "twice"}.get(q.get("rounds", 2), f"{q.get('rounds')} times")
    lines = [
        "### Queries through HTTP",
        "",
        f"Embedder `{q['model']}`. {q['questions']} development questions, each asked "
        f"{rounds} per mode and concurrency, `POST /ask` (top {q.get('top_k', 5)}, answer "
        "cache off) against `iomqa serve` on loopback. Mode `precise` (the default) runs the "
        "first stage, then the cross-encoder reads its best candidates; `fast` runs the first "
        "stage only. Bare encode of one question in the same run: served model "
        f"`{q['model']}` p50 {q['encode_p50_ms']:.1f} ms (p95 {q['encode_p95_ms']:.1f} ms); "
        f"the same model through sentence-transformers/torch (`{q['reference_model']}`) "
        f"p50 {q['reference_encode_p50_ms']:.1f} ms.",
        "",
    ]
    b = q.get("budget")
    if b:
        lines += [budget_line(b), ""]
    lines += http_table(q)
    lines += stage_table(q["levels"])
    return lines


def budget_line(b: dict[str, Any]) -> str:
    verdict = "**met**" if b["met"] else "**not met**"
    return (
        f"Budget, mode `{b['mode']}` at concurrency {b['concurrency']}: "
        f"p50 ≤ {b['p50_limit_ms']:.0f} ms and p99 ≤ {b['p99_limit_ms']:.0f} ms; "
        f"measured p50 {b['p50_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms: {verdict}."
    )


def _reranker(level: dict[str, Any]) -> str:
    names = level.get("rerankers") or []
    if not names:
        return "none"
    read = f"{level.get('reranked_max', 0)} candidates"
    whole = level.get("read_whole_max", 0)
    read += f", {whole} of them also whole" if whole else ""
    return ", ".join(f"`{n}` ({read})" for n in names)


def http_table(q: dict[str, Any]) -> list[str]:
    lines = [
        "| mode | cross-encoder | concurrency | requests | errors | queries/s | p50 ms "
        "| p95 ms | p99 ms | p50 / served encode | p50 / torch encode | p99 / p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for level in q["levels"]:
        lines.append(
            f"| {level['mode']} | {_reranker(level)} | {level['concurrency']} "
            f"| {level['requests']} | {level['errors']} | {level['throughput_qps']:.1f} "
            f"| {_ms(level['p50_ms'])} | {_ms(level['p95_ms'])} | {_ms(level['p99_ms'])} "
            f"| {level['p50_over_encode']:.2f} | {level['p50_over_reference_encode']:.2f} "
            f"| {level['p99_over_p50']:.2f} |"
        )
    r = q.get("repeated")
    if r:
        lines.append(
            f"| {r.get('mode', 'precise')}, repeated questions (answer cache) | | 1 "
            f"| {r['requests']} | {r['errors']} | {r['throughput_qps']:.1f} "
            f"| {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | {_ms(r['p99_ms'])} | | | |"
        )
    return [*lines, ""]


def stage_table(levels: list[dict[str, Any]]) -> list[str]:
    """Each step's time as the answers' `stages` report it, and what HTTP adds (the
    client's latency minus the server's `total_ms`, per request)."""
    lines = [
        "Per step, from each answer's `stages` (server side), p50 / p99 ms:",
        "",
        "| mode | concurrency | encode | first stage | cross-encoder | server total "
        "| HTTP overhead p50 |",
        "|---|---|---|---|---|---|---|",
    ]
    for level in levels:
        cells = [
            f"{_ms(level[f'{stem}_p50_ms'])} / {_ms(level[f'{stem}_p99_ms'])}"
            for stem in ("encode", "first_stage", "rerank", "total")
        ]
        lines.append(
            f"| {level['mode']} | {level['concurrency']} | "
            + " | ".join(cells)
            + f" | {_ms(level['http_overhead_p50_ms'])} |"
        )
    return [*lines, ""]


def workers_section(w: dict[str, Any]) -> list[str]:
    costs = ", ".join(f"{mode} {ms:.1f} ms" for mode, ms in w["request_cpu_ms"].items())
    server = ", ".join(f"{mode} {ms:.1f} ms" for mode, ms in w.get("server_cpu_ms", {}).items())
    lines = [
        "### Workers on one machine",
        "",
        f"`iomqa serve --workers N`, concurrency {w['rows'][0]['concurrency']}, the same "
        "questions, answer cache off; the load generator runs on the same cores. Capacity "
        f"is what {w['cores']} cores compute running requests back to back: the cost of "
        "one request (its p50 latency with every model on one thread, one request at a "
        f"time: {costs}) into the cores. Server capacity counts only the server's own "
        f"steps (encode, search, rerank: {server}), so HTTP and JSON count against it. "
        f"Target: at least {w['target_share']:.1f} with one worker per core.",
        "",
        "| workers | mode | requests | errors | queries/s | p50 ms | p99 ms | capacity q/s "
        "| share | server capacity q/s | server share |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in w["rows"]:
        lines.append(
            f"| {r['workers']} | {r['mode']} | {r['requests']} | {r['errors']} "
            f"| {r['throughput_qps']:.1f} | {_ms(r['p50_ms'])} | {_ms(r['p99_ms'])} "
            f"| {r['capacity_qps']:.1f} | {r['share']:.2f} "
            f"| {r.get('server_capacity_qps', 0.0):.1f} | {r.get('server_share', 0.0):.2f} |"
        )
    return [*lines, ""]


def ingest_section(i: dict[str, Any]) -> list[str]:
    lines = [
        "### Ingest",
        "",
        "| measure | value |",
        "|---|---|",
        f"| cold build of the corpus ({i['documents']} documents, {i['passages']} passages, "
        f"{i['texts_embedded']} passage and sentence texts) | {i['cold_s']:.1f} s |",
        f"| of which parsing and chunking | {i['parse_s']:.1f} s |",
        f"| of which embedding | {i['embed_s']:.1f} s |",
        f"| of which writing, verifying, publishing | {i['write_verify_publish_s']:.1f} s |",
        f"| bare encode of the same texts | {i['bare_encode_s']:.1f} s |",
        f"| cold build / bare encode | {i['cold_over_bare_encode']:.2f} |",
        f"| embedding batch size (`IOMQA_EMBED_BATCH_SIZE`) | {i.get('batch_size', '')} |",
        "| bare encode texts/s by batch size (first 800 texts) | "
        + ", ".join(
            f"{size}: {rate:.0f}" for size, rate in i.get("texts_per_s_by_batch_size", {}).items()
        )
        + " |",
        f"| passages/s (cold) | {i['passages_per_s']:.1f} |",
        f"| no-op re-ingest | {i['noop_s']:.2f} s ({i['noop_embedded']} embedded) |",
        f"| one added report ({i['added_report']}, {i['added_passages']} passages) "
        f"| {i['added_s']:.1f} s ({i['added_embedded']} embedded) |",
        "",
    ]
    return lines + embedder_table(i.get("embedders", []))


def embedder_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = [
        "Embedding speed per embedder: bare encode of the same passage and sentence texts "
        "(each passage as the retrievers see it, then its sentences), one after the other "
        "in the same run.",
        "",
        "| embedder | batch size | texts | texts/s | s per 1,000 passages |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['model']}` | {r['batch_size']} | {r['texts']} | {r['texts_per_s']:.0f} "
            f"| {r['s_per_1000_passages']:.1f} |"
        )
    return [*lines, ""]


def splice(document: str, section: str, begin: str = BEGIN, end: str = END) -> str:
    """Replace the section between `begin` and `end` of benchmarks.md, or append it; the
    file holds other sections (the load run) that must survive."""
    if begin in document and end in document:
        head, rest = document.split(begin, 1)
        return head + section + rest.split(end, 1)[1]
    return document.rstrip("\n") + "\n\n" + section + "\n"


def _layout(spec: dict[str, Any]) -> str:
    if spec.get("kind") != "ivf":
        return "exact"
    return f"IVF{spec['nlist']},{spec['codes']} nprobe {spec['nprobe']}"


def scale_section(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "### Scale",
        "",
        "Full synthetic generations (store, BM25, passage and sentence indexes) made by "
        "perturbing the real passages: words of each sentence shuffled, one in ten replaced; "
        "passage and sentence vectors are the real ones plus noise (cosine about 0.9), so "
        "the model never runs over them. The development questions are searched by the "
        "real `Searcher`, top 10. Recall@10 is against exact search over the same vectors: "
        "per index, and end to end (the `Searcher` given exact dense results). Build: "
        "writing the generation from texts and vectors, in a fresh process (peak RSS is "
        "that process's); index RAM: resident memory added by opening the generation.",
        "",
        "| measure | " + " | ".join(f"{r['passages']:,} passages" for r in rows) + " |",
        "|---|" + "---|" * len(rows),
    ]
    table: list[tuple[str, str]] = [
        ("sentence vectors", "{sentences:,}"),
        ("passage index", "passage_layout"),
        ("sentence index", "sentence_layout"),
        ("build s (synthesis before it)", "{build_s:.0f} ({synthesis_s:.0f})"),
        ("build peak RSS MB", "{build_peak_rss_mb:.0f}"),
        ("generation on disk MB", "{disk_mb:.0f}"),
        ("index RAM after load MB", "{index_ram_mb:.0f}"),
        ("recall@10, passage index", "{passage_recall_at_10:.3f}"),
        ("recall@10, sentence index", "{sentence_recall_at_10:.3f}"),
        ("recall@10, end to end", "{end_to_end_recall_at_10:.3f}"),
        ("passage ANN p50 / p95 ms", "{ann_p50_ms:.2f} / {ann_p95_ms:.2f}"),
        ("BM25 p50 / p95 ms", "{bm25_p50_ms:.1f} / {bm25_p95_ms:.1f}"),
        ("bare encode of one question p50 ms", "{encode_p50_ms:.1f}"),
        ("end to end with encode p50 / p95 ms", "{p50_ms:.1f} / {p95_ms:.1f}"),
        (
            "end to end without encode p50 / p95 ms",
            "{no_encode_p50_ms:.1f} / {no_encode_p95_ms:.1f}",
        ),
    ]
    for label, form in table:
        cells = []
        for r in rows:
            if form == "passage_layout":
                cells.append(_layout(r["dense"]["passages"]))
            elif form == "sentence_layout":
                cells.append(_layout(r["dense"]["sentences"]))
            else:
                cells.append(form.format(**r))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines
