"""Nightly runs: ``robot scheduler``, ``robot schedule`` and ``robot runs``.

- :mod:`~paybot.scheduler.triggers`: a manifest's cron line as a trigger (crontab weekdays,
  summer time, bank days only),
- :mod:`~paybot.scheduler.jobs`: the persistent job store kept in line with ``robots/*.yaml``,
  pause and resume,
- :mod:`~paybot.scheduler.due`: which planned times a run (or a missed run) stands for,
- :mod:`~paybot.scheduler.dispatch`: one scheduled run, from the job firing to its end,
- :mod:`~paybot.scheduler.child`, :mod:`~paybot.scheduler.proctree`: the run as a child
  process in its own session, ended with everything it started,
- :mod:`~paybot.scheduler.history`: audit events and run history rows,
- :mod:`~paybot.scheduler.service`: the scheduler process itself (start, stop).

Operators' guide: ``docs/operations.md``.
"""
