"""``robot console``: the web console for the finance team, operators and auditors.

A Flask application served by waitress on 127.0.0.1 (:mod:`paybot.console.server`). It reads
the same ledger, run history, job store and audit trail as the command line, never a copy, and
its two changes (a work item released or handed over, a robot paused or resumed) go through
the same functions as ``robot queue`` and ``robot schedule``, so they are audited the same way.

- :mod:`~paybot.console.users`: local users, Argon2 password hashes, roles, lockout;
- :mod:`~paybot.console.secret_key`: the key that signs the session cookie;
- :mod:`~paybot.console.auth`: logging in and out, the session's timeout, the role rules;
- :mod:`~paybot.console.security`: CSRF on every form and the security headers;
- :mod:`~paybot.console.reads`: what the pages show, read from the ledger and the trail;
- :mod:`~paybot.console.pages`, :mod:`~paybot.console.forms`: the pages and their forms;
- :mod:`~paybot.console.files`: a run folder's report and screenshots, nothing outside it;
- :mod:`~paybot.console.app`: the application; :mod:`~paybot.console.server`: serving it.

Guide: ``docs/console.md``.
"""
