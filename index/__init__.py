"""Index: passages and vectors -> a verified, atomically published generation -> a searcher."""
