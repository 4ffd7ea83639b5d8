"""Translation-only registration by Mattes mutual information (the BAMF PET/CT pre-processing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import SimpleITK as sitk


@dataclass(frozen=True)
class TranslationSettings:
    """Optimisation settings; the defaults are those of the BAMF PET/CT code.

    Parameters
    ----------
    histogram_bins:
        Bins of the Mattes mutual information histogram.
    sampling_percentage:
        Fraction (0, 1] of fixed-image voxels sampled at random for the metric.
    seed:
        Seed of the random sampling (the BAMF code seeds with the wall clock,
        which makes every run differ; a fixed seed makes runs reproducible).
    learning_rate, minimum_step, iterations:
        Regular step gradient descent: initial step (mm), smallest step (mm)
        and iteration limit.
    threads:
        ITK threads during the optimisation.  With one thread (the default)
        the result is bit-identical for a given seed; with more, the order in
        which per-thread sums are added varies and so do the last digits.
    """

    histogram_bins: int = 24
    sampling_percentage: float = 0.10
    seed: int = 42
    learning_rate: float = 1.0
    minimum_step: float = 0.001
    iterations: int = 200
    threads: int = 1

    def __post_init__(self) -> None:
        if self.histogram_bins < 2:
            raise ValueError(f"histogram_bins must be at least 2, got {self.histogram_bins}")
        if not 0.0 < self.sampling_percentage <= 1.0:
            raise ValueError(f"sampling_percentage must be in (0, 1], got {self.sampling_percentage}")
        if self.seed < 0:
            raise ValueError(f"seed must not be negative, got {self.seed}")
        if not self.learning_rate > 0 or not 0 < self.minimum_step <= self.learning_rate:
            raise ValueError("need learning_rate > 0 and 0 < minimum_step <= learning_rate")
        if self.iterations < 1 or self.threads < 1:
            raise ValueError("iterations and threads must be at least 1")


@dataclass(frozen=True)
class RegistrationResult:
    """Outcome of :func:`register_translation`.

    Attributes
    ----------
    transform:
        Maps fixed-space points to moving-space points (pass it to the resampler).
    translation_mm:
        The translation (x, y, z) in mm, LPS.
    metric_value:
        Final metric value (negative mutual information: lower is better).
    iterations:
        Iterations run.
    stop_condition:
        The optimiser's reason for stopping.
    """

    transform: sitk.TranslationTransform
    translation_mm: tuple[float, float, float]
    metric_value: float
    iterations: int
    stop_condition: str


def register_translation(
    fixed: sitk.Image, moving: sitk.Image, settings: TranslationSettings = TranslationSettings()
) -> RegistrationResult:
    """Estimate the translation that aligns ``moving`` (CT) to ``fixed`` (PET).

    Both images are cast to float32; the moving image is interpolated
    linearly during optimisation.  The optimisation starts at the identity
    (the scanner already aligns PET and CT of one acquisition).

    Raises
    ------
    ValueError
        If the images are not 3-D scalar images.
    """
    for name, image in (("fixed", fixed), ("moving", moving)):
        if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
            raise ValueError(f"{name} image must be a 3-D scalar image")
    fixed_f = sitk.Cast(fixed, sitk.sitkFloat32)
    moving_f = sitk.Cast(moving, sitk.sitkFloat32)
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=settings.histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(settings.sampling_percentage, settings.seed)
    method.SetOptimizerAsRegularStepGradientDescent(settings.learning_rate, settings.minimum_step,
                                                    settings.iterations)
    method.SetInitialTransform(sitk.TranslationTransform(3), inPlace=False)
    method.SetInterpolator(sitk.sitkLinear)
    with _itk_threads(settings.threads):
        found = method.Execute(fixed_f, moving_f)
    transform = sitk.TranslationTransform(3)
    transform.SetParameters(found.GetParameters())
    offset = tuple(float(v) for v in transform.GetOffset())
    return RegistrationResult(
        transform=transform,
        translation_mm=offset,  # type: ignore[arg-type]
        metric_value=float(method.GetMetricValue()),
        iterations=int(method.GetOptimizerIteration()),
        stop_condition=method.GetOptimizerStopConditionDescription(),
    )


@contextmanager
def _itk_threads(count: int) -> Iterator[None]:
    """Set ITK's global default thread count while the block runs.

    The metric of ``ImageRegistrationMethod`` takes its threads from the
    global default, not from the method's own setting.
    """
    previous = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(count)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(previous)
