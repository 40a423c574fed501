"""The reports people read: each run's ``report.html`` and the morning report of all robots of
a night, in Danish, rendered with Jinja2 from the runs' ``report.json`` (see
:mod:`paybot.report.html`)."""
