"""The notebooks (notebooks/*.py, jupytext percent format, and their .ipynb).

Fast: each .ipynb holds the same cells as its .py source, and every notebook ends with
pictures. Slow (-m slow): every notebook executes top to bottom in a fresh kernel with
its small settings, in a temporary working directory.
"""

import pathlib

import pytest

jupytext = pytest.importorskip("jupytext")

NOTEBOOKS = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(p for p in NOTEBOOKS.glob("*.py") if p.name != "build.py")
PICTURE_CALLS = ("display(Image(", "plt.show()", "Image(filename=")


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells
            if cell.source.strip()]


def test_there_are_five_notebooks():
    assert len(SOURCES) == 5, [p.name for p in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_ipynb_is_in_sync_with_its_source(source):
    ipynb = source.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run python notebooks/build.py {source.stem}"
    assert _cells(jupytext.read(ipynb)) == _cells(jupytext.read(source)), (
        f"{ipynb.name} differs from {source.name}: run python notebooks/build.py {source.stem}")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_ends_with_pictures(source):
    code = [cell for cell in jupytext.read(source).cells if cell.cell_type == "code"]
    assert any(call in code[-1].source for call in PICTURE_CALLS), code[-1].source
    executed = jupytext.read(source.with_suffix(".ipynb"))
    last = [cell for cell in executed.cells if cell.cell_type == "code"][-1]
    if last.get("outputs"):
        mimes = {mime for output in last.outputs for mime in output.get("data", {})}
        assert mimes & {"image/png", "image/gif"}, mimes


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_imports_the_library_not_copies(source):
    text = source.read_text(encoding="utf-8")
    assert "import gan_tf" in text
    for forbidden in ("def train_step", "class Generator", "class Discriminator",
                      "tf.compat.v1"):
        assert forbidden not in text, forbidden


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_executes(source, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv("GAN_TF_FULL", raising=False)
    notebook = jupytext.read(source)
    nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    last = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
    mimes = {mime for output in last.outputs for mime in output.get("data", {})}
    assert mimes & {"image/png", "image/gif"}, mimes
    assert not any(p.suffix == ".png" for p in NOTEBOOKS.rglob("*.png")), "artifacts in repo"
