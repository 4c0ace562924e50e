"""Library mode vs the full analysis: the same written labels? How much faster? (issue 14, "same answer").

    .venv/bin/python bench/bench_library_mode.py [--sets music,gtzan_mini[,mer4q]] [--budgets 8,12,16]
                                                 [--limit N] [--no-tempo-key]

Reads ``../shared/audio/music`` (16 full-length tracks), ``../shared/eval/gtzan_mini`` (40 clips of 30 s)
and, when named, ``../shared/eval/mer4q`` (426 clips of 30 s); says so and skips a set that is missing.
A 30-s clip has 10 patches of 3 s: with a budget of 10 or more it is analysed in full by design (a track no
longer than the budget is), so on the clip sets only smaller budgets differ at all.

Every track is analysed by the default Analyzer (services.analysis.Models.load(Settings()): every tagger,
every head, tempo and key) once in full (``analyse_file``) and once per budget in library mode
(``analyse_file(patch_budget=N)``), in alternating order, one at a time, decode included. Per set and
budget it prints:

- written labels equal: the genres and the moods a write takes (each label at its calibrated threshold,
  ``Vocabulary.passes``; at most [write] max_genres / max_moods, 2 each) are the same set in both modes;
- top-3 per tagger: each tagger's three highest raw tags are the same set (all taggers of the track), and
  the mean share of the three found in both;
- energy (1-10) and valence (-1..1) from the regression head: mean and largest absolute difference;
- head accuracy where the set has labels (gtzan_mini: genre_gtzan top-1; mer4q: mood_quadrants top-1);
- tempo within 4 % and key equal between the two modes (library mode reads the sampled patches joined);
  on gtzan_mini also each mode's tempo Accuracy-1 / key exact against the annotations;
- seconds per track of each mode and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from musictagger.analysis import TrackAnalysis  # noqa: E402
from musictagger.files import iter_audio_files  # noqa: E402
from musictagger.keys import parse_key  # noqa: E402
from musictagger.library.policy import WritePolicy  # noqa: E402
from musictagger.services.analysis import Models  # noqa: E402
from musictagger.services.suggest import confident_labels  # noqa: E402
from musictagger.settings import Settings  # noqa: E402

SHARED = ROOT.parent / "shared"
SETS = {
    "music": SHARED / "audio" / "music",
    "gtzan_mini": SHARED / "eval" / "gtzan_mini",
    "mer4q": SHARED / "eval" / "mer4q",
}
# mood_quadrants' labels as mer4q's quadrants (Panda et al. 2018: Q1 happy, Q2 angry, Q3 sad, Q4 calm).
QUADRANTS = {"happy/excited": "Q1", "angry/tense": "Q2", "sad/depressed": "Q3", "calm/relaxed": "Q4"}


def written(analysis: TrackAnalysis, models: Models) -> dict[str, tuple[str, ...]]:
    """The genres and moods a write takes from this analysis (calibrated thresholds, the write's caps)."""
    policy = WritePolicy()
    caps = {"genre": policy.max_genres, "mood": policy.max_moods}
    scores = models.vocabulary.canonical_scores(analysis.label_scores())
    return {
        field_name: tuple(
            sorted(s.label for s in confident_labels(scores, models.vocabulary, field_name, None)[:cap])
        )
        for field_name, cap in caps.items()
    }


def top3(analysis: TrackAnalysis) -> dict[str, set[str]]:
    return {
        name: {scores.labels[i] for i in np.argsort(-scores.scores, kind="stable")[:3]}
        for name, scores in analysis.models.items()
    }


@dataclass
class Tally:
    n: int = 0
    sampled: int = 0  # tracks longer than the budget (the others were analysed in full in both modes)
    labels_equal: int = 0
    genre_equal: int = 0
    mood_equal: int = 0
    top3_equal: int = 0
    top3_overlap: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    valence: list[float] = field(default_factory=list)
    correct_full: int = 0
    correct_lib: int = 0
    labelled: int = 0
    tempo_pairs: int = 0
    tempo_agree: int = 0
    key_pairs: int = 0
    key_agree: int = 0
    tempo_acc_full: int = 0
    tempo_acc_lib: int = 0
    key_acc_full: int = 0
    key_acc_lib: int = 0
    annotated_tempo: int = 0
    annotated_key: int = 0
    seconds_full: list[float] = field(default_factory=list)
    seconds_lib: list[float] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)  # one line per track whose written labels differ


