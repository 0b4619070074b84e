"""`python -m slmrank` is the `slmrank` console script."""

from slmrank.cli import main

raise SystemExit(main())
