"""The floor every layer stands on: records, errors and settings. Imports nothing of the project."""
