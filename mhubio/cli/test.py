"""``mhub test``: run a model's test cases and compare the outputs with references."""

from __future__ import annotations

import argparse

from mhubio.core.config import models_root


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``test`` sub-command."""
    p = subparsers.add_parser("test", help="run a model on its sample input and compare with reference outputs")
    p.add_argument("model")
    p.add_argument("--workflow", "-w", help="only the cases of this workflow")
    p.add_argument("--update", action="store_true", help="write the outputs as the new references")
    p.add_argument("--image", help="run the cases in this model image (hardened docker run), not in this process")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one verdict per case; exit 0 only if all pass."""
    from mhubio.modeltest import load_test_cases, run_case

    cases = [c for c in load_test_cases(models_root() / args.model) if args.workflow in (None, c.workflow)]
    if not cases:
        print(f"{args.model}: no test cases{' for workflow ' + args.workflow if args.workflow else ''} in mhub.toml")
        return 1
    failed = 0
    for case in cases:
        result = run_case(args.model, case, update=args.update, image=args.image)
        verdict = "updated" if args.update and result.exit_code == 0 else ("PASS" if result.passed else "FAIL")
        failed += verdict == "FAIL"
        print(f"{verdict} {args.model} [{case.workflow}] {len(result.compared)} file(s) compared")
        for problem in result.problems:
            print(f"     - {problem}")
    return 1 if failed else 0
