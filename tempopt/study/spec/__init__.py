"""The study file: its model (:class:`StudySpec`), its search dimensions, reading the YAML, and
the checks that name a bad key in one sentence, all before anything touches a storage.

- ``model``: the spec; ``sections``: its small sections (pruner, teacher, verify, …);
  ``dimensions``: fixed or searched values;
  ``losses``: the loss variant, fixed or searched; ``task_args``: searched task arguments;
- ``reading``: the file's size, encoding and YAML; ``messages``: a validation error as a sentence;
- ``defaults``: the limits the command line shows (imports nothing);
- ``host``: what a spec names on this host (its files, its task); ``task_fit``: what tempopt
  changes about a task so that it trains.

Each name is imported when first read (:mod:`tempopt.lazy_exports`).
"""

from typing import TYPE_CHECKING

from tempopt.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tempopt.study.spec.dimensions import Dimension
    from tempopt.study.spec.host import load_spec_task
    from tempopt.study.spec.model import StudySpec, load_spec, parse_spec

__all__ = [
    "Dimension",
    "StudySpec",
    "load_spec",
    "load_spec_task",
    "parse_spec",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".model": ("StudySpec", "load_spec", "parse_spec"),
        ".dimensions": ("Dimension",),
        ".host": ("load_spec_task",),
    },
)
