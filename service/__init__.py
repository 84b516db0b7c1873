"""Service: a searcher -> HTTP responses with citations."""
