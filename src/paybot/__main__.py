"""``python -m paybot`` is the same as the ``robot`` command."""

from paybot.cli import main

raise SystemExit(main())
