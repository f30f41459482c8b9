"""Batch QA: replay many recorded calls through the rules, one report per call and a summary.

One module per stage:

* ``inputs``   — find the calls in folders, globs and lists; pair agent/customer files by name;
* ``cache``    — recognized timelines keyed by audio content, model and settings;
* ``runner``   — a group of calls end to end (``process_calls``), and many on a local process pool or a
                 Dask cluster (``run_batch``), resumable;
* ``stats``    — call statistics from a call's events (talk ratio, dead air, talk-over, ...);
* ``report``   — the self-contained HTML report of one call;
* ``summary``  — the summary across calls (HTML and CSV);
* ``diff``     — two rule sets over the same calls (``rules diff``);
* ``progress`` — the progress line on stderr.
"""
