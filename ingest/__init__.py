"""Ingest: corpus files -> pages -> canonical text with sections -> passages -> vectors."""
