"""Did a change work: ``ringlab diff`` puts two states of the machine side by side (``sides``),
with the statistics of a change (``statistics``), the comparison and its verdict (``diff``), and
its figure (``diff_plot``)."""
