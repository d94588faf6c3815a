"""`python -m console` is the same as `hitl-console`."""

from console.cli import main

raise SystemExit(main())
