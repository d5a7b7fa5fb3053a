"""The hardware backend (:mod:`ringlab.hw`): the real XDP program through BCC, a veth testbed, a
paced sender and a poller that injects the simulator's stall schedule. A trial
(:func:`ringlab.hw.trial.run.run_trial`, or :func:`ringlab.run` with ``backend="hw"``) gives the same
trace and files as a simulated run."""
