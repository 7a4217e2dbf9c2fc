"""``hebbformer loihi``: the Loihi 2 emulator: run a scenario, or check it against lava."""

from __future__ import annotations

import time

from ..atomic import write_with
from ..errors import HebbformerError
from .common import writable_file


def add(sub) -> None:
    p = sub.add_parser("loihi", help="the Loihi 2 emulator: run a scenario, or check it against lava")
    loihi = p.add_subparsers(dest="loihi_command", required=True)
    q = loihi.add_parser("parity", help="run SCENARIO.json on lava and on the emulator; exit 0 only if they agree")
    q.add_argument("scenario", help="scenario file (docs/loihi.md)")
    q.set_defaults(func=parity)
    q = loihi.add_parser("run", help="run SCENARIO.json on the emulator alone; save the recordings")
    q.add_argument("scenario")
    q.add_argument("--out", default="loihi_run.npz", help="where to save the recordings (npz)")
    q.set_defaults(func=run)


def parity(args) -> int:
    from ..neuro.loihi import Scenario
    from ..neuro.loihi.lava_sim import lava_available
    from ..neuro.loihi.parity import format_parity, run_parity

    scenario = Scenario.load(args.scenario)
    if not lava_available():
        raise HebbformerError("lava-nc is not importable here, so there is nothing to compare with; install "
                              "it as docs/loihi.md says, or run bash scripts/setup.sh")
    rows, times = run_parity(scenario)
    print(format_parity(rows, scenario, times))
    return 0 if all(r.ok for r in rows) else 1


def run(args) -> int:
    import numpy as np

    from ..neuro.loihi import Scenario, simulate

    writable_file(args.out)
    scenario = Scenario.load(args.scenario)
    tic = time.perf_counter()
    recordings = simulate(scenario)
    # atomically, and to the file named: np.savez given a name without .npz would add it
    write_with(args.out, lambda f: np.savez(f, **recordings))
    print(f"emulated {scenario.steps} steps in {time.perf_counter() - tic:.3f} s; "
          f"recorded {', '.join(recordings)} -> {args.out}")
    return 0
