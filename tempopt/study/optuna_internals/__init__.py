"""The few places where tempopt relies on Optuna internals, kept together and pinned by tests
(``tests/study/optuna_internals/test_optuna_internals.py``: one test per function, against the installed Optuna).
Nothing outside this package touches them.

* :func:`storage_of`, :func:`study_id_of`, :func:`trial_id_of`, :func:`rdb_storage`: a study's
  storage and ids (Optuna keeps them private), and its RDB storage under Optuna's cache.
* :func:`stale_trial_ids`, :func:`never_beaten`: running trials whose heartbeat is too old, or
  that never sent one.
* :func:`return_to_queue`: put a started trial back in the queue, unstarted.
* :func:`start_new_trial`: ``Study.ask()`` for a worker that knows the queue is empty, without
  its read of every trial to look for a queued one (about 4 ms a trial on SQLite).
* :func:`set_user_attrs`: several user attrs of a trial in one transaction (Optuna commits each
  ``set_user_attr`` on its own: one disk sync each on SQLite).

* :func:`group_view`: a study whose trials are one group of the real study's (distilled or
  baseline), for pruners. It is a real :class:`optuna.Study` over a storage that filters
  ``get_all_trials``, so that pruners which build studies of their own from ``study._storage``
  (Hyperband's brackets) see the same group.
* :class:`AtomicClaimStorage`: Optuna's RDB storage, whose start of a queued trial (WAITING →
  RUNNING) is one conditional UPDATE. Optuna reads the state, then writes it, relying on
  ``SELECT … FOR UPDATE``, which SQLite ignores: two SQLite workers could both start the same
  queued trial. A conditional UPDATE is atomic on every backend. It writes the start to the
  stored (naive UTC) column, as every write here does through :mod:`tempopt.timestamps`.
* :func:`count_states`: a study's trials counted by state in one aggregate query (the storage
  API reads every trial to count them).
* :func:`pruner_inputs`: what the pruners read of other trials (COMPLETE trials, rungs), counted
  in one query: a worker reads the study again for its pruner only when these changed.
* :func:`contains`: whether a value is one a distribution could have suggested (a check of
  exported params).
* :class:`PruneView`: the pruner's answers for the running trials of one job from one read of
  the study (``Trial.should_prune`` reads every trial of the study each time it is asked: after
  every epoch, by every member of a batch).
* :func:`write_intermediate_values`: several reports of a trial in one transaction (Optuna
  commits each ``trial.report`` on its own).
* :func:`add_storage_service`: Optuna's gRPC storage service on a server tempopt builds (to
  report the bound port and refuse a port in use).
* :func:`prune`: a pruner's decision; the median pruner's computed in plain Python with numpy's
  arithmetic (its private settings read), where Optuna's costs ~0.25 ms an epoch.
* :func:`shared_read`: the study for a sampler's ``sample_relative``, whose read of every trial is
  the one made for the same trial moments before (TPE with ``constant_liar`` reads again);
  :func:`new_read` makes that read new as a trial's sampling begins (Optuna samples lazily, so a
  batch's members would otherwise share a read older than their siblings' params).
* :func:`tell`: ``Study.tell`` for a trial the worker started, with one read of the trial
  instead of three.
* :class:`FastReadStorage` (under :class:`AtomicClaimStorage`): Optuna's reads of trials as one
  query of the trials and one of their child rows (a union of the five tables), where Optuna's
  ORM loading took ~2 ms for one trial on SQLite; :class:`FastWriteStorage`: the start of a
  fresh trial, each param, a heartbeat and the end of a trial as a few plain statements.
* :func:`write_trial`: a trial's reports and user attrs together, in one transaction.
* :func:`claim_waiting`: start a queued trial, or None when the queue is empty, without ever
  creating a fresh trial as ``Study.ask`` does (the queue of verification work must never grow
  an unplanned, param-less trial).
"""

from tempopt.study.optuna_internals.claims import (
    AtomicClaimStorage,
    claim_trial,
    claim_waiting,
    never_beaten,
    return_to_queue,
    stale_trial_ids,
    start_new_trial,
)
from tempopt.study.optuna_internals.counts import count_states, pruner_inputs
from tempopt.study.optuna_internals.distributions import contains
from tempopt.study.optuna_internals.grpc_proxy import add_storage_service
from tempopt.study.optuna_internals.ids import rdb_storage, storage_of, study_id_of, trial_id_of
from tempopt.study.optuna_internals.median import prune
from tempopt.study.optuna_internals.pruning import PruneView, group_view
from tempopt.study.optuna_internals.tell import tell
from tempopt.study.optuna_internals.trial_cache import new_read, shared_read
from tempopt.study.optuna_internals.writes import set_user_attrs, write_intermediate_values, write_trial

__all__ = [
    "AtomicClaimStorage",
    "PruneView",
    "add_storage_service",
    "claim_trial",
    "claim_waiting",
    "contains",
    "count_states",
    "group_view",
    "never_beaten",
    "new_read",
    "prune",
    "pruner_inputs",
    "rdb_storage",
    "return_to_queue",
    "set_user_attrs",
    "shared_read",
    "stale_trial_ids",
    "start_new_trial",
    "storage_of",
    "tell",
    "study_id_of",
    "trial_id_of",
    "write_intermediate_values",
    "write_trial",
]
