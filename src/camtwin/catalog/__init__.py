"""The real-sensor catalog: sourced figures of sensors, lenses and modules.

Data files live in ``camtwin/data/catalog`` (one YAML per entry); every figure carries a
``source`` and a ``confidence`` (:mod:`camtwin.catalog.schema`). Loading is cached
(:func:`load_catalog`); :func:`to_sensor_spec`, :func:`to_lens_spec` and :func:`to_module`
turn entries into simulator specs; :mod:`camtwin.catalog.tags` derives the resolution class
and application tags from the figures.

Examples
--------
>>> from camtwin.catalog import get_sensor, sensor_applications
>>> "industrial" in sensor_applications(get_sensor("sony-imx273"))
True
"""

from .convert import fit_pixel, modelled_qe, pixel_for, to_lens_spec, to_module, to_sensor_spec
from .loader import (KINDS, Catalog, IspPreset, catalog_root, clear_cache, find_entry,
                     get_lens, get_module, get_sensor, load_catalog)
from .schema import CONFIDENCE_LEVELS, Figure, LensEntry, ModuleEntry, SensorEntry
from .tags import (APPLICATION_RULES, APPLICATIONS, RESOLUTION_CLASSES, lens_excludes,
                   module_applications, resolution_class, sensor_applications)

__all__ = ["APPLICATIONS", "APPLICATION_RULES", "CONFIDENCE_LEVELS", "Catalog", "Figure",
           "IspPreset", "KINDS", "LensEntry", "ModuleEntry", "RESOLUTION_CLASSES",
           "SensorEntry", "catalog_root", "clear_cache", "find_entry", "fit_pixel", "get_lens",
           "get_module", "get_sensor", "lens_excludes", "load_catalog", "modelled_qe",
           "module_applications", "pixel_for", "resolution_class", "sensor_applications",
           "to_lens_spec", "to_module", "to_sensor_spec"]
