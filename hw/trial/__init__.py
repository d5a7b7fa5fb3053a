"""One trial and its hot loops: the trial (``run``), the paced sender (``sender``, and
``remote_send`` on another host), the poller (``poller``, with its C loops in ``native_loops`` and
``hot_loops.c``), the other delivery paths' sockets and their C pollers (``delivery``, ``xsk_socket``
with ``xsk_loop.c``, ``udp_socket`` with ``udp_loop.c``), the pause profiles measured with the
poller's loop, idle (``idle_profile``) or under a trial's load (``load_profile``), and the cleanup after a
killed trial (``cleanup``)."""
