"""`workshop data export` / `import`: the dataset as one file, refused whole when it is not
one of ours or is damaged, with the dataset in place left as it was."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from django.db import connection

from workshop.errors import WorkshopError
from workshop.shop.data import archive, load

pytestmark = pytest.mark.django_db


def _state() -> tuple:
    from workshop.shop.models import Customer, Dataset

    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(hashtext(p::text)::bigint) FROM shop_product p")
        products = cursor.fetchone()[0]
    return Customer.objects.count(), products, tuple(Dataset.objects.values_list("id", flat=True))


@pytest.fixture
def exported(tmp_path):
    path = tmp_path / "shop.dataset"
    manifest = archive.export(path)
    assert manifest["size"] == "tiny" and {t["name"] for t in manifest["tables"]} >= {"shop_customer", "shop_order"}
    return path


def test_export_then_import_gives_the_same_dataset(exported):
    from workshop.shop.models import Product

    before = _state()
    Product.objects.filter(id=1).update(title="changed after the export")
    result = archive.import_(exported, progress=False)
    assert result.loaded and result.rows == sum(
        t["rows"] for t in json.loads(_member(exported, "manifest.json"))["tables"]
    )
    after = _state()
    assert after[:2] == before[:2]  # the export was of the dataset as loaded, not the change
    assert load.current().size == "tiny"


def _member(path, name) -> bytes:
    with tarfile.open(path, "r:gz") as tar:
        return tar.extractfile(name).read()


def _rewrite(path, out, change):
    """A copy of the archive with `change(name, data) -> data` applied to each member."""
    with tarfile.open(path, "r:gz") as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = change(member.name, src.extractfile(member).read())
            if not data:
                continue
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _flip_a_row(name, data):
    return data.replace(b"\t", b"\tX", 1) if name == "shop_customer.tsv" else data


def _drop_manifest(name, data):
    return b"" if name == "manifest.json" else data


def _other_generator(name, data):
    if name != "manifest.json":
        return data
    manifest = json.loads(data)
    manifest["generator_version"] = -1
    return json.dumps(manifest).encode()


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p, t: _rewrite(p, t / "damaged.dataset", _flip_a_row), "does not match its checksum"),
        (lambda p, t: _rewrite(p, t / "old.dataset", _other_generator), "another workshop version"),
        (lambda p, t: _write(t / "random.dataset", b"\x00garbage" * 100), "gzip'd tar"),
        (lambda p, t: _rewrite(p, t / "headless.dataset", _drop_manifest), "no manifest"),
        (lambda p, t: _write(t / "cut.dataset", p.read_bytes()[: p.stat().st_size // 2]), "import"),
    ],
    ids=["damaged-table", "other-version", "not-an-archive", "no-manifest", "truncated"],
)
def test_a_foreign_or_damaged_file_is_refused_and_the_dataset_stays(exported, tmp_path, make, expected):
    before = _state()
    bad = make(exported, tmp_path)
    with pytest.raises(WorkshopError) as refused:
        archive.import_(bad, progress=False)
    message = str(refused.value)
    assert expected in message and "\n" not in message
    assert _state() == before


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(WorkshopError, match="No file"):
        archive.import_(tmp_path / "nowhere.dataset", progress=False)
