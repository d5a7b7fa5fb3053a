"""What a trial sets up and removes, and what it reads of the machine: the veth testbed
(``testbed``, ``iplink``), the XDP program loaded and attached (``loader``, ``libbcc``), the wire and
map formats (``wire``), the record of what is attached (``state``), signals held while a resource is
made (``signals``), and the machine's settings and steal time (``environment``)."""
