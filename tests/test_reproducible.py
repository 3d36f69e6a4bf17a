"""Reproducible builds (issue 11): one model generated and built in two folders gives byte-identical projects
and firmware, and the firmware's HELLO reports the hash of the model the host has.

The second folder's path has spaces, unicode, quotes and shell metacharacters: the local platform never puts
a project path on a command line (platforms/tinyml-arm/builder/main.py), and the folder is not recorded in
the manifest. Generating and building write nothing outside the project folder (and tinyml-fw's home).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

EXE = Path(sys.executable).with_name("tinyml-fw")
ODD = "b dir ü 'q' \"dq\" `id`; & | * (x) [1] %s #"


def _cli(*args: str, cwd: Path) -> None:
    result = subprocess.run([str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr


def _tree(folder: Path, skip: str | None = ".pio") -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and (skip is None or skip not in p.relative_to(folder).parts)}


def test_two_folders_give_identical_sources_and_firmware(tmp_path, hello_world_model):
    work = tmp_path / "cwd"
    work.mkdir()
    model_before = hello_world_model.read_bytes()
    projects = [tmp_path / "a" / "project", tmp_path / ODD / "project"]
    for project in projects:
        _cli("generate", str(hello_world_model), "--out", str(project), cwd=work)
        _cli("build", str(project), cwd=work)

    first, second = (_tree(p) for p in projects)
    assert first.keys() == second.keys() and "tinyml-fw.json" in first and "src/tfw/app/tfw_app.c" in first
    differing = [rel for rel in first if first[rel] != second[rel]]
    assert differing == []
    assert str(projects[0]) not in first["tinyml-fw.json"].decode()  # the folder is not recorded

    built = ".pio/build/mps2-an386"
    for name in ("firmware.elf", "firmware.bin"):
        a, b = ((p / built / name).read_bytes() for p in projects)
        assert len(a) > 1000 and a == b, name
    for name in ("firmware.elf", "firmware.bin"):  # nor is the folder anywhere in the firmware
        assert b"/a/project" not in (projects[0] / built / name).read_bytes()

    # Nothing was written beside the projects: not in the working folder, not next to the model.
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cwd", "a", ODD])
    assert sorted(p.name for p in (tmp_path / ODD).iterdir()) == ["project"]
    assert hello_world_model.read_bytes() == model_before


def test_hello_reports_the_hosts_model_hash(tmp_path, hello_world_model):
    from tinyml_fw.flash import device
    from tinyml_fw.generate import Project
    from tinyml_fw.link import DeviceLink

    project = tmp_path / ODD
    _cli("generate", str(hello_world_model), "--out", str(project), cwd=tmp_path)
    _cli("build", str(project), cwd=tmp_path)
    host_sha = hashlib.sha256(hello_world_model.read_bytes()).hexdigest()
    manifest = json.loads((project / "tinyml-fw.json").read_text())
    assert manifest["model_sha256"] == host_sha
    with device(Project.load(project)) as url, DeviceLink(url) as link:
        info = link.hello()
    assert info.model_sha256 == host_sha
    assert info.board == "mps2-an386" and info.runtime == "aot"
