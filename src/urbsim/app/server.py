"""Start the policy lab with the model compiled and its first runs done before the first visit.

``streamlit run`` executes the page script only when a browser connects, so a cold server made
its first visitor wait for imports, the model's compilation and the first ensemble (10-12 s).
``python -m urbsim.app.server SCRIPT [streamlit options]`` does that work first, in the same
process (the app's ``st.cache_resource`` caches are process-wide), then hands over to Streamlit's
own command line; ``urbsim app``, the browser test and ``bench/app.py`` start the app this way.
"""

from __future__ import annotations

import sys
import time


def warm() -> float:
    """Import the page's modules, compile the model and run the default page's ensemble,
    baseline and sensitivity batch once (native kernels loaded, numpy and Altair warmed, the
    scorecard and every chart layout built in both languages); returns seconds."""
    start = time.perf_counter()
    import altair  # noqa: F401
    import streamlit  # noqa: F401

    from urbsim.app import briefing, runs, scorecard, sidebar, tabs  # noqa: F401
    from urbsim.app.compute import scorecard_table
    from urbsim.app.state import DEFAULT_SEED
    from urbsim.charts import CHARTS, chart_data, time_spec

    presets = runs.get_presets()
    default = runs.default_preset(presets)
    key = runs.overrides_key({})
    # the page's own caches (process-wide resource caches), so the first visit finds them
    single, ensemble = runs.live_runs(default, key, DEFAULT_SEED)
    runs.tornado_runs(default, key)
    if runs.BASELINE in presets:
        runs.case_run(runs.BASELINE, key)
    score = runs.scorecard_frame(single, ensemble)
    for lang in ("zh", "en"):  # the chart layouts are cached per language
        scorecard_table(score, lang)
        for chart in CHARTS.values():
            time_spec(chart, chart_data(chart, {"": single}, lang, ensemble=ensemble), lang)
    # the other tabs' modules (the what-it-takes search imports SciPy's optimizer, ~0.5 s),
    # so that opening them later is quick; the first screen does not import them
    from urbsim.app import pathways  # noqa: F401

    return time.perf_counter() - start


def main() -> None:
    """``python -m urbsim.app.server SCRIPT [options]``: warm, then ``streamlit run``.

    The warmed heap (model, caches, modules: ~260,000 objects) is frozen out of the garbage
    collector's reach: a full collection walked it in ~0.13 s, and one ran during reruns.
    """
    import gc

    seconds = warm()
    gc.freeze()
    print(f"urbsim: model and first runs ready in {seconds:.1f} s", file=sys.stderr)
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    streamlit_main()


if __name__ == "__main__":
    main()
