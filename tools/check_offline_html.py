"""Check that a built HTML site loads nothing from the network.

The documentation is read offline too (a laptop on a train, a cluster without
internet): a page that pulls its scripts, styles or fonts from a CDN shows raw LaTeX
or loses its layout there, and the Sphinx build itself never notices. This script
reads every ``.html`` and ``.css`` file under a built site and lists each reference
that the browser would fetch from another host as the page loads::

    python tools/check_offline_html.py docs/_build/html

A remote reference is an ``http://``, ``https://`` or protocol-relative ``//`` URL
in ``<script src>``, ``<img src>``, ``<iframe src>`` (and the other embedding
tags), ``<link href>`` with a loading relation (stylesheet, preload, icon, ...), or a
CSS ``url(...)`` or ``@import``, in a ``.css`` file, a ``<style>`` element or a
``style`` attribute. Hyperlinks (``<a href>``, ``<link rel="canonical">``) are only
followed when clicked, so they are allowed. The exit status is 1, with every
offending file and URL listed, when there is one; 2 when the folder holds no HTML.
"""

from __future__ import annotations

import argparse
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
# CSS fetches through url(...) and through @import "..." (which has no url()).
_CSS_URL = re.compile(
    r"""url\(\s*["']?([^"')\s]+)|@import\s+["']([^"']+)""", re.IGNORECASE
)
# The attribute holding the URL that each embedding tag fetches on load.
_LOADING_ATTR = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "frame": "src",
    "embed": "src",
    "source": "src",
    "audio": "src",
    "video": "src",
    "track": "src",
    "input": "src",
    "object": "data",
}
# <link> relations whose href is fetched on load; the others (canonical, search,
# next, ...) name pages.
_LOADING_RELS = {
    "stylesheet",
    "preload",
    "modulepreload",
    "prefetch",
    "preconnect",
    "dns-prefetch",
    "icon",
    "apple-touch-icon",
    "manifest",
}


def _remote_css_urls(css: str) -> list[str]:
    """The remote URLs that a piece of CSS fetches."""
    urls = (a or b for a, b in _CSS_URL.findall(css))
    return [url for url in urls if _REMOTE.match(url)]


class _RemoteRefs(HTMLParser):
    """Collects ``(what, url)`` for each remote resource an HTML page loads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag in _LOADING_ATTR:
            url = values.get(_LOADING_ATTR[tag], "")
            if _REMOTE.match(url):
                self.found.append((f"<{tag} {_LOADING_ATTR[tag]}>", url))
        elif tag == "link":
            rels = set(values.get("rel", "").lower().split())
            if rels & _LOADING_RELS and _REMOTE.match(values.get("href", "")):
                self.found.append(
                    (f"<link rel={'/'.join(sorted(rels))}>", values["href"])
                )
        self._in_style = tag == "style"
        for url in _remote_css_urls(values.get("style", "")):
            self.found.append((f"<{tag} style>", url))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found.extend(("<style>", url) for url in _remote_css_urls(data))


def find_remote_references(root: Path) -> dict[Path, list[tuple[str, str]]]:
    """Every remote reference under ``root``, by file (files without any left out)."""
    found = {}
    for path in sorted([*root.rglob("*.html"), *root.rglob("*.css")]):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".css":
            refs = [("css url()/@import", url) for url in _remote_css_urls(text)]
        else:
            parser = _RemoteRefs()
            parser.feed(text)
            parser.close()
            refs = parser.found
        if refs:
            found[path] = refs
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fail when a built HTML site loads a script, stylesheet, font "
        "or image from another host."
    )
    parser.add_argument("site", type=Path, help="the built site, e.g. docs/_build/html")
    args = parser.parse_args(argv)
    # An empty or mistyped folder would otherwise pass: there is nothing remote in it.
    if not any(args.site.rglob("*.html")):
        parser.error(f"no .html file under {args.site}: build the docs first")

    found = find_remote_references(args.site)
    for path, refs in found.items():
        for what, url in refs:
            print(f"{path}: {what} {url}")
    if found:
        n_refs = sum(len(refs) for refs in found.values())
        print(
            f"{n_refs} remote reference(s) in {len(found)} file(s): these pages need "
            "the network. Serve the resource from the site (html_static_path, or a "
            "package that bundles it) instead.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
