"""Named propagation protocols: presets of the propagation hyper-parameters per paper."""

from __future__ import annotations

import pytest

from unitrack.app.cli import main
from unitrack.config import load_config
from unitrack.propagation import PROTOCOLS, PropagationParams, protocol_values
from unitrack.utils import UnitrackError


def test_default_protocol_is_unitrack_and_changes_nothing():
    a = load_config("vos")
    b = load_config("vos", sets=["vos.protocol=unitrack"])
    assert a.section.protocol == "unitrack" and a.to_dict() == b.to_dict()
    assert (a.section.topk, a.section.n_context, a.section.temperature) == (10, 5, 0.05)


@pytest.mark.parametrize("task", ["vos", "poseprop"])
def test_crw_and_dino_presets(task):
    crw = load_config(task, sets=[f"{task}.protocol=crw"]).section
    assert (crw.topk, crw.n_context, crw.radius, crw.temperature) == (10, 20, 12.0, 0.05)
    dino = load_config(task, sets=[f"{task}.protocol=dino"]).section
    assert (dino.topk, dino.n_context, dino.radius, dino.temperature, dino.long_mem) == (5, 7, 12.0, 0.1, [0])
    assert PropagationParams.from_config(dino).topk == 5
    assert protocol_values("crw", "poseprop")["crop_size"] == 320


def test_explicit_keys_win_over_the_preset(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("vos:\n  protocol: dino\n  temperature: 0.2\n")
    s = load_config("vos", yaml_file=cfg, sets=["vos.topk=3"]).section
    assert (s.protocol, s.temperature, s.topk, s.n_context) == ("dino", 0.2, 3, 7)


def test_unknown_protocol_and_wrong_task_are_errors(capsys):
    with pytest.raises(UnitrackError, match="unknown propagation protocol; expected one of unitrack, crw, dino"):
        load_config("vos", sets=["vos.protocol=uvcc"])
    assert main(["eval", "--task", "mot", "--protocol", "crw"]) == 2
    assert "--protocol applies to the propagation tasks" in capsys.readouterr().err
    assert main(["eval", "--task", "sot", "--protocol", "crw"]) == 2  # SOT's own sot.protocol is faithful|fixed
    assert "--protocol applies to the propagation tasks" in capsys.readouterr().err
    assert load_config("sot", sets=["sot.protocol=fixed"]).section.protocol == "fixed"
    assert set(PROTOCOLS) >= {"unitrack", "crw", "dino"} and all(p.source for p in PROTOCOLS.values())


def test_protocol_is_part_of_the_fingerprint():
    from unitrack.api import _cfg_tag

    assert _cfg_tag(load_config("vos")) is None
    assert _cfg_tag(load_config("vos", sets=["vos.protocol=crw"])) != _cfg_tag(load_config("vos", sets=["vos.protocol=dino"]))
    proto = load_config("vos", sets=["vos.protocol=crw"]).protocol()
    assert proto["vos"]["protocol"] == "crw" and proto["vos"]["n_context"] == 20
