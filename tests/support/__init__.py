"""Helpers shared by the tests: databases with users and invoices, a running mock finance
system, a fake clock, and reading the mock's pages."""
