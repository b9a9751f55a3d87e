"""A local Sphinx extension that keeps the built pages free of console errors in the browser
(tests/test_browser.py checks every page):

- sphinx-thebe adds its configuration script once per reading of the sources, and Jupyter Book reads
  them more than once, so a page declared ``const THEBE_JS_URL`` twice (a SyntaxError); each page now
  gets every script once.
- The pydata theme's page template reads its colour mode from the ``default_mode`` variable, which
  this version never sets: the page logged an error; the mode is now "auto" (the reader's setting).

The handler runs before the themes' (priority 100): Sphinx stops calling handlers of this event at
the first that returns a template name.
"""

from __future__ import annotations

from typing import Any


def _clean_page(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # The same script is added once with filename None and once with "" (body-only scripts).
        key = (str(getattr(script, "filename", script) or ""), repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _clean_page, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
