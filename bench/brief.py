"""Benchmark ``urbsim brief``: seconds to build and write a brief (Word and PDF, both
languages) with the default 200-run ensemble; prints figures, asserts nothing.

Usage: python bench/brief.py [--repeat 3]

The model is compiled once first (as ``urbsim brief`` finds it cached on disk after the first
run); each timing covers the runs, the five chart images and the document.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import urbsim
from urbsim.brief import build_brief, write_brief


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=3, help="timings per format and language")
    a = p.parse_args()
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"date {time.strftime('%Y-%m-%d')}"
    )
    model = urbsim.load_model()
    scenario = urbsim.load_scenario("plan")
    build_brief(scenario, "en", model=model, n=8)  # compile the kernels, load fonts
    with tempfile.TemporaryDirectory() as folder:
        for lang in ("zh", "en"):
            for suffix in (".docx", ".pdf"):
                times = []
                for _ in range(a.repeat):
                    t = time.perf_counter()
                    brief = build_brief(scenario, lang, model=model)
                    write_brief(brief, Path(folder) / f"brief{suffix}")
                    times.append(time.perf_counter() - t)
                print(
                    f"brief {lang} {suffix}: median {statistics.median(times):.2f} s "
                    f"(min {min(times):.2f}, max {max(times):.2f}) over {a.repeat}"
                )


if __name__ == "__main__":
    main()
