"""paybot: unattended robots that pay routine invoices in the Danish public back office."""

__version__ = "0.1.0"
