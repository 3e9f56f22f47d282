# Hands-on mechanistic interpretability: one command to learn, one to test.
#   make lab      set up .venv if missing, open the course in JupyterLab
#   make test     set up .venv if missing, run the whole test suite
# The rest is for instructors and course authors (make help).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help setup sandbox-tools browser-tools lab lab-instructor test test-fast grade grade-class bench-grading bench-overhead release check-release classroom clean

help:
	@echo "make lab            open the course (creates .venv on first use)"
	@echo "make test           run every test, every notebook included"
	@echo "make test-fast      the tests that do not execute notebooks"
	@echo "make lab-instructor the lab with nbgrader's instructor tools (formgrader, Create Assignment)"
	@echo "make grade NB=notebooks/00_orientation.ipynb   grade one notebook"
	@echo "make grade-class A=00_orientation   nbgrader autograde of every student, one per core"
	@echo "make bench-grading  time that against sequential nbgrader autograde (20 students of 00 and 04)"
	@echo "make bench-overhead grading against a plain run, every notebook (the suite measures 00, 07, 09)"
	@echo "make release        regenerate notebooks/ from solutions/ with nbgrader"
	@echo "make check-release  fail if notebooks/ is out of date"
	@echo "make classroom      lay out classroom/ for nbgrader (instructors)"

# The environment: created when missing, reinstalled when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Grading runs learner code in a bubblewrap sandbox (docs/grading.md). Installed here when
# missing and we are root with apt-get (CI, containers); otherwise we say how.
sandbox-tools:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap util-linux; \
	  else \
	    echo "grading needs bubblewrap: sudo apt-get install bubblewrap (or your system's package)"; exit 1; \
	  fi; }

# The browser test (tests/test_browser.py) drives Debian's chromium through Playwright; Playwright's
# own browser download is not used. Installed here when missing and we are root with apt-get.
browser-tools:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "the browser test needs chromium: sudo apt-get install chromium (or your system's package)"; exit 1; \
	  fi; }

# Serve the repository (nbgrader's classroom/ must lie inside it) and open on notebooks/.
# Jupyter refuses root unless told: containers and CI machines often run as root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Learners see the assignment list and Validate; nbgrader's instructor tools (formgrader, Create
# Assignment, the course list, the Nbgrader menu) are switched off by etc/learner, put first on
# Jupyter's config path. Instructors open the lab with all of them: make lab-instructor.
lab: $(STAMP)
	JUPYTER_CONFIG_PATH=$(CURDIR)/etc/learner$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH} \
	  $(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $(ROOT_FLAG)

lab-instructor: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/solutions $(ROOT_FLAG)

# Two passes: the tests that measure no time, two at a time (a module per worker), torch on one thread
# each (two workers with two threads each on two cores spun against each other: 10x slower); then those
# that measure time or keep both cores busy themselves (mark `serial`, tests/conftest.py), one at a time.
# Both always run.
test: $(STAMP) sandbox-tools browser-tools
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -m "not serial" -n 2 --dist loadfile; first=$$?; \
	$(BIN)/python -m pytest -m serial; second=$$?; \
	test $$first -eq 0 -a $$second -eq 0

test-fast: $(STAMP) sandbox-tools
	$(BIN)/python -m pytest -m "not notebooks"

grade: $(STAMP) sandbox-tools
	@test -n "$(NB)" || (echo "say which notebook: make grade NB=notebooks/00_orientation.ipynb" && exit 2)
	$(BIN)/mi-grade "$(NB)"

grade-class: $(STAMP) sandbox-tools
	@test -n "$(A)" || (echo "say which assignment: make grade-class A=00_orientation" && exit 2)
	$(BIN)/python -m mi_helpers.batch "$(A)"

bench-grading: $(STAMP) sandbox-tools
	$(BIN)/python -m mi_helpers.batch --benchmark

bench-overhead: $(STAMP) sandbox-tools
	MI_MEASURE_EVERY_NOTEBOOK=1 $(BIN)/python -m pytest -m serial tests/test_notebooks.py -k grading_costs

release: $(STAMP)
	$(BIN)/python -m mi_helpers.release

check-release: $(STAMP)
	$(BIN)/python -m mi_helpers.release --check

classroom: $(STAMP)
	$(BIN)/python -m mi_helpers.release --classroom

clean:
	rm -rf classroom .pytest_cache .hypothesis build
