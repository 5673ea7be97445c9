"""Sphinx configuration of the toupy.resolution documentation (``make docs``)."""

from importlib.metadata import version as _installed_version

project = "toupy.resolution"
author = "the toupy.resolution developers"
copyright = "2026, the toupy.resolution developers"
release = _installed_version("toupy-resolution")
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Cross-references to numpy/scipy objects would need the network (intersphinx); keep them as text.
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}

# The facades inherit a documented ``result`` attribute from two bases; Sphinx then finds two targets for the
# name and picks one, which is right either way.
suppress_warnings = ["ref.python"]

html_theme = "pydata_sphinx_theme"
html_title = "toupy.resolution"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
