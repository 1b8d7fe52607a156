from pathlib import Path

import pytest

from unitrack.config import default_config, load_config
from unitrack.tasks import task_names
from unitrack.utils import UnitrackError


def test_defaults_are_published_protocol():
    vos = default_config("vos").section
    assert (vos.temperature, vos.topk, vos.radius, vos.n_context, vos.long_mem) == (0.05, 10, 12.0, 5, [0])
    sot = default_config("sot").section
    assert (sot.crop_sz, sot.padding, sot.scale_step, sot.scale_penalty) == (520, 3.5, 1.0275, 0.985)
    assert (sot.dcf_lambda, sot.dcf_interp_factor, sot.head, sot.protocol) == (1e-4, 0.01, "xcorr", "faithful")
    mot = default_config("mot").section
    assert (mot.img_size, mot.feat_size, mot.min_box_area, mot.dup_iou_thres) == ([1088, 608], [4, 10], 200.0, 0.15)
    assert mot.asso_with_motion is False  # Tables 1–2 are *_womotion
    pt = default_config("posetrack").section
    assert (pt.frame_rate, pt.max_mask_area, pt.dup_iou_thres, pt.motion_lambda) == (6.0, 400, 0.2, 0.9999)
    assert default_config("mots").section.max_mask_area == 200
    assert set(task_names()) >= {"sot", "vos", "poseprop", "mot", "mots", "posetrack"}


def test_yaml_and_set_override_in_order(tmp_path: Path):
    y = tmp_path / "c.yaml"
    y.write_text("common:\n  backbone: crw\n  layer: 4\nvos:\n  topk: 20\n  long_mem: [0, 1]\nsot:\n  head: dcf\n")
    cfg = load_config("vos", y, ["vos.topk=7", "common.device=cpu", "radius=6"])
    assert cfg.common.backbone == "crw" and cfg.common.layer == 4 and cfg.common.device == "cpu"
    assert cfg.section.topk == 7 and cfg.section.radius == 6.0 and cfg.section.long_mem == [0, 1]
    assert isinstance(cfg.section.radius, float)
    # options passed by the CLI / API win over --set
    cfg = load_config("vos", y, ["vos.topk=7"], {"vos.topk": 3, "common.layer": None})
    assert cfg.section.topk == 3 and cfg.common.layer == 4


def test_unknown_key_suggests_closest(tmp_path: Path):
    with pytest.raises(UnitrackError, match=r"unknown key vos\.topk2.*did you mean 'topk'"):
        load_config("vos", sets=["vos.topk2=3"])
    y = tmp_path / "bad.yaml"
    y.write_text("vos:\n  temprature: 0.1\n")
    with pytest.raises(UnitrackError, match=r"bad\.yaml: unknown key vos\.temprature.*'temperature'"):
        load_config("vos", y)
    with pytest.raises(UnitrackError, match="unknown section 'vso'.*'vos'"):
        y.write_text("vso:\n  topk: 1\n")
        load_config("vos", y)
    with pytest.raises(UnitrackError, match="did you mean 'mots'"):
        default_config("motss")


def test_type_errors_are_clear():
    with pytest.raises(UnitrackError, match=r"vos\.topk: expected int, got 'many'"):
        load_config("vos", sets=["vos.topk=many"])
    with pytest.raises(UnitrackError, match="expected section.key=value"):
        load_config("vos", sets=["topk"])
    cfg = load_config("mot", sets=["mot.use_kalman=false", "common.weights=None", "mot.img_size=[544, 320]"])
    assert cfg.section.use_kalman is False and cfg.common.weights is None and cfg.section.img_size == [544, 320]


def test_protocol_excludes_runtime_only_fields():
    a = load_config("vos", sets=["common.device=cpu", "common.batch_size=2"]).protocol()
    b = load_config("vos").protocol()
    assert a == b
    assert load_config("vos", sets=["vos.topk=5"]).protocol() != b
