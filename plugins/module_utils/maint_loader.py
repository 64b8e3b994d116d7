# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Load the project's module_utils on the controller, for the action plugins.

An action plugin runs in the controller's process, where ``ansible.module_utils`` holds only
Ansible's own files. The Windows action plugins collect with PowerShell and decide with the
same pure Python files the Linux modules use; this loader imports those files from this
folder and registers each as ``ansible.module_utils.<name>``, so their own
``from ansible.module_utils.X import`` lines resolve to the same files. An action plugin
loads this file by its path (``../module_utils/maint_loader.py`` from the plugin), then calls :func:`load`.
"""

from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load(*names):
    """Import ``names`` (dependencies first) from this folder; return the last one."""
    import ansible.module_utils as package

    module = None
    for name in names:
        full = "ansible.module_utils." + name
        module = sys.modules.get(full)
        if module is None:
            module = _installed(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(full, os.path.join(HERE, name + ".py"))
            module = importlib.util.module_from_spec(spec)
            sys.modules[full] = module
            spec.loader.exec_module(module)
        sys.modules[full] = module
        setattr(package, name, module)
    return module


def _installed(name):
    """The ``maint_utils.<name>`` module when maintctl is installed and it is this very file's sibling.

    One copy per process: the controller's code (``maint_utils``) and the plugins then share the
    same classes (``PolicyError`` caught by maintctl is the one the decide code raises).
    """
    try:
        module = importlib.import_module("maint_utils." + name)
    except ImportError:
        return None
    same = os.path.realpath(getattr(module, "__file__", "") or "") == os.path.realpath(os.path.join(HERE, name + ".py"))
    return module if same else None

