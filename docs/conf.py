"""Sphinx configuration for sk_deepgum.

The build is offline: no intersphinx, no remote images, nothing fetched by the theme.
So is the site: MathJax is served from _static, and
``tools/check_offline_html.py`` fails on any page that loads a remote script or
stylesheet.
Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import os
import sys

import sk_deepgum

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "sphinxext"))

# The gallery runs in the build process: draw figures off-screen.
os.environ.setdefault("MPLBACKEND", "Agg")

project = "sk_deepgum"
author = "sk_deepgum developers"
copyright = "2026, sk_deepgum developers"
version = release = sk_deepgum.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # Serves MathJax 3.2.2 from _static/mathjax (it sets mathjax_path) instead of
    # Sphinx's CDN default: offline, the formulas would stay raw LaTeX.
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
]

# The architecture page's figure (docs/scripts/fit_data_flow.py), drawn at build
# time: one PNG, no source or format links.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
# examples/ holds the gallery's sources; sphinx-gallery renders them into
# auto_examples/.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "examples"]
root_doc = "index"
default_role = "literal"
nitpicky = False

# -- autodoc / autosummary / numpydoc ---------------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options: dict = {}
autodoc_typehints = "none"  # numpydoc's Parameters section owns the types
add_module_names = False

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Every public class, function and method shown in the API reference is validated
# ("all"), except the checks below:
# - GL01: the summary may start on the opening-quote line (the package's style);
# - ES01: an extended summary is optional for short, self-explanatory functions;
# - SA01: "See Also" only where there is something worth seeing;
# - EX01: examples live in the gallery and in the classes' docstrings, not in every
#   method;
# - RT02: "Returns" sections name the returned value (``self : DeepGUMRegressor``),
#   sklearn's convention, which RT02 mistakes for a type-only entry.
numpydoc_validation_checks = {"all", "GL01", "ES01", "SA01", "EX01", "RT02"}
# Methods that scikit-learn's base classes add (documented upstream, not ours to
# fix) are shown for completeness but not validated.
numpydoc_validation_exclude = {
    r"\.get_params$",
    r"\.set_params$",
    r"\.score$",
    # A module constant is documented by a ``#:`` comment: there are no quotes to
    # place (GL02) and no sections to validate.
    r"^sk_deepgum\.metrics\.ROBUST_SCORERS$",
    # Inherits torch.nn.Module's ``(*args, **kwargs)`` constructor; it takes no
    # parameters of its own, so there is nothing for PR01 to find.
    r"^sk_deepgum\.losses\.SquaredLoss$",
}

# -- sphinx-gallery ---------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "doc_module": ("sk_deepgum",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"sk_deepgum": None},  # local links only, nothing fetched
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "min_reported_time": 0,
    "show_memory": False,
    # The timing page loads jQuery and DataTables from CDNs; the build log prints
    # the same "computation time summary".
    "write_computation_times": False,
    # One torch thread per example: see sphinxext/gallery_hooks.py.
    "reset_modules": ("matplotlib", "gallery_hooks.one_torch_thread"),
}

# -- Math ------------------------------------------------------------------------

# MathJax 3 reads ``\text{...}`` verbatim; textmacros makes the formulas'
# ``\text{reg\_covar}`` show as reg_covar, not reg\_covar. It is loaded from the
# local copy, like the rest of MathJax.
mathjax3_config = {
    "loader": {"load": ["[tex]/textmacros"]},
    "tex": {"packages": {"[+]": ["textmacros"]}},
}

# -- HTML ------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sk_deepgum {release}"
html_static_path: list[str] = []
# Nothing here may point at a remote resource: no logo URLs, no switcher JSON, no
# analytics, no external icon links.
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "install": [], "changelog": []}
html_show_sourcelink = False
html_copy_source = False

# -- MyST (markdown includes of the benchmark reports) -------------------------------

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
