"""Comparison: sweeps over both backends, loss curves with error bars, their alignment, a fit of
the stalls nobody injected, and the plots and report people put in their papers."""
