"""Benchmarks: query latency against the model's own cost, ingest, and index scale."""
