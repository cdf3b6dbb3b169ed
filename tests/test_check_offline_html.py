"""``tools/check_offline_html.py``, the check that the built docs load nothing from
the network, on small sites written into ``tmp_path``. ``tools/`` is not a package:
the script is loaded from its path."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "check_offline_html.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_offline_html", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOCAL_PAGE = """<!DOCTYPE html>
<html><head>
<link rel="stylesheet" href="_static/styles/theme.css" />
<link rel="preload" as="script" href="../_static/scripts/bootstrap.js" />
<link rel="canonical" href="https://example.org/user_guide.html" />
<script defer="defer" src="_static/mathjax/tex-chtml.js"></script>
<script>window.MathJax = {"loader": {"load": ["[tex]/textmacros"]}}</script>
<style>@font-face { src: url("_static/fonts/a.woff2"); }</style>
</head><body>
<a href="https://github.com/sk-deepgum/sk_deepgum">source</a>
<img src="_images/figure.png" />
</body></html>
"""


def write_site(root, pages):
    for name, text in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_local_site_passes(check, tmp_path, capsys):
    # Hyperlinks and a canonical link point at other hosts but fetch nothing.
    site = write_site(
        tmp_path,
        {
            "index.html": LOCAL_PAGE,
            "api/page.html": LOCAL_PAGE,
            "_static/styles/theme.css": 'body { background: url("../img/bg.png"); }',
        },
    )
    assert check.main([str(site)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "name, text, what, url",
    [
        (
            "user_guide.html",
            '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js">'
            "</script>",
            "<script src>",
            "https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js",
        ),
        (
            "api/page.html",
            '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato" />',
            "<link rel=stylesheet>",
            "//fonts.googleapis.com/css?family=Lato",
        ),
        (
            "index.html",
            '<img src="HTTP://img.shields.io/badge.svg">',
            "<img src>",
            "HTTP://img.shields.io/badge.svg",
        ),
        (
            "index.html",
            "<style>@import 'https://fonts.example.org/a.css';</style>",
            "<style>",
            "https://fonts.example.org/a.css",
        ),
        (
            "_static/theme.css",
            "@font-face { src: url(https://fonts.example.org/a.woff2); }",
            "css url()/@import",
            "https://fonts.example.org/a.woff2",
        ),
    ],
    ids=[
        "cdn-script",
        "protocol-relative-css",
        "upper-case-img",
        "style-import",
        "css-font",
    ],
)
def test_remote_reference_fails_and_is_listed(
    check, tmp_path, capsys, name, text, what, url
):
    site = write_site(tmp_path, {"local.html": LOCAL_PAGE, name: text})
    assert check.main([str(site)]) == 1
    out = capsys.readouterr().out
    # One line, naming the file, the kind of reference and the URL.
    assert out == f"{site / name}: {what} {url}\n"


def test_folder_without_html_is_an_error(check, tmp_path, capsys):
    # A mistyped or unbuilt folder must not pass for an offline site.
    with pytest.raises(SystemExit) as exc:
        check.main([str(tmp_path / "_build" / "html")])
    assert exc.value.code == 2
    assert "no .html file" in capsys.readouterr().err
