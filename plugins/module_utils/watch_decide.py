# -*- coding: utf-8 -*-
# Copyright: contributors to this project
# Apache-2.0
"""Placeholder: filled by the supervision work (see maint_utils.checks.SUPERVISION_MODULES)."""

from __future__ import annotations

CHECKS = ()
