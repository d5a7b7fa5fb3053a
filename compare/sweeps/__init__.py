"""Many runs, resumable: a sweep file's points (``sweep_file``), running them into one directory
(``sweep``), and the table of their summaries (``table``)."""