def tracks_of(name: str, limit: int | None) -> list[tuple[str, dict]]:
    folder = SETS[name]
    if name == "music":
        found = [(p, {}) for p in iter_audio_files([folder]) if isinstance(p, str)]
    else:
        with open(folder / "labels.csv", newline="") as handle:
            found = [(str(folder / row["file"]), row) for row in csv.DictReader(handle)]
    return found[:limit] if limit else found


def head_answer(name: str, analysis: TrackAnalysis) -> str | None:
    if name == "gtzan_mini" and "genre_gtzan" in analysis.heads:
        return analysis.heads["genre_gtzan"].top()[0]
    if name == "mer4q" and "mood_quadrants" in analysis.heads:
        return QUADRANTS.get(analysis.heads["mood_quadrants"].top()[0])
    return None


def truth(name: str, row: dict) -> str | None:
    return row.get("genre") if name == "gtzan_mini" else row.get("quadrant") if name == "mer4q" else None


def compare(name: str, row: dict, full: TrackAnalysis, lib: TrackAnalysis, models: Models, t: Tally) -> None:
    t.n += 1
    t.sampled += lib.sampled
    wf, wl = written(full, models), written(lib, models)
    t.labels_equal += wf == wl
    if wf != wl:
        sf, sl = (models.vocabulary.canonical_scores(a.label_scores()) for a in (full, lib))
        changed = sorted({*wf["genre"], *wf["mood"]} ^ {*wl["genre"], *wl["mood"]})
        scores = ", ".join(
            f"{label} {sf.get(label, 0):.3f} -> {sl.get(label, 0):.3f} (threshold "
            f"{models.vocabulary.thresholds.get(label, float('nan')):.3f})"
            for label in changed
        )
        t.differing.append(
            f"{Path(full.path).name}: {dict(wf)} -> {dict(wl)}; {scores or 'same labels, cap order'}"
        )
    t.genre_equal += wf["genre"] == wl["genre"]
    t.mood_equal += wf["mood"] == wl["mood"]
    tf, tl = top3(full), top3(lib)
    t.top3_equal += all(tf[m] == tl[m] for m in tf)
    t.top3_overlap.append(float(np.mean([len(tf[m] & tl[m]) / 3 for m in tf])))
    df, dl = full.dimensions(), lib.dimensions()
    if "energy" in df:
        t.energy.append(abs(df["energy"] - dl["energy"]))
        t.valence.append(abs(df["valence"] - dl["valence"]))
    want = truth(name, row)
    if want:
        t.labelled += 1
        t.correct_full += head_answer(name, full) == want
        t.correct_lib += head_answer(name, lib) == want
    if full.tempo_key is not None and lib.tempo_key is not None:
        bf, bl = full.tempo_key.tempo.bpm, lib.tempo_key.tempo.bpm
        if bf is not None or bl is not None:
            t.tempo_pairs += 1
            t.tempo_agree += bf is not None and bl is not None and abs(bl - bf) <= 0.04 * bf
        kf, kl = full.tempo_key.key.key, lib.tempo_key.key.key
        if kf is not None or kl is not None:
            t.key_pairs += 1
            t.key_agree += kf == kl
        if row.get("bpm"):
            ref = float(row["bpm"])
            t.annotated_tempo += 1
            t.tempo_acc_full += bf is not None and abs(bf - ref) <= 0.04 * ref
            t.tempo_acc_lib += bl is not None and abs(bl - ref) <= 0.04 * ref
        if row.get("key"):
            ref_key = parse_key(row["key"])
            t.annotated_key += 1
            t.key_acc_full += kf == ref_key
            t.key_acc_lib += kl == ref_key


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:5.1f} % ({a}/{b})" if b else "   -"


