"""Import outlets, products, sales records, plans and evaluations from CSV, XLSX or GeoJSON files.

One module per importer; ``common`` holds what they share (the report, the file's rows under
canonical column names, the accepted words, staging by COPY, the upsert by key). A new
importer is one module whose ``import_<kind>(session, source, **FileOptions)`` returns an
``ImportReport``, and one line in ``IMPORTERS`` (what the CLI and the API offer).
"""

from __future__ import annotations

from collections.abc import Callable

from .common import FileOptions, ImportReport, Problem
from .evaluations import import_evaluations
from .outlets import import_outlets
from .plans import import_plans
from .products import import_products
from .sales import import_sales

__all__ = [
    "IMPORTERS",
    "FileOptions",
    "ImportReport",
    "Problem",
    "import_evaluations",
    "import_outlets",
    "import_plans",
    "import_products",
    "import_sales",
]

IMPORTERS: dict[str, Callable[..., ImportReport]] = {
    "outlets": import_outlets,
    "products": import_products,
    "sales": import_sales,
    "plans": import_plans,
    "evaluations": import_evaluations,  # the faces pass reach_of (analysis.judging)
}
