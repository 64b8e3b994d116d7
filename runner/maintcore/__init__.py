"""maintcore: what the orchestrator (maintctl) and the reports (maintreport) share.

Paths and atomic writes (:mod:`maintcore.config`), the exception hierarchy
(:mod:`maintcore.errors`), the client files reader (:mod:`maintcore.inventory`) and the store
(:mod:`maintcore.store`). It imports only the standard library, PyYAML and ``maint_utils``;
never ``maintctl`` nor ``maintreport``.
"""
