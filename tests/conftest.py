"""Test folders mirror the package and have no __init__.py; helpers shared across them (tool_runs.py)
live in this folder, which pytest puts on sys.path because this conftest is here."""
