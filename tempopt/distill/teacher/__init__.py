"""The teacher: trained (or loaded) once, frozen, its logits cached on disk and shared.

- :mod:`._teacher`: :func:`prepare_teacher` and the frozen :class:`Teacher`, read from the cache
  (and trusted only if it still scores its accuracy) or trained or loaded once under a file lock;
- :mod:`._key`: the cache key, a content hash of the data, the teacher's architecture and code,
  and its checkpoint or training recipe; :mod:`._source_hash` hashes the code it covers;
- :mod:`._checkpoint`: a checkpoint file read with ``weights_only=True`` and fitted to the model,
  and the cache files' reading and atomic writing;
- :mod:`._view_bank`: the teacher's logits on the fixed augmented views, computed once per study.
"""

from tempopt.distill.teacher._checkpoint import load_weights, read_state_dict
from tempopt.distill.teacher._key import cache_key
from tempopt.distill.teacher._teacher import DEFAULT_CACHE_DIR, Teacher, ensure_cache_dir, prepare_teacher
from tempopt.distill.teacher._view_bank import ViewBank, bank_key

__all__ = [
    "DEFAULT_CACHE_DIR",
    "Teacher",
    "ViewBank",
    "bank_key",
    "cache_key",
    "ensure_cache_dir",
    "load_weights",
    "prepare_teacher",
    "read_state_dict",
]
