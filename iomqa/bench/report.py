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
        lines += [
            "### Queries through HTTP",
            "",
            f"{q['questions']} development questions, each asked twice, `POST /ask` (top 5) "
            "against `iomqa serve` on loopback. Bare encode of one question in the same run: "
            f"served model `{q['model']}` p50 {q['encode_p50_ms']:.1f} ms "
            f"(p95 {q['encode_p95_ms']:.1f} ms); the same model through "
            f"sentence-transformers/torch (`{q['reference_model']}`) "
            f"p50 {q['reference_encode_p50_ms']:.1f} ms.",
            "",
            "| concurrency | requests | errors | queries/s | p50 ms | p95 ms | p99 ms "
            "| p50 / served encode | p50 / torch encode | p99 / p50 |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for level in q["levels"]:
            lines.append(
                f"| {level['concurrency']} | {level['requests']} | {level['errors']} "
                f"| {level['throughput_qps']:.1f} | {level['p50_ms']:.1f} | {level['p95_ms']:.1f} "
                f"| {level['p99_ms']:.1f} | {level['p50_over_encode']:.2f} "
                f"| {level['p50_over_reference_encode']:.2f} | {level['p99_over_p50']:.2f} |"
            )
        r = q.get("repeated")
        if r:
            lines.append(
                f"| 1, repeated questions (answer cache) | {r['requests']} | {r['errors']} "
                f"| {r['throughput_qps']:.1f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
                f"| {r['p99_ms']:.1f} | | | |"
            )
        lines.append("")
    i = results.get("ingest")
    if i:
        lines += [
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
                f"{size}: {rate:.0f}"
                for size, rate in i.get("texts_per_s_by_batch_size", {}).items()
            )
            + " |",
            f"| passages/s (cold) | {i['passages_per_s']:.1f} |",
            f"| no-op re-ingest | {i['noop_s']:.2f} s ({i['noop_embedded']} embedded) |",
            f"| one added report ({i['added_report']}, {i['added_passages']} passages) "
            f"| {i['added_s']:.1f} s ({i['added_embedded']} embedded) |",
            "",
        ]
    s = results.get("scale")
    if s:
        lines += [
            "### Scale (dense passage index)",
            "",
            "Synthetic corpora made by perturbing the real passage vectors (cosine about 0.9 "
            "to their source), queried with the development questions' vectors; one thread "
            "per query. IVF-Flat (nlist = 4·√n) against exact search.",
            "",
            "| passages | exact build s | exact p50 ms | IVF build s | nprobe | recall@10 "
            "| IVF p50 ms | IVF p99 ms | IVF size MB | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in s:
            for t in r["ivf"]:
                lines.append(
                    f"| {r['passages']:,} | {r['exact_build_s']:.1f} | {r['exact_p50_ms']:.1f} "
                    f"| {r['ivf_build_s']:.1f} | {t['nprobe']} | {t['recall_at_10']:.3f} "
                    f"| {t['p50_ms']:.2f} | {t['p99_ms']:.2f} | {r['ivf_size_mb']:.0f} "
                    f"| {r['peak_rss_mb']:.0f} |"
                )
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def splice(document: str, section: str) -> str:
    """Replace the bench section of benchmarks.md, or append it."""
    if BEGIN in document and END in document:
        head, rest = document.split(BEGIN, 1)
        return head + section + rest.split(END, 1)[1]
    return document.rstrip("\n") + "\n\n" + section + "\n"
