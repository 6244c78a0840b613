"""``python -m lstmgan ...`` is the same as the ``lstmgan`` command."""
from lstmgan.cli import main

raise SystemExit(main())
