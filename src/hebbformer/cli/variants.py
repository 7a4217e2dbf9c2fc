"""``hebbformer variants``: one learner as Float, Quant, Loihi (emulated) and Lava, side by side."""

from __future__ import annotations

from pathlib import Path

from .. import checkpoint, shipped
from ..config import parse_setting
from ..data import build_pools, describe_split
from ..errors import ConfigError
from ..families import build_model
from ..train import set_threads
from .common import load_run, writable_folder


def add(sub) -> None:
    p = sub.add_parser("variants", help="one learner as Float, Quant, Loihi (emulated) and Lava: the accuracy table")
    p.add_argument("float_run", help="the Float run (relu attention) the Quant run was fine-tuned from")
    p.add_argument("quant_run", help="the Quant run (model.quant=true)")
    p.add_argument("--setting", default="5w1s", help="ways and shots, e.g. 5w1s (default)")
    p.add_argument("--episodes", type=int, default=1000, help="test episodes for Float, Quant and Loihi (default 1000)")
    p.add_argument("--lava-episodes", type=int, default=200,
                   help="the first this many of those episodes also on lava (default 200; 0: skip lava)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes that share the episodes, one torch thread each (default 1: the times "
                        "are one process's, and beside other jobs more processes than free cores only "
                        "slow each other; on a free machine, its cores, e.g. $(nproc)). The same logits "
                        "for any number; lava always runs in the main process. Needs Linux (fork) above 1")
    p.add_argument("--out", help="folder for variants.md and variants.csv (default: the Quant run's)")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="for both runs, e.g. data.root=PATH")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..evaluate import check_workers
    from ..experiments.variants import compare, format_table, save
    if args.episodes < 1 or args.lava_episodes < 0:
        raise ConfigError(f"--episodes must be at least 1 and --lava-episodes at least 0, got {args.episodes}, {args.lava_episodes}")
    check_workers(args.workers, "--workers")  # before the runs load
    qcfg, qstate = load_run(args.quant_run, args.overrides)
    fcfg, fstate = load_run(args.float_run, args.overrides)
    if not qcfg.model.quant:
        raise ConfigError(f"{args.quant_run} is not a Quant run (its model.quant is false)")
    if fcfg.model.quant or fcfg.model.method != "icl":
        raise ConfigError(f"{args.float_run} is not a Float in-context learner run")
    twin, quant = ({**c.to_dict()["model"], "quant": None, "data": (c.data.name, c.data.image_size)} for c in (fcfg, qcfg))
    differ = [k for k in twin if twin[k] != quant[k]]
    if differ:  # one learner in two arithmetics, or the table compares two models
        raise ConfigError(f"{args.float_run} is not the Float twin of {args.quant_run}: they differ in "
                          f"{', '.join(differ)} (model.* but quant, and the data set, must be the same)")
    parse_setting(args.setting)  # before the pools load
    out = Path(args.out) if args.out else (Path("runs") / "eval" / args.quant_run if shipped.is_shipped_name(args.quant_run)
                                           else checkpoint.resolve(args.quant_run).parent)
    writable_folder(out, create=False)  # before the episodes: made once they have run
    set_threads(qcfg)
    split = qcfg.eval.split
    pool = getattr(build_pools(qcfg.data, (split,)), split)
    models = []
    for cfg, state in ((fcfg, fstate), (qcfg, qstate)):
        model = build_model(cfg.model, pool.image_shape)
        checkpoint.load_into(model, state, "the checkpoint")
        models.append(model)
    where = describe_split(qcfg.data, split)
    print(f"hebbformer variants: {args.setting} on {where}", flush=True)
    rows = compare(*models, qcfg, pool, args.setting, args.episodes, args.lava_episodes, workers=args.workers)
    table = format_table(rows, args.setting, where, args.workers)
    print(table)
    writable_folder(out)
    save(rows, table, out, args.setting, where, args.workers)
    print(f"saved {out / 'variants.md'}, variants.csv and variants.json")
    return 0
