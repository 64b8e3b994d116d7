# Two commands on a fresh Debian/Ubuntu machine, as root:
#   make demo   - set up everything, start the lab, run a maintenance window, write the report
#   make test   - set up everything and run every test (lint, unit, integration, molecule)
# Both are idempotent: a second run skips what is already in place.

SHELL := /bin/bash
PROJECT := $(CURDIR)
VENV := $(PROJECT)/.venv
PY := $(VENV)/bin/python
export MAINT_HOME ?= $(PROJECT)/var
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(PROJECT)/ansible.cfg
export CONTAINERS_CONF := $(PROJECT)/lab/podman/containers.conf
export CONTAINERS_STORAGE_CONF := $(MAINT_HOME)/lab/storage.conf
export ANSIBLE_ROLES_PATH := $(PROJECT)/roles

# Debian packages the controller, the lab and the tests need (one list, one place).
# `maintctl doctor` reads this list: every tool it checks must come from a package named here.
APT_PACKAGES := python3 python3-venv podman runc mmdebstrap uidmap netavark aardvark-dns iptables openssh-client \
	smartmontools clamav clamav-testfiles restic borgbackup dpkg-dev apt-utils \
	chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core postgresql

STAMP_APT := $(MAINT_HOME)/.stamp-apt-$(shell echo $(APT_PACKAGES) | md5sum | cut -c1-12)
STAMP_PIP := $(VENV)/.stamp-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: demo test deps doctor lab lab-down lint unit integration molecule clean bench bench-run bench-supervision \
	bench-orchestrator bench-window bench-restore i18n

# `maintctl lab up` and `maintctl demo` run their own part of `maintctl doctor` first.
# `maintctl demo` starts the lab itself: the lab is brought up once, not twice, and a lab already up
# and healthy (every host answering SSH, none restarted since `lab up` laid down its fixtures) is reused.
demo: deps
	$(VENV)/bin/maintctl demo

test: deps doctor lab lint molecule unit integration

# Every prerequisite of the controller, the lab and the tests: one line per problem, with its fix.
doctor: deps
	$(VENV)/bin/maintctl doctor

deps: $(STAMP_APT) $(STAMP_PIP)

$(STAMP_APT):
	@mkdir -p $(MAINT_HOME) && chmod 0700 $(MAINT_HOME)
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null
	@rm -f $(MAINT_HOME)/.stamp-apt-* && install -m 0600 /dev/null $@

$(STAMP_PIP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.stamp-* && touch $@

lab: deps
	$(VENV)/bin/maintctl lab up

# The report's message catalogues (reports/README.md, Languages): extract the labels and the results' message
# templates (babel.cfg), merge them into each locale's .po, compile the .mo files (committed, tested up to date).
I18N := reports/maintreport/locales
i18n: deps
	$(VENV)/bin/pybabel extract -F babel.cfg --no-default-keywords -k N_ -k M_ -k L_:1c,2 --add-location=file \
		--sort-output --no-wrap --project=maintctl -o $(I18N)/maintreport.pot .
	$(VENV)/bin/pybabel update -D maintreport -i $(I18N)/maintreport.pot -d $(I18N) \
		--ignore-obsolete --no-wrap
	$(VENV)/bin/pybabel compile -D maintreport -d $(I18N) --statistics

lab-down:
	$(VENV)/bin/maintctl lab down

lint: deps
	$(VENV)/bin/ruff check runner reports plugins tests
	$(VENV)/bin/mypy
	$(VENV)/bin/yamllint -s .
	$(VENV)/bin/ansible-lint --offline -q

# Unit tests in parallel (one worker per core); the slowest are listed at the end of every run.
unit: deps
	$(VENV)/bin/pytest -q -n auto --durations=15 tests/unit

integration: deps lab
	$(VENV)/bin/pytest -q -m lab --durations=15 tests/integration

molecule: deps lab
	@set -e; for scenario in roles/*/molecule/default; do \
		role=$${scenario%/molecule/default}; \
		echo "== molecule: $$role"; \
		(cd $$role && $(VENV)/bin/molecule test -s default); \
	done

clean: lab-down
	rm -rf $(MAINT_HOME)/runs $(MAINT_HOME)/store.db $(MAINT_HOME)/reports

# Benchmarks (not part of make test): the report over 10,000 hosts x 30 checks (reports/README.md),
# and 500 availability probes against loopback listeners (README.md, Supervision).
bench: deps
	$(PY) tests/benchmarks/bench_report.py
	$(PY) tests/benchmarks/bench_probe.py

# maintctl's own cost, no lab (not part of make test): maintctl run against the very ansible-playbook it runs,
# over 20 and 100 simulated local hosts, interleaved rounds; the startup of maintctl --version and validate.
bench-orchestrator: deps
	$(PY) tests/benchmarks/bench_orchestrator.py

# The check-only window against ansible -m ping over 50, 100 and 200 simulated local hosts (README.md,
# Performance; about 20 minutes here, `python tests/benchmarks/bench_window.py --quick` for 25 and 50).
bench-window: deps
	$(PY) tests/benchmarks/bench_window.py --hosts 50,100,200 --rounds 3

# The restore tests' cost beyond restic's and borg's own time, on real repositories built here (no lab).
bench-restore: deps
	$(PY) tests/benchmarks/bench_restore.py

# Supervision benchmark on the lab (not part of make test): a probe and a watch cycle against ansible -m ping.
bench-supervision: deps lab
	$(PY) tests/benchmarks/bench_supervision.py

# Run benchmark on the lab (not part of make test): wall time and tasks per host, see README.md.
bench-run: deps lab
	$(PY) tests/benchmarks/bench_run.py
