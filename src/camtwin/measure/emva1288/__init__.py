"""EMVA 1288 characterisation (Release 4.0 Linear): simulate the measurement on a camtwin
sensor, analyse simulated or real frame stacks, twin a sensor from its published summary,
and publish the datasheet (``results.json`` + a self-contained ``report.html``).

* :func:`simulate_measurement` — the campaign on a :class:`~camtwin.sensor.SensorSpec`
  (:mod:`.campaign`), reduced on the fly to a :class:`Dataset1288` (:mod:`.dataset`);
* :func:`load_frames` — the same reduction of real images listed in a YAML descriptor
  (:mod:`.files`); :func:`load_reference_descriptor` reads the text descriptor of the EMVA
  reference implementation;
* :func:`analyse` — the standard's evaluation (:mod:`.analysis`);
* :func:`sensor_from_emva` — a SensorSpec from published EMVA 1288 figures
  (:mod:`.datasheet`);
* :func:`write_report` — ``results.json`` and ``report.html`` (:mod:`.report`).
"""

from .analysis import STANDARD, Emva1288Results, analyse, nonuniformity_variances
from .campaign import MeasurementSpec, count_frames, measurement_plan, simulate_measurement
from .dataset import (Dataset1288, SpatialStack, StackAccumulator, pair_statistics,
                      photons_per_pixel)
from .datasheet import (EmvaSummary, builtin_summaries, expected_figures, load_summary,
                        sensor_from_emva)
from .files import (FramesDescriptor, load_frames, load_reference_descriptor, read_image,
                    write_reference_dataset)
from .report import write_report

__all__ = ["STANDARD", "Emva1288Results", "analyse", "nonuniformity_variances",
           "MeasurementSpec", "count_frames", "measurement_plan", "simulate_measurement",
           "Dataset1288", "SpatialStack", "StackAccumulator", "pair_statistics",
           "photons_per_pixel", "EmvaSummary", "builtin_summaries", "expected_figures",
           "load_summary", "sensor_from_emva", "FramesDescriptor", "load_frames",
           "load_reference_descriptor", "read_image", "write_reference_dataset", "write_report"]
