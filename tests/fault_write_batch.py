"""Helper of test_library_faults.py, run as a subprocess: plan and apply one batch over every track.

    python tests/fault_write_batch.py INDEX VOCABULARY POLICY_JSON

Prints "ready" once everything is imported and planned, just before apply_writes (the test starts its
random delay then, so the kill lands in the writing, not in Python's start-up), and "done N" after.
"""

from __future__ import annotations

import json
import sys

from sqlalchemy import select

from musictagger.library import Track, open_library
from musictagger.library.writing import WritePolicy, apply_writes, plan_writes
from musictagger.taxonomy import load_vocabulary


def main(index: str, vocabulary_path: str, policy_json: str) -> int:
    policy = WritePolicy.from_json(json.loads(policy_json))
    vocabulary = load_vocabulary(vocabulary_path)
    with open_library(index) as library:
        with library.session() as session:
            tracks = session.scalars(select(Track).order_by(Track.id)).all()
            plans = plan_writes(session, tracks, policy, vocabulary)
        print("ready", flush=True)
        report = apply_writes(library, plans, policy, description="fault test")
    print(f"done {report.written}", flush=True)
    return 0 if not report.failed else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