def report(name: str, budget: int, t: Tally) -> None:
    print(f"\n## {name}, budget {budget} patches ({t.sampled} of {t.n} tracks longer than the budget)")
    print(f"  written labels equal (genre+mood): {pct(t.labels_equal, t.n)}")
    print(f"    genre equal: {pct(t.genre_equal, t.n)}   mood equal: {pct(t.mood_equal, t.n)}")
    print(
        f"  top-3 per tagger equal:            {pct(t.top3_equal, t.n)}"
        f"   mean overlap {np.mean(t.top3_overlap):.3f}"
    )
    if t.energy:
        print(
            f"  energy |diff| mean {np.mean(t.energy):.3f} max {np.max(t.energy):.3f};"
            f" valence |diff| mean {np.mean(t.valence):.3f} max {np.max(t.valence):.3f}"
        )
    if t.labelled:
        head = "genre_gtzan" if name == "gtzan_mini" else "mood_quadrants"
        print(
            f"  {head} accuracy: full {pct(t.correct_full, t.labelled)}"
            f"  library {pct(t.correct_lib, t.labelled)}"
        )
    if t.tempo_pairs or t.key_pairs:
        print(
            f"  tempo within 4 % of full's: {pct(t.tempo_agree, t.tempo_pairs)}"
            f"   key equal: {pct(t.key_agree, t.key_pairs)}"
        )
    if t.annotated_tempo:
        print(
            f"  vs annotations: tempo Acc-1 full {pct(t.tempo_acc_full, t.annotated_tempo)} library "
            f"{pct(t.tempo_acc_lib, t.annotated_tempo)}; key exact full "
            f"{pct(t.key_acc_full, t.annotated_key)} library {pct(t.key_acc_lib, t.annotated_key)}"
        )
    full_s, lib_s = float(np.mean(t.seconds_full)), float(np.mean(t.seconds_lib))
    print(f"  seconds per track: full {full_s:.2f}, library {lib_s:.2f} ({full_s / lib_s:.1f}x)")
    for line in t.differing:
        print(f"    differs: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sets", default="music,gtzan_mini", help="comma-separated: music, gtzan_mini, mer4q"
    )
    parser.add_argument(
        "--budgets", default="8,12,16", help="patch budgets to compare with the full analysis"
    )
    parser.add_argument("--limit", type=int, help="at most N tracks per set")
    parser.add_argument("--no-tempo-key", action="store_true", help="leave the tempo/key stage out")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    settings = Settings()
    if args.no_tempo_key:
        settings = settings.replace(analysis={"tempo_key": False})
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min load average, {os.cpu_count()} CPUs)")
    models = Models.load(settings)
    analyzer = models.analyzer
    print(f"analyzer: {models.describe()}")
    for name in args.sets.split(","):
        if not SETS[name].exists():
            print(f"\n## {name}: {SETS[name]} is missing (../shared not here); skipped")
            continue
        tallies = {b: Tally() for b in budgets}
        for i, (path, row) in enumerate(tracks_of(name, args.limit)):
            order = [None, *budgets] if i % 2 == 0 else [*budgets, None]
            found: dict[int | None, tuple[TrackAnalysis, float]] = {}
            for budget in order:
                started = time.perf_counter()
                analysis = analyzer.analyse_file(path, patch_budget=budget)
                found[budget] = (analysis, time.perf_counter() - started)
            full, full_s = found[None]
            for budget in budgets:
                lib, lib_s = found[budget]
                tallies[budget].seconds_full.append(full_s)
                tallies[budget].seconds_lib.append(lib_s)
                compare(name, row, full, lib, models, tallies[budget])
        for budget in budgets:
            report(name, budget, tallies[budget])
    print(f"\nload after: {os.getloadavg()[0]:.2f}")
    if analyzer.tempo_key is not None:
        analyzer.tempo_key.close()  # its worker process
    return 0


if __name__ == "__main__":
    sys.exit(main())
