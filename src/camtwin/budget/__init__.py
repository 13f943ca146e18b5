"""Module engineering budgets: CSI-2 link, sensor power, self-heating, module size.

* :mod:`.link` — readout data rate vs MIPI CSI-2 D-PHY / C-PHY capacity, max frame rate;
* :mod:`.power` — sensor power (static + per-conversion analog + digital + I/O per lane);
* :mod:`.thermal` — die temperature from power and housing thermal resistance → dark current;
* :mod:`.size` — module z-height and footprint;
* :mod:`.metrics` — ``BUDGET_METRICS`` registered in :data:`camtwin.evaluate.metrics.METRICS`.
"""

# evaluate.metrics registers BUDGET_METRICS from .metrics, which needs evaluate's Metric:
# importing it first keeps the import order right whichever module is imported first.
from ..evaluate import metrics as _evaluate_metrics  # noqa: F401  (import order)
from .link import (LinkSpec, ReadoutMode, check_link, check_module_link, link_max_fps,
                   link_utilisation, mode_for, module_link, required_gbps)
from .power import (GENERIC_POWER, POWER_MODELS, PowerSpec, calibrate_power, power_model,
                    sensor_power_mw)
from .size import MODULE_FORMS, ModuleForm, module_size_mm
from .thermal import (HOUSINGS, ThermalSpec, dark_current_rise_x, die_temperature_c,
                      heated_module, self_heated)

__all__ = ["LinkSpec", "ReadoutMode", "check_link", "check_module_link", "link_max_fps",
           "link_utilisation", "mode_for", "module_link", "required_gbps", "GENERIC_POWER",
           "POWER_MODELS", "power_model", "PowerSpec", "calibrate_power", "sensor_power_mw", "MODULE_FORMS", "ModuleForm",
           "module_size_mm", "HOUSINGS", "ThermalSpec", "dark_current_rise_x",
           "die_temperature_c", "heated_module", "self_heated"]
