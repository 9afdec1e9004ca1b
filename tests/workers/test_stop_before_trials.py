"""A signal before the first trial (while the teacher trains) is one line and the signal's exit code."""

from __future__ import annotations

import signal

import pytest
import yaml

from tempopt.errors import TempoptError
from tempopt.stopping import Interrupted, StopFlag
from tempopt.study.spec.model import load_spec
from tempopt.study.workers.setup import prepare_study
from tests.workers.harness import study_dict


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_the_teacher_is_interrupted_with_the_shell_exit_code(tmp_path, signum, code):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study_dict("stopped", tmp_path / "cache")))
    stop = StopFlag()
    stop.request(signum)  # as if the signal arrived while the teacher trained

    with pytest.raises(Interrupted) as info:
        prepare_study(load_spec(path), f"sqlite:///{tmp_path / 's.db'}", stop=stop)

    assert isinstance(info.value, TempoptError)  # the CLI prints it as one line
    assert info.value.exit_code == code
    assert str(info.value) == (
        f"stopped by {signum.name} before the first trial; run the same command again to resume."
    )
    assert not list((tmp_path / "cache").glob("teacher-*.pt"))  # nothing half-written
