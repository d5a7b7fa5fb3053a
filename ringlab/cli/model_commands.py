"""The commands of the model of the machine: replay a trial, predict one, size the ring."""

from __future__ import annotations

from pathlib import Path

from ringlab.cli.options import (
    add_command,
    add_engine_option,
    add_set_option,
    add_worker_options,
    out_path,
    output_directory,
    positive_time_option,
    print_saved_profile,
    report_run,
)
from ringlab.compare.model.band_method import STATE_BLOCK_NS
from ringlab.errors import EXIT_CHECK_FAILED, InputError


def cmd_replay(args) -> int:
    from ringlab.compare.model.replay import replay_into_directory
    from ringlab.runs.run_directory import REPLAY_FILE

    result, agreed = replay_into_directory(args.run, args.out, engine=args.engine, costs=args.costs,
                                           without=tuple(args.without))
    report_run(Path(args.out), result)
    print(f"replay of {args.run}: {agreed.describe()} -> {Path(args.out) / REPLAY_FILE}")
    return 0


def cmd_predict(args) -> int:
    from ringlab.compare.model.predict import predict, write_prediction
    from ringlab.runs.run_directory import check_output_path
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    check_output_path(args.out)
    prediction = predict(scenario, args.profile, repeats=args.repeats, level=args.level, without=args.without,
                         workers=args.workers, scheduler=args.scheduler, method=band_method(args))
    path = write_prediction(output_directory(args.out), prediction)
    print(f"{prediction.describe()} -> {path}")
    return 0


def cmd_size(args) -> int:
    from ringlab.atomic_files import write_json
    from ringlab.compare.model.size import SIZE_FILE, size_ring, verify_answer
    from ringlab.runs.run_directory import check_output_path
    from ringlab.scenario.fields import load_scenario

    scenario = load_scenario(args.scenario, args.overrides)
    if args.out is not None:
        check_output_path(args.out)
    if args.interval_ns is not None:
        scenario = scenario.with_values({"interval": f"{args.interval_ns}ns"})
    if args.slots is not None:
        scenario = scenario.with_values({"ring_slots": args.slots})
    if args.verify is not None and args.verify < 1:
        raise InputError("--verify", f"must be at least 1 trial, got {args.verify}")
    if args.verify is not None and args.backend != "hw":
        raise InputError("--verify", "runs trials on real XDP: size for --backend hw")
    answer = size_ring(scenario, args.profile, args.target_loss, "interval" if args.slots is not None else "ring_slots",
                       repeats=args.repeats, level=args.level, without=args.without, workers=args.workers,
                       scheduler=args.scheduler, backend=args.backend, method=band_method(args))
    print(answer.describe(), flush=True)
    document = answer.to_dict()
    if args.verify is not None and answer.answer is not None:
        verification = verify_answer(scenario, answer, args.verify, args.out)
        document["verified"] = verification.to_dict()
        print(verification.describe())
    if args.out is not None:
        write_json(output_directory(args.out) / SIZE_FILE, document)
        print(f"-> {Path(args.out) / SIZE_FILE}")
    return 0 if answer.answer is not None else EXIT_CHECK_FAILED


def block_option(value: str):
    return "segment" if value == "segment" else positive_time_option(value)


def band_method(args):
    from ringlab.compare.model.band_method import BandMethod

    return BandMethod(sender=args.sender_model, block_ns=None if args.block_ns == "segment" else args.block_ns)


def cmd_pool(args) -> int:
    """``pool RUN ...``: a pause profile from the background pauses earlier runs recorded."""
    from ringlab.compare.model.pooling import pool_runs
    from ringlab.runs.run_directory import check_output_path

    check_output_path(args.out)
    print_saved_profile(pool_runs(args.runs), args.out)
    return 0


