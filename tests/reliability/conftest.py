"""The reliability tests run the command as a user would, with the helpers of tests/cli_helpers.py
(importable from every test folder, as tests/conftest.py's folder is on the path)."""
