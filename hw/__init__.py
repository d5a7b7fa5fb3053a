"""The hardware backend: the real XDP program through BCC, a veth testbed, a paced sender and a
poller that injects the simulator's stall schedule. ``hw.trial.run_trial`` writes the same files
as ``ringlab sim``."""
