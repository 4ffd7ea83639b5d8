"""``mhub test``: run a model's test cases and compare the outputs with references."""

from __future__ import annotations

import argparse

from mhubio.core.config import model_folder
from mhubio.core.errors import ConfigError
from mhubio.core.exitcodes import ExitCode


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``test`` sub-command."""
    p = subparsers.add_parser("test", help="run a model on its sample input and compare with reference outputs")
    p.add_argument("model")
    p.add_argument("--workflow", "-w", help="only the cases of this workflow")
    p.add_argument("--update", action="store_true", help="write the outputs as the new references")
    p.add_argument("--image", help="run the cases in this model image (hardened docker run), not in this process")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one verdict per case; exit 0 only if all pass, 8 if one fails, 2 if there is none to run."""
    from mhubio.modeltest import load_test_cases, run_case

    model_dir = model_folder(args.model)
    cases = [c for c in load_test_cases(model_dir) if args.workflow in (None, c.workflow)]
    if not cases:
        which = f" for workflow {args.workflow!r}" if args.workflow else ""
        raise ConfigError(f"{args.model}: no test cases{which} in {model_dir / 'mhub.toml'}")
    failed = 0
    for case in cases:
        result = run_case(args.model, case, update=args.update, image=args.image)
        verdict = "updated" if args.update and result.exit_code == 0 else ("PASS" if result.passed else "FAIL")
        failed += verdict == "FAIL"
        print(f"{verdict} {args.model} [{case.workflow}] {len(result.compared)} file(s) compared")
        for problem in result.problems:
            print(f"     - {problem}")
    return int(ExitCode.CHECK_FAILED if failed else ExitCode.SUCCESS)
