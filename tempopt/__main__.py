"""``python -m tempopt`` is the ``tempopt`` command."""

from tempopt.cli import main

main()
