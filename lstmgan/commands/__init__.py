"""One module per ``lstmgan`` sub-command: ``add_arguments(parser)`` and ``run(args) -> int``."""
