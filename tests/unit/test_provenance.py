"""offpolicy.provenance: one versions dict, one record timestamp format, one folder stamp, one CPU count."""

import re
from datetime import datetime

from offpolicy import __version__, provenance


def test_versions_name_offpolicy_its_core_libraries_and_python():
    versions = provenance.versions()
    assert list(versions)[:7] == ["offpolicy", "jax", "flax", "optax", "gymnasium", "numpy", "python"]
    assert versions["offpolicy"] == __version__
    import jax
    import numpy

    assert versions["jax"] == jax.__version__ and versions["numpy"] == numpy.__version__
    assert "scipy" in versions and "jaxlib" in versions  # installed here: the optional ones that are, are listed


def test_one_timestamp_format_for_records_and_one_for_folder_names():
    stamp = provenance.now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", stamp)
    assert datetime.fromisoformat(stamp).utcoffset().total_seconds() == 0
    assert re.fullmatch(r"\d{8}-\d{6}", provenance.stamp())


def test_new_stamped_dir_never_returns_an_existing_path(tmp_path):
    first = provenance.new_stamped_dir(tmp_path, "sweep")
    assert re.fullmatch(r"sweep_\d{8}-\d{6}", first.name) and not first.exists()
    first.mkdir()
    second = provenance.new_stamped_dir(tmp_path, "sweep")
    assert not second.exists() and second != first  # -1 appended within the same second, or a later stamp


def test_cpu_count_and_machine():
    assert provenance.cpu_count() >= 1
    info = provenance.machine()
    assert info["usable_cores"] == provenance.cpu_count() and info["cores"] >= info["usable_cores"]