def add_commands(commands) -> None:
    pool = add_command(commands, "pool", cmd_pool,
                       "a pause profile from the background pauses earlier runs recorded (no root, no hardware)", [
                           "ringlab pool results/hw-buggy-one-stall results/hw-fixed-one-stall --out results/pooled"])
    pool.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories whose traces were kept")
    pool.add_argument("--out", type=out_path, required=True, help="directory for the profile (profile.json, pauses.npz)")
    replay = add_command(commands, "replay", cmd_replay, "simulate a measured trial from its measured arrivals and pauses", [
        "ringlab replay results/hw-buggy-one-stall --out results/replay-buggy",
        "ringlab replay results/hw-buggy-one-stall --out results/replay-buggy-costs --costs scenario"])
    replay.add_argument("run", type=Path, help="a hardware run directory ('ringlab hw trial --out')")
    replay.add_argument("--out", type=out_path, required=True, help="directory for the replay's run and replay.json")
    add_engine_option(replay, "simulation engine (the same results; simpy is the slow reference)")
    replay.add_argument("--costs", choices=["measured", "scenario"], default="measured",
                        help="the model's costs: measured in the trial (default), or the scenario's")
    replay.add_argument("--without", action="append", default=[], metavar="SOURCE",
                        help="replay without the pauses of this source, as the trial names it, e.g. 'task kdamond.0' "
                             "(repeatable): what the trial would have lost without it")

    predict = add_command(commands, "predict", cmd_predict,
                       "predict a trial's loss and latency from a pause profile, with an interval", [
                           "ringlab predict examples/fixed-one-stall.toml --profile results/profile --out results/predict",
                           "ringlab predict examples/fixed-one-stall.toml --profile results/profile --out results/predict "
                           "--set ring_slots=32 --repeats 200 --level 0.95",
                           "ringlab predict examples/fixed-one-stall.toml --profile results/profile --out results/predict-quiet "
                           "--without 'task kdamond.0'"])
    _prediction_arguments(predict, repeats=100)
    predict.add_argument("--out", type=out_path, required=True, help="directory for prediction.json")

    size = add_command(commands, "size", cmd_size, "find how big the ring must be (or how long the interval) "
                                                "for a target loss", [
                        "ringlab size examples/fixed-one-stall.toml --profile results/profile --target-loss 0.001",
                        "ringlab size examples/fixed-one-stall.toml --profile results/profile --target-loss 0.001 "
                        "--interval 5us",
                        "ringlab size examples/fixed-one-stall.toml --profile results/profile --target-loss 0.001 --slots 16",
                        "ringlab size examples/fixed-one-stall.toml --profile results/profile --target-loss 0.002 "
                        "--set interval=10us --set packets=200000 --verify 3 --out results/size"])
    _prediction_arguments(size, repeats=40)
    size.add_argument("--target-loss", type=float, required=True,
                      help="the largest acceptable loss, a fraction of the packets (0.001 is 0.1%%)")
    fixed = size.add_mutually_exclusive_group()
    fixed.add_argument("--interval", dest="interval_ns", type=positive_time_option, default=None,
                       help="find the smallest ring for this packet interval (default: the scenario's interval)")
    fixed.add_argument("--slots", type=int, default=None, help="find the shortest interval for this many slots")
    size.add_argument("--out", type=out_path, default=None, help="also write the table behind the answer as size.json")
    size.add_argument("--backend", choices=["hw", "sim"], default="hw",
                      help="search only rings this backend runs (default hw: real XDP loads at most 65 536 slots)")
    size.add_argument("--verify", type=int, default=None, metavar="K",
                      help="(root) run K trials on real XDP at the answer and K at the next size down, and report "
                           "their losses against the target (written under --out/verify/ when --out is given)")


def _prediction_arguments(parser, repeats: int) -> None:
    """The arguments ``predict`` and ``size`` share."""
    parser.add_argument("scenario", type=Path, help="the scenario, a TOML file (see examples/)")
    parser.add_argument("--profile", "--noise", dest="profile", type=Path, required=True,
                        help="a pause profile: 'ringlab hw profile --out DIR', or --from earlier runs, or --load")
    add_set_option(parser)
    parser.add_argument("--repeats", type=int, default=repeats,
                        help=f"simulations, each a trial drawn from the profile (default {repeats}, at least 10)")
    parser.add_argument("--level", type=float, default=0.9,
                        help="the share of the repeats each interval holds (default 0.9)")
    parser.add_argument("--without", action="append", default=[], metavar="SOURCE",
                        help="predict without the pauses of this source, as the profile names it (repeatable)")
    parser.add_argument("--sender-model", choices=["measured", "schedule"], default="measured",
                        help="measured (default): each drawn pause holds the sender back as it did when recorded "
                             "(a hypervisor's stop halts the sender's CPU too); schedule: every packet as planned")
    parser.add_argument("--block", dest="block_ns", type=block_option, default=STATE_BLOCK_NS, metavar="TIME",
                        help="draw each repeat as blocks of TIME at random points of one segment of the profile "
                             "(default 500ms, docs/prediction.md); 'segment': a stretch as long as the run")
    add_worker_options(parser, "the repeats")

