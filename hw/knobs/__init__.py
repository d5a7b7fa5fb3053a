"""The knobs ``ringlab hw experiment`` turns, one registry: ringlab's own processes'
(:mod:`~ringlab.hw.knobs.process_knobs`) and the machine's (:mod:`~ringlab.hw.knobs.system_knobs`,
journalled by :mod:`~ringlab.hw.knobs.journal`), and those not offered, each with why."""

from __future__ import annotations

from ringlab.errors import InputError
from ringlab.hw.knobs.knob import PROCESS, SYSTEM, Knob
from ringlab.hw.knobs.process_knobs import KNOBS as PROCESS_KNOBS
from ringlab.hw.knobs.system_knobs import KNOBS as SYSTEM_KNOBS

KNOBS = {knob.name: knob for knob in PROCESS_KNOBS + SYSTEM_KNOBS}

NOT_OFFERED = {
    "kernel.sched_rt_runtime_us": "lets a real-time poller starve everything else on a 2-core machine (and since "
                                  "6.12 the fair server decides it); test it by hand with 'ringlab diff'",
    "cpuset.partition": "an isolated cpuset partition takes a CPU from every other task of the machine; "
                        "test it by hand with 'ringlab diff'",
    "irq.affinity": "irqbalance rewrites IRQ affinity behind ringlab's back; stop it and test by hand",
    "isolcpus": "a boot parameter: reboot with it and compare with 'ringlab diff' across the reboot",
    "nohz_full": "a boot parameter: reboot with it and compare with 'ringlab diff' across the reboot",
    "rcu_nocbs": "a boot parameter: reboot with it and compare with 'ringlab diff' across the reboot",
}

__all__ = ["KNOBS", "NOT_OFFERED", "PROCESS", "SYSTEM", "Knob", "knob_named", "parse_knob_option"]


def knob_named(name: str) -> Knob:
    """The knob called ``name``, or an InputError saying which exist (and why one is not offered)."""
    if name in NOT_OFFERED:
        raise InputError("--knob", f"{name} is not offered: {NOT_OFFERED[name]}")
    if name not in KNOBS:
        raise InputError("--knob", f"unknown knob {name!r} (knobs: {', '.join(KNOBS)})")
    return KNOBS[name]


def parse_knob_option(text: str) -> tuple[Knob, str]:
    """``NAME=VALUE`` as the knob and its value in the knob's spelling; an InputError otherwise (a value
    that needs the trial's scenario, such as a CPU list that must leave out the poller's CPU, is
    checked by the experiment)."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise InputError("--knob", f"{text!r} is not NAME=VALUE")
    knob = knob_named(name.strip())
    if not knob.available():
        raise InputError("--knob", f"{knob.name}: this machine has no {knob.where}")
    return knob, knob.parse(value)
