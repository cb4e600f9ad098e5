"""Regenerates notebooks/*.ipynb from their jupytext sources (notebooks/*.py).

    python notebooks/build.py                  # every notebook, executed (small settings)
    python notebooks/build.py gan_principles_mnist --no-execute

Each notebook is executed in a fresh kernel whose working directory is a temporary
folder, so its runs/ artifacts never land in the repository; the outputs (pictures,
numbers) are kept in the .ipynb, except TensorFlow's start-up and SavedModel-export log
lines (NOISE), which say nothing about the notebook.
"""

import pathlib
import re
import sys
import tempfile
import time

import jupytext
import nbclient

HERE = pathlib.Path(__file__).resolve().parent
NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ "
                   r"|INFO:tensorflow:Assets written to)")


def drop_noise(notebook):
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                lines = [line for line in output.text.splitlines(keepends=True)
                         if not NOISE.match(line)]
                if not "".join(lines).strip():
                    continue
                output.text = "".join(lines)
            outputs.append(output)
        if cell.cell_type == "code":
            cell.outputs = outputs


def sources(names=()):
    paths = sorted(p for p in HERE.glob("*.py") if p.name != "build.py")
    return [p for p in paths if not names or p.stem in names]


def build(path, execute=True):
    notebook = jupytext.read(path)
    if execute:
        with tempfile.TemporaryDirectory() as tmp:
            nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                    resources={"metadata": {"path": tmp}}).execute()
        drop_noise(notebook)
    jupytext.write(notebook, path.with_suffix(".ipynb"))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    for source in sources(args):
        start = time.time()
        build(source, execute="--no-execute" not in sys.argv)
        print(f"{source.with_suffix('.ipynb').name}: {time.time() - start:.0f} s")
