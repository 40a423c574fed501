"""Shared test setup. Its presence also puts ``tests/`` on ``sys.path``, so test modules can
``import support`` (the helpers in tests/support)."""
