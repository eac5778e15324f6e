"""Only the package layout; everything else is in pyproject.toml.

The shipped suites live at the repository's top level (``suites/``) and install as
``regbench/suites/`` inside the package: ``package_dir`` maps the data package
``regbench.suites`` onto that folder, so the wheel and the sdist carry them with no second copy
in git. pyproject.toml's ``packages.find`` cannot add a package that is not under ``regbench/``,
hence this file. A source checkout (editable install or PYTHONPATH) finds them beside the
package instead (``regbench.config.loading.SUITES_DIR``).
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["regbench*"]), "regbench.suites"],
    package_dir={"regbench.suites": "suites"},
    package_data={"regbench.suites": ["*.yaml"]},
)
