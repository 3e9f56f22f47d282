"""The course in a real browser: JupyterLab as `make lab` starts it, driven by Playwright and chromium.

A learner's first steps, on copies of the learner notebooks in a temporary folder:

- notebook 00: run the set-up cell, type a right answer to exercise 00.1 into its cell, run it and the
  check under it, and see the check's ✔ line; then a wrong answer, and see the check's ✘ message, with no
  Python traceback from inside mi_helpers;
- notebook 04: run the set-up and the training cell, see tqdm's progress bar render as a widget, and the
  loss curve as a matplotlib figure.

Screenshots of every stage (and of the moment of a failure) are written to the test's tmp_path.
Chromium is Debian's (`make browser-tools`); Playwright's own browser download is not used.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import NOTEBOOKS, ROOT, SOLUTIONS, free_ports, notebook_path

# it runs notebook cells; pytest-timeout (a test dependency) stops it if a bounded wait below ever is not
pytestmark = [pytest.mark.notebooks, pytest.mark.timeout(300)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LEARNER_CONFIG = ROOT / "etc" / "learner"
WAIT_MS = 60_000  # the longest any one wait in the browser may take
TRAINING_MS = 180_000  # but for 04's training cell: about 20 s on two idle cores, one thread beside other tests
TRACEBACK_SIGNS = ("Traceback (most recent call last)", "mi_helpers/", "Cell In[", "-" * 40,
                   "ExerciseFailed", "AssertionError")


# ------------------------------------------------------------------ the notebooks' cells

def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _index_of_grade_id(cells: list[dict], grade_id: str) -> int:
    found = [i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(found) == 1, f"one cell with grade_id {grade_id} expected, found {len(found)}"
    return found[0]


def _setup_index(cells: list[dict]) -> int:
    return next(i for i, c in enumerate(cells)
                if c["cell_type"] == "code" and "setup" in c.get("metadata", {}).get("tags", []))


# ------------------------------------------------------------------ the lab, as `make lab` starts it

def _api(base: str, token: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        body = reply.read()
    return json.loads(body) if body else None


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:
        return []


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on a copy of notebooks 00 and 04, with the learner's config; yields (base url, token, folder)."""
    pytest.importorskip("playwright.sync_api", reason="the browser test needs the Python package playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip("the browser test needs chromium: make browser-tools (or sudo apt-get install chromium)")
    course = tmp_path / "course"
    course.mkdir()
    for number in ("00", "04"):
        shutil.copy(notebook_path(NOTEBOOKS, number), course)
    (port,), token = free_ports(1), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_PATH": f"{LEARNER_CONFIG}"
           + (f":{os.environ['JUPYTER_CONFIG_PATH']}" if os.environ.get("JUPYTER_CONFIG_PATH") else ""),
           # a learner's first day: no settings or open tabs saved by an earlier run
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces")}
    log = open(tmp_path / "jupyter.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", "--allow-root", f"--ServerApp.root_dir={course}"],
        env=env, cwd=course, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _api(base, token, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not answer on /api/status within 60 s:\n"
                                + (tmp_path / "jupyter.log").read_text(errors="replace")[-3000:])
                time.sleep(0.3)
        yield base, token, course
    finally:
        leftovers = _descendants(server.pid)   # the kernels, before the server forgets them
        try:
            for kernel in _api(base, token, "/api/kernels") or []:
                _api(base, token, f"/api/kernels/{kernel['id']}", method="DELETE")
        except Exception:
            pass
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            leftovers += _descendants(server.pid)
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        for process in leftovers:
            try:
                process.kill()
            except Exception:
                pass
        log.close()


# ------------------------------------------------------------------ driving JupyterLab

class Lab:
    """One notebook open in JupyterLab, cells addressed by their index in the notebook's JSON."""

    def __init__(self, page, shots: Path, folder: Path):
        self.page = page
        self.shots = shots
        self.folder = folder
        self.started = time.monotonic()
        self.stages: list[str] = []   # each screenshot, with the seconds since the test began

    def shot(self, name: str) -> None:
        self.stages.append(f"{time.monotonic() - self.started:6.1f} s  {name}")
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=False)

    def open(self, base: str, token: str, name: str) -> None:
        # reset: the workspace saved while the previous notebook was open is not restored, so this
        # notebook is the only one open and cells can be found by their index
        self.page.goto(f"{base}/lab/tree/{name}?reset&token={token}", timeout=WAIT_MS)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=WAIT_MS)
        self.wait_idle()
        panels = self.page.locator(".jp-NotebookPanel")
        assert panels.count() == 1, f"{panels.count()} notebooks open, not just {name}"
        self.page.wait_for_function("n => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length === n",
                                    arg=len(_cells(self.folder / name)), timeout=WAIT_MS)

    def wait_idle(self) -> None:
        """The open notebook's kernel is started and idle (the toolbar's execution indicator says so)."""
        self.page.wait_for_selector(
            ".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']",
            timeout=WAIT_MS)

    def cell(self, index: int):
        notebook = self.page.locator(".jp-NotebookPanel .jp-Notebook")
        return notebook.locator(".jp-Cell").nth(index)

    def prompt(self, index: int) -> str:
        return self.cell(index).locator(".jp-InputArea-prompt").inner_text().strip()

    def start(self, index: int) -> str:
        """Run cell ``index`` as a learner does (select it, Shift+Enter); return its prompt from before."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed(timeout=WAIT_MS)
        before = self.prompt(index)
        cell.locator(".jp-InputArea-prompt").click()   # selects the cell, command mode
        self.page.keyboard.press("Shift+Enter")
        return before

    def finished(self, index: int, before: str, timeout: int = WAIT_MS) -> str:
        """Wait until cell ``index`` has a new execution count ([*] turned [n]); return its outputs' text."""
        handle = self.cell(index).locator(".jp-InputArea-prompt").element_handle()
        self.page.wait_for_function(
            """([el, before]) => { const t = el.textContent.trim();
                                   return /^\\[\\d+\\]:$/.test(t) && t !== before; }""",
            arg=[handle, before], timeout=timeout)
        return self.outputs(index)

    def run(self, index: int) -> str:
        """Run cell ``index`` and wait until it has run; return its outputs' text."""
        return self.finished(index, self.start(index))

    def outputs(self, index: int) -> str:
        area = self.cell(index).locator(".jp-OutputArea")
        return area.inner_text() if area.count() else ""

    def set_source(self, index: int, text: str) -> None:
        """Replace the text of cell ``index`` the way a learner does: click into it, select all, type."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed(timeout=WAIT_MS)
        cell.locator(".cm-content").click()
        self.page.wait_for_selector(".jp-Notebook.jp-mod-editMode", timeout=WAIT_MS)
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(text)
        typed = self.page.evaluate(
            "el => { try { return el.cmView.view.state.doc.toString(); } catch (e) { return null; } }",
            cell.locator(".cm-content").element_handle())
        if typed is None:   # CodeMirror's view is not reachable: read the lines the editor shows
            typed = "\n".join(line.inner_text() for line in cell.locator(".cm-line").all())
        assert _normalised(typed) == _normalised(text), f"the editor holds\n{typed}\nnot\n{text}"
        self.page.keyboard.press("Escape")   # back to command mode


def _normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\u00a0", " ").strip().splitlines())


@pytest.fixture
def browser_page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs the Python package playwright")
    sync_playwright = sync_api.sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            yield page
        finally:
            browser.close()


def _no_traceback(text: str, where: str) -> None:
    for sign in TRACEBACK_SIGNS:
        assert sign not in text, f"{where}: the learner sees a traceback ({sign!r} in the output):\n{text}"


# ------------------------------------------------------------------ the test

def test_a_learner_solves_00_1_and_trains_the_cnn_of_04_in_the_browser(lab, browser_page, tmp_path):
    base, token, course = lab
    browser = Lab(browser_page, tmp_path, course)
    try:
        _notebook_00(browser, base, token, course)
        _notebook_04(browser, base, token, course)
    except BaseException:
        try:
            browser.shot("failure")
        except Exception:
            pass
        raise
    finally:
        print("stages (screenshots in", tmp_path, "):", *browser.stages, sep="\n  ")


def _notebook_00(browser: Lab, base: str, token: str, course: Path) -> None:
    name = notebook_path(course, "00").name
    cells = _cells(course / name)
    setup = _setup_index(cells)
    answer = _index_of_grade_id(cells, "00_1_centre_columns")
    check = _index_of_grade_id(cells, "test_00_1_centre_columns")
    assert "raise NotImplementedError()" in _source(cells[answer])
    assert "check_centre_columns(centre_columns)" in _source(cells[check])
    solution_cells = _cells(notebook_path(SOLUTIONS, "00"))
    right = _source(solution_cells[_index_of_grade_id(solution_cells, "00_1_centre_columns")])
    right = re.sub(r"\s*### (BEGIN|END) SOLUTION", "", right)
    # a plausible slip: the mean of each row, not of each column
    wrong = re.sub(r"return .*", "return x - x.mean(dim=1, keepdim=True)", right)
    assert wrong != right and "dim=0" not in wrong

    browser.open(base, token, name)
    browser.shot("00-opened")
    out = browser.run(setup)
    _no_traceback(out, "00's set-up cell")
    browser.shot("00-setup-ran")

    browser.set_source(answer, right)
    _no_traceback(browser.run(answer), "00.1's answer cell (right answer)")
    out = browser.run(check)
    browser.shot("00-1-right")
    assert "✔ 00.1 centre_columns passed" in out, f"no ✔ line under 00.1's check:\n{out}"
    assert "✘" not in out
    _no_traceback(out, "00.1's check (right answer)")

    browser.set_source(answer, wrong)
    _no_traceback(browser.run(answer), "00.1's answer cell (wrong answer)")
    out = browser.run(check)
    browser.shot("00-1-wrong")
    assert "✔" not in out, f"a wrong answer passed 00.1's check:\n{out}"
    assert out.lstrip().startswith("✘ 00.1 centre_columns:"), f"00.1's check does not open with its ✘ line:\n{out}"
    assert "hint:" in out and "ROW" in out, f"00.1's check names no mistake:\n{out}"
    _no_traceback(out, "00.1's check (wrong answer)")
    frames = browser.cell(check).locator(".jp-OutputArea .ansi-green-fg, .jp-OutputArea .ansi-cyan-fg")
    assert frames.count() == 0, "00.1's check shows coloured traceback frames"
    red = browser.cell(check).locator(".jp-OutputArea .ansi-red-fg").all_inner_texts()
    assert all(line.startswith("✘") for line in red), f"red lines other than the verdict: {red}"


def _notebook_04(browser: Lab, base: str, token: str, course: Path) -> None:
    name = notebook_path(course, "04").name
    cells = _cells(course / name)
    setup = _setup_index(cells)
    training = next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and "train(" in _source(c))
    figure = next(i for i, c in enumerate(cells) if i > training and c["cell_type"] == "code"
                  and "plt.show()" in _source(c))
    needed = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and setup <= i <= figure]
    for i in needed:
        meta = cells[i].get("metadata", {}).get("nbgrader", {})
        assert not meta.get("solution") and "NotImplementedError" not in _source(cells[i]), \
            f"cell {i} of {name} is an exercise: put the solution in before running it"

    browser.open(base, token, name)
    browser.shot("04-opened")
    # Every progress bar that shows up while the training runs is recorded: tqdm's leave=False takes
    # the widget away again when the training ends.
    browser.page.evaluate("""() => {
        const texts = new Set();   // tqdm spaces its text with U+2007 (figure space)
        window.__progress = () => [...texts];
        const seen = () => document.querySelectorAll('.jp-OutputArea .widget-hprogress').forEach(
            bar => texts.add((bar.closest('.widget-hbox') || bar).textContent.replace(/\\s/g, ' ').trim()));
        new MutationObserver(seen).observe(document.body, {childList: true, subtree: true, attributes: true,
                                                          attributeFilter: ['style']});
    }""")
    for i in needed:
        if i == training:
            before = browser.start(i)
            bar = browser.cell(i).locator(".jp-OutputArea .widget-hprogress")
            try:
                bar.first.wait_for(state="attached", timeout=WAIT_MS)
                browser.shot("04-training")
            except Exception:
                pass   # a fast run may have taken the bar away already: the observer has seen it
            out = browser.finished(i, before, timeout=TRAINING_MS)
            browser.shot("04-trained")
            assert "test accuracy" in out, f"the training cell printed no accuracy:\n{out}"
            assert "IProgress not found" not in out, f"tqdm fell back to text:\n{out}"
        else:
            out = browser.run(i)
        _no_traceback(out, f"cell {i} of {name}")
    progress = browser.page.evaluate("window.__progress()")
    assert any("digits CNN" in text for text in progress), \
        f"no tqdm progress widget for the training rendered while the CNN trained: {progress[:5]}"
    image = browser.cell(figure).locator(".jp-OutputArea img[src^='data:image/png']")
    image.first.wait_for(state="visible", timeout=WAIT_MS)
    image.first.scroll_into_view_if_needed()
    browser.shot("04-figure")
    assert image.first.evaluate("img => img.naturalWidth") > 100, "the loss curve is an empty image"
