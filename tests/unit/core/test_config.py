"""Config validation: each kind of error, all reported at once."""

from pathlib import Path

import pytest

from mhubio.core.config import apply_overrides, build_chain, parse_config
from mhubio.core.data import DataItem, Instance
from mhubio.core.errors import ConfigError
from mhubio.core.filetypes import FileType
from mhubio.core.module import Importer, ImportResult, Input, ModelInfo, Module, Output, RunContext
from mhubio.core.params import Params
from mhubio.core.registry import ModuleRegistry


class FakeImporter(Importer):
    class Params(Params):
        modalities: list[str] = ["CT"]

    def declare_outputs(self):
        return {m.lower(): Output(FileType.DICOM, {"mod": m.lower()}) for m in self.params.modalities}

    def import_instances(self, input_dir):
        return ImportResult([])


class Convert(Module):
    inputs = {"image": Input("dicom")}
    outputs = {"out": Output(FileType.NIFTI, inherit="image")}


class Segment(Module):
    class Params(Params):
        threshold: float = 0.5
        labels: dict[int, str] = {1: "HEART"}

    inputs = {"image": Input("nifti:mod=ct")}

    def declare_outputs(self):
        return {"seg": Output(FileType.NIFTI, {"mod": "seg", "roi": ",".join(self.params.labels.values())})}


class NeedsSeg(Module):
    inputs = {"seg": Input("nifti:mod=seg:roi=HEART"), "extra": Input("json", optional=True)}


REGISTRY = ModuleRegistry([FakeImporter, Convert, Segment, NeedsSeg])


def _context(tmp_path: Path) -> RunContext:
    return RunContext(tmp_path, tmp_path, tmp_path, ModelInfo("test", "1"))


def _chain(raw, tmp_path):
    return build_chain(parse_config(raw), REGISTRY, _context(tmp_path))


def _raw(*steps, modules=None):
    return {"general": {"model": "test"}, "execute": list(steps), "modules": modules or {}}


def test_valid_chain(tmp_path):
    chain = _chain(_raw("FakeImporter", "Convert", {"Segment": {"threshold": 0.3}}, "NeedsSeg"), tmp_path)
    assert [s.id for s in chain.all_steps] == ["FakeImporter", "Convert", "Segment", "NeedsSeg"]
    assert chain.steps[1].module.params.threshold == 0.3


def test_module_section_and_inline_params_merge(tmp_path):
    raw = _raw("FakeImporter", "Convert", {"Segment": {"threshold": 0.3}}, "Segment", "NeedsSeg",
               modules={"Segment": {"threshold": 0.9, "labels": {1: "HEART", 2: "AORTA"}}})
    chain = _chain(raw, tmp_path)
    first, second = chain.steps[1], chain.steps[2]
    assert (first.id, second.id) == ("Segment", "Segment#2")
    assert first.module.params.threshold == 0.3 and second.module.params.threshold == 0.9
    assert first.module.params.labels == {1: "HEART", 2: "AORTA"}


def test_all_problems_reported_at_once(tmp_path):
    raw = _raw("FakeImporter", "Convrt", {"Segment": {"threshold": "abc", "bogus": 1}}, "NeedsSeg",
               modules={"Unused": {}})
    with pytest.raises(ConfigError) as info:
        _chain(raw, tmp_path)
    text = str(info.value)
    assert "unknown module 'Convrt'" in text and "did you mean 'Convert'" in text
    assert "'threshold'" in text and "abc" in text
    assert "'bogus': unknown parameter" in text
    assert "'Unused' is configured but no step uses it" in text
    assert len(info.value.problems) == 4


def test_query_nothing_produces(tmp_path):
    with pytest.raises(ConfigError, match="input 'image' query 'nifti:mod=ct' matches nothing"):
        _chain(_raw({"FakeImporter": {"modalities": ["MR"]}}, "Convert", "Segment"), tmp_path)


def test_roi_mismatch_is_a_config_error(tmp_path):
    raw = _raw("FakeImporter", "Convert", {"Segment": {"labels": {1: "LIVER"}}}, "NeedsSeg")
    with pytest.raises(ConfigError, match="'nifti:mod=seg:roi=HEART' matches nothing"):
        _chain(raw, tmp_path)


def test_input_override_and_unknown_input(tmp_path):
    raw = _raw("FakeImporter", "Convert",
               {"module": "Segment", "id": "seg", "inputs": {"image": "nifti:mod=mr", "nope": "json"}})
    with pytest.raises(ConfigError) as info:
        _chain(raw, tmp_path)
    assert "unknown input 'nope'" in str(info.value)
    assert "query 'nifti:mod=mr' matches nothing" in str(info.value)


def test_importer_must_come_first(tmp_path):
    with pytest.raises(ConfigError, match="first step must be an importer"):
        _chain(_raw("Convert", "FakeImporter"), tmp_path)


@pytest.mark.parametrize(
    "raw, message",
    [
        ([], "must be a mapping"),
        ({"execute": ["A"]}, "general"),
        ({"general": {"model": "x"}, "execute": []}, "non-empty list"),
        ({"general": {"model": "x"}, "execute": ["A"], "extra": 1}, "unknown section 'extra'"),
        ({"general": {"model": "x"}, "execute": [{"A": {}, "B": {}}]}, "must be a module name"),
        (
            {"general": {"model": "x"}, "execute": [{"module": "A", "id": "a"}, {"module": "B", "id": "a"}]},
            "used twice",
        ),
    ],
)
def test_structure_errors(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


def test_overrides(tmp_path):
    config = parse_config(_raw("FakeImporter", "Convert", "Segment", "NeedsSeg"))
    config = apply_overrides(config, ["Segment.threshold=0.25", "general.version=2.0"])
    chain = build_chain(config, REGISTRY, _context(tmp_path))
    assert chain.steps[1].module.params.threshold == 0.25
    assert config.general.version == "2.0"
    with pytest.raises(ConfigError, match="unknown step or module 'Segmnt'"):
        apply_overrides(config, ["Segmnt.threshold=1"])
    with pytest.raises(ConfigError, match="expected TARGET.PARAM=VALUE"):
        apply_overrides(config, ["threshold"])


def test_data_item_labels_define_roi(tmp_path):
    item = DataItem(FileType.NIFTI, tmp_path / "x.nii.gz", {"mod": "seg"}, labels={2: "HEART", 1: "AORTA"})
    assert item.meta["roi"] == "AORTA,HEART"
    with pytest.raises(ValueError):
        item.set_labels({0: "BACKGROUND"})
    instance = Instance("1.2.3", {}, tmp_path)
    instance.add(item)
    assert instance.find("nifti:roi=HEART") == [item]
    assert instance.find("nifti:roi=LIVER") == []
