"""`python -m bot`: the project's command line."""

from bot.cli import main

raise SystemExit(main())
