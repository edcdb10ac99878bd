"""tgc.runtime.load picks an artifact's loader by its manifest's format from the runtime's own table
(the runtime cannot consult the target registry): the table must say what each target declares."""

from tgc.dialect import targets
from tgc.runtime import loaders


def test_every_target_format_has_the_loader_its_target_names():
    declared = {
        targets.get(name).artifact_format: targets.get(name).runtime_loader
        for name in targets.names()
        if targets.get(name).artifact_format
    }
    assert declared == {fmt: loaders.LOADERS[fmt] for fmt in declared}
    assert set(loaders.LOADERS) == set(declared)  # no format left without a target


def test_an_unreadable_manifest_goes_to_the_cpu_loader(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    assert loaders.artifact_format(str(tmp_path)) == loaders.CPU_FORMAT
    assert loaders.artifact_format(str(tmp_path / "missing")) == loaders.CPU_FORMAT


def test_an_accel_manifest_goes_to_the_simulators_loader(tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": "tgc-accel-artifact"}')
    assert loaders.artifact_format(str(tmp_path)) == "tgc-accel-artifact"
    assert loaders.LOADERS["tgc-accel-artifact"] == "tgc.runtime.accel_artifact:load"
