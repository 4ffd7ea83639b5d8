"""Model test harness: run a model's sample input and compare with reference outputs."""

from mhubio.modeltest.compare import compare_files, compare_seg, compare_sr, dice
from mhubio.modeltest.harness import CaseResult, output_files, run_case
from mhubio.modeltest.spec import ModelTestCase, Sample, load_test_cases

__all__ = [
    "CaseResult", "Sample", "ModelTestCase", "compare_files", "compare_seg", "compare_sr", "dice",
    "load_test_cases", "output_files", "run_case",
]
