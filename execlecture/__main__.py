"""`python -m execlecture ...` runs the CLI (execlecture/cli.py)."""

from execlecture.cli import main

raise SystemExit(main())
