"""3D sensing: depth scenes, active illuminators, indirect/direct time-of-flight pixels,
active stereo / structured light, and depth metrics.

The data flow is the same one-way pipeline as the 2D camera: a :class:`DepthScene` (distance,
normal and NIR reflectance per pixel ray) and an illuminator give photon rates per pixel
(:mod:`camtwin.depth.radiometry`); a pixel model (iToF, dToF or a stereo pair) turns them into
raw measurements and depth; :mod:`camtwin.depth.metrics` judges the depth against the truth.
"""
