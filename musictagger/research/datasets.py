"""Labelled audio collections for training and evaluation, and how to split them without leaking.

A dataset is a list of audio files with labels (one genre or mood per clip, or several tags per clip) and,
when known, each clip's artist and the dataset's official split. Readers for the common layouts (one
folder per label, a CSV, the FMA metadata, a CAL500-style 0/1 tag table) all return a
:class:`LabelledSet`; every problem a user can fix (a missing column, bad rows, audio files that are not
there) is raised as one :class:`DatasetError` that lists all of them, not the first one found.

Splits are stratified (each part keeps the class proportions) and artist-disjoint whenever artists are
known: clips of one artist share production and voice, so an artist on both sides of a split inflates
test scores (the "artist effect", Flexer 2007). They are deterministic given the seed, and a dataset's
official split is used when every clip has one, so numbers stay comparable with published ones.
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from musictagger.audio import AUDIO_EXTENSIONS
from musictagger.errors import MusictaggerError

__all__ = [
    "DatasetError",
    "Example",
    "LabelledSet",
    "cross_validation_folds",
    "describe_split",
    "open_dataset",
    "read_csv",
    "read_fma",
    "read_folders",
    "read_multilabel_csv",
    "train_val_test_split",
]

log = logging.getLogger(__name__)

#: Header names recognised as the audio file column, the label column and the artist column (lower case).
FILE_COLUMNS = ("file", "path", "filename", "filepath", "file_path", "audio", "audio_path")
LABEL_COLUMNS = ("label", "labels", "genre", "quadrant", "tags", "tag", "mood", "class")
ARTIST_COLUMNS = ("artist", "artist_id", "artist_name")

#: Official split names as datasets spell them -> the names used here.
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "test": "test",
}

# FMA's subsets are nested: "medium" contains "small", "large" contains both.
_FMA_SUBSETS = ("small", "medium", "large", "full")

# How many problems an error message lists before it only counts the rest.
_LISTED = 10


class DatasetError(MusictaggerError):
    """A dataset cannot be read or split as asked; ``problems`` lists every individual issue found."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        self.problems = list(problems)
        if self.problems:
            shown = "\n  ".join(self.problems[:_LISTED])
            more = len(self.problems) - _LISTED
            message = f"{message}\n  {shown}" + (f"\n  ... and {more} more" if more > 0 else "")
        super().__init__(message)


@dataclass(frozen=True)
class Example:
    """One audio clip: its absolute path, its labels, and (when known) its artist and official split."""

    path: str
    labels: tuple[str, ...]
    artist: str | None = None
    split: str | None = None  # "train" / "validation" / "test" when the dataset has an official split


@dataclass(frozen=True)
class LabelledSet:
    """A named, ordered collection of examples with the label vocabulary (in output order)."""

    name: str
    examples: tuple[Example, ...]
    labels: tuple[str, ...]
    multilabel: bool

    def __len__(self) -> int:
        return len(self.examples)

    def label_counts(self) -> dict[str, int]:
        """Examples carrying each label, in label order (labels without examples count 0)."""
        counts = Counter(label for e in self.examples for label in e.labels)
        return {label: counts.get(label, 0) for label in self.labels}

    def targets(self) -> np.ndarray:
        """Single-label: int64 class indices ``(N,)``. Multi-label: int64 0/1 matrix ``(N, C)``."""
        index = {label: i for i, label in enumerate(self.labels)}
        if not self.multilabel:
            return np.array([index[e.labels[0]] for e in self.examples], dtype=np.int64)
        out = np.zeros((len(self.examples), len(self.labels)), dtype=np.int64)
        for row, e in enumerate(self.examples):
            out[row, [index[label] for label in e.labels]] = 1
        return out

    def subset(self, indices: Iterable[int]) -> LabelledSet:
        """The examples at ``indices`` (in that order), keeping the full label list so targets line up."""
        chosen = tuple(self.examples[int(i)] for i in indices)
        return LabelledSet(self.name, chosen, self.labels, self.multilabel)

    @property
    def artists(self) -> tuple[str | None, ...]:
        return tuple(e.artist for e in self.examples)

    @property
    def has_official_split(self) -> bool:
        return bool(self.examples) and all(e.split for e in self.examples)


# --------------------------------------------------------------------------------------------- readers


def read_folders(root: str | os.PathLike) -> LabelledSet:
    """The GTZAN layout: one subfolder per label, audio files anywhere below it (``root/rock/x.wav``)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    examples = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f
            for f in folder.rglob("*")
            if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith(".")
        )
        examples += [Example(os.path.abspath(f), (folder.name,)) for f in files]
    if not examples:
        raise DatasetError(
            f"{root}: no subfolder holds audio files "
            f"(expected one subfolder per label, e.g. {root}/rock/*.mp3)"
        )
    return _finish(root.name, examples, multilabel=False, source=root)


def read_csv(
    path: str | os.PathLike,
    label_column: str | None = None,
    artist_column: str | None = None,
    audio_root: str | os.PathLike | None = None,
    *,
    file_column: str | None = None,
) -> LabelledSet:
    """A CSV of ``file,label`` rows; ``;`` separates several labels (then the set is multi-label).

    A header is recognised by its column names (``file``/``path``..., ``label``/``genre``/``quadrant``...,
    ``artist``); without one, column 1 is the file and column 2 the label. With a header the label column is
    ``label_column``, else the first known label name, else the second column; the artist column is
    ``artist_column`` or ``artist`` when present. Relative paths are resolved against ``audio_root``,
    default the CSV's folder.
    """
    path = Path(path)
    rows = _read_rows(path)
    base = Path(audio_root) if audio_root is not None else path.parent
    header = rows[0] if _looks_like_header(rows[0], file_column, label_column) else None
    if header is None:
        if label_column or artist_column or file_column:
            raise DatasetError(f"{path}: columns were named but the file has no header row")
        file_i, label_i, artist_i, first_line = 0, 1, None, 1
    else:
        names = [h.strip().lower() for h in header]
        file_i = _column(path, names, file_column, FILE_COLUMNS, "file")
        default_label = next((i for i, n in enumerate(names) if n in LABEL_COLUMNS and i != file_i), None)
        if label_column is None and default_label is None:
            default_label = next((i for i in range(len(names)) if i != file_i), None)
        label_i = (
            _column(path, names, label_column, (), "label") if label_column is not None else default_label
        )
        if label_i is None:
            raise DatasetError(f"{path}: no label column (header: {', '.join(header)})")
        artist_i = (
            _column(path, names, artist_column, (), "artist")
            if artist_column is not None
            else next((i for i, n in enumerate(names) if n in ARTIST_COLUMNS), None)
        )
        rows, first_line = rows[1:], 2
    need = max(i for i in (file_i, label_i, artist_i) if i is not None) + 1
    examples, problems = [], []
    for line, row in enumerate(rows, start=first_line):
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) < need:
            problems.append(f"line {line}: {len(row)} column(s), expected at least {need}")
            continue
        file = row[file_i].strip()
        labels = tuple(dict.fromkeys(x.strip() for x in row[label_i].split(";") if x.strip()))
        if not file:
            problems.append(f"line {line}: no file")
        elif not labels:
            problems.append(f"line {line}: no label for {file}")
        else:
            artist = (row[artist_i].strip() or None) if artist_i is not None else None
            examples.append((line, Example(_resolve(base, file), labels, artist)))
    multilabel = any(len(e.labels) > 1 for _, e in examples)
    return _finish(_name_of(path), examples, multilabel=multilabel, source=path, problems=problems)


def read_multilabel_csv(
    path: str | os.PathLike, audio_root: str | os.PathLike | None = None, *, threshold: float = 0.5
) -> LabelledSet:
    """A CAL500-style tag table: a file column and one column per tag holding 0/1 (or a probability or
    rating, on when ``>= threshold``). Columns that are not numbers in every row (title, genre...) are not
    tags and are ignored, except ``artist``, which is kept for grouping. A clip may carry no tag at all."""
    path = Path(path)
    rows = _read_rows(path)
    header = [h.strip() for h in rows[0]]
    names = [h.lower() for h in header]
    file_i = _column(path, names, None, FILE_COLUMNS, "file")
    artist_i = next((i for i, n in enumerate(names) if n in ARTIST_COLUMNS), None)
    body = [(line, row) for line, row in enumerate(rows[1:], start=2) if any(c.strip() for c in row)]
    problems = [
        f"line {line}: {len(row)} columns, header has {len(header)}"
        for line, row in body
        if len(row) != len(header)
    ]
    body = [(line, row) for line, row in body if len(row) == len(header)]
    tag_columns = [
        i for i in range(len(header)) if i not in (file_i, artist_i) and _all_numbers(r[i] for _, r in body)
    ]
    if not tag_columns:
        raise DatasetError(f"{path}: no tag columns (columns of numbers, 0/1 or 0..1) after the file column")
    base = Path(audio_root) if audio_root is not None else path.parent
    examples = []
    for line, row in body:
        file = row[file_i].strip()
        if not file:
            problems.append(f"line {line}: no file")
            continue
        labels = tuple(header[i] for i in tag_columns if float(row[i]) >= threshold)
        artist = (row[artist_i].strip() or None) if artist_i is not None else None
        examples.append((line, Example(_resolve(base, file), labels, artist)))
    tags = tuple(header[i] for i in tag_columns)
    return _finish(_name_of(path), examples, multilabel=True, source=path, problems=problems, labels=tags)


def read_fma(
    metadata_dir: str | os.PathLike, audio_dir: str | os.PathLike | None = None, subset: str = "small"
) -> LabelledSet:
    """The Free Music Archive (Defferrard et al. 2017): ``tracks.csv`` from ``fma_metadata`` and the mp3s.

    Label = ``track/genre_top``, artist = ``artist/id``, split = ``set/split`` (the official one, honoured
    by :func:`train_val_test_split`). ``subset`` is "small", "medium", "large" or "full"; subsets nest, so
    "medium" includes the small tracks. Audio lives at ``audio_dir/000/000002.mp3``; without
    ``audio_dir``, the ``fma_<subset>`` folder next to the metadata folder is used. Tracks without a top
    genre (only in "large"/"full") are left out.
    """
    if subset not in _FMA_SUBSETS:
        raise DatasetError(f"unknown FMA subset {subset!r}: choose one of {', '.join(_FMA_SUBSETS)}")
    metadata_dir = Path(metadata_dir)
    tracks = metadata_dir if metadata_dir.is_file() else metadata_dir / "tracks.csv"
    if audio_dir is None:
        audio_dir = tracks.parent.parent / f"fma_{subset}"
    audio_dir = Path(audio_dir)
    rows = _read_rows(tracks)
    # tracks.csv has a two-level header (pandas: header=[0, 1], index_col=0): row 1 names the group
    # ("track", "set", "artist"...), repeated over its columns; row 2 the field; row 3 is "track_id,,,".
    if len(rows) < 3 or rows[2][0].strip() != "track_id":
        raise DatasetError(f"{tracks}: not FMA's tracks.csv (expected a two-level header and a track_id row)")
    columns = {
        (top.strip(), field.strip()): i for i, (top, field) in enumerate(zip(rows[0], rows[1], strict=False))
    }
    wanted = {"genre": ("track", "genre_top"), "artist": ("artist", "id"), "split": ("set", "split"),
              "subset": ("set", "subset")}  # fmt: skip
    missing = [f"{a}/{b}" for a, b in wanted.values() if (a, b) not in columns]
    if missing:
        raise DatasetError(f"{tracks}: missing FMA column(s) {', '.join(missing)}")
    at = {key: columns[col] for key, col in wanted.items()}
    allowed = set(_FMA_SUBSETS[: _FMA_SUBSETS.index(subset) + 1])
    examples, problems, no_genre = [], [], 0
    for line, row in enumerate(rows[3:], start=4):
        if not row or not row[0].strip():
            continue
        if len(row) <= max(at.values()) or not row[0].strip().isdigit():
            problems.append(f"line {line}: not a track row ({len(row)} columns, id {row[0][:20]!r})")
            continue
        if row[at["subset"]].strip() not in allowed:
            continue
        genre = row[at["genre"]].strip()
        if not genre:
            no_genre += 1
            continue
        track_id = int(row[0])
        split = SPLIT_NAMES.get(row[at["split"]].strip().lower())
        if split is None:
            problems.append(f"line {line}: unknown split {row[at['split']]!r}")
            continue
        audio = audio_dir / f"{track_id:06d}"[:3] / f"{track_id:06d}.mp3"
        artist = row[at["artist"]].strip() or None
        examples.append((line, Example(os.path.abspath(audio), (genre,), artist, split)))
    if no_genre:
        log.info("%s: %d tracks of subset %r have no top genre and are left out", tracks, no_genre, subset)
    return _finish(f"fma_{subset}", examples, multilabel=False, source=tracks, problems=problems)


def open_dataset(spec: str | os.PathLike) -> LabelledSet:
    """A dataset from a one-string description, as given on the command line.

    ``folder:PATH`` (one subfolder per label), ``csv:FILE``, ``fma:METADATA_DIR[,AUDIO_DIR]``,
    ``multilabel:FILE``, or a bare path: a folder holding ``tracks.csv`` is FMA, another folder is the
    folder layout, a ``.csv`` file is read with :func:`read_csv`.
    """
    spec = os.fspath(spec)
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("folder", "csv", "fma", "multilabel"):
        if not rest:
            raise DatasetError(f"{spec!r}: no path after '{kind}:'")
        if kind == "folder":
            return read_folders(rest)
        if kind == "csv":
            return read_csv(rest)
        if kind == "multilabel":
            return read_multilabel_csv(rest)
        metadata, _, audio = rest.partition(",")
        return read_fma(metadata, audio or None)
    path = Path(spec)
    if path.is_dir():
        return read_fma(path) if (path / "tracks.csv").is_file() else read_folders(path)
    if path.is_file() and path.suffix.lower() in (".csv", ".tsv"):
        return read_csv(path)
    if not path.exists():
        raise DatasetError(f"{spec}: no such file or folder")
    raise DatasetError(
        f"{spec}: cannot tell what kind of dataset this is; "
        "use folder:PATH, csv:FILE, fma:DIR or multilabel:FILE"
    )


# ------------------------------------------------------------------------------------------ reader help


def _read_rows(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read: {exc}") from exc
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    rows = [row for row in csv.reader(text.splitlines(), delimiter=delimiter)]
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise DatasetError(f"{path}: empty file")
    return rows


def _looks_like_header(row: list[str], *named: str | None) -> bool:
    cells = {c.strip().lower() for c in row}
    known = set(FILE_COLUMNS) | set(LABEL_COLUMNS) | set(ARTIST_COLUMNS) | {n.lower() for n in named if n}
    return bool(cells & known)


def _column(path: Path, names: list[str], wanted: str | None, defaults: Sequence[str], role: str) -> int:
    candidates = [wanted.lower()] if wanted else list(defaults)
    for name in candidates:
        if name in names:
            return names.index(name)
    expected = f"'{wanted}'" if wanted else "one of " + "/".join(defaults)
    raise DatasetError(f"{path}: no {role} column: expected {expected}; the header has {', '.join(names)}")


def _all_numbers(cells: Iterable[str]) -> bool:
    seen = False
    for cell in cells:
        try:
            float(cell)
        except ValueError:
            return False
        seen = True
    return seen


def _resolve(base: Path, file: str) -> str:
    return os.path.normpath(os.path.join(os.path.abspath(base), os.path.expanduser(file)))


def _name_of(path: Path) -> str:
    # "gtzan_mini/labels.csv" is better named by its folder than by "labels".
    generic = {"labels", "label", "metadata", "annotations", "tracks", "index"}
    return Path(os.path.abspath(path)).parent.name if path.stem.lower() in generic else path.stem


def _finish(
    name: str,
    examples: list,
    *,
    multilabel: bool,
    source: Path,
    problems: Sequence[str] = (),
    labels: Sequence[str] | None = None,
) -> LabelledSet:
    """Check what every reader must guarantee and build the set; ``examples`` are Examples or
    (line, Example) pairs (lines make duplicate and missing-file messages point at the row)."""
    problems = list(problems)
    pairs = [x if isinstance(x, tuple) else (None, x) for x in examples]
    where = {}
    kept = []
    for line, e in pairs:
        at = f"line {line}: " if line is not None else ""
        if e.path in where:
            problems.append(f"{at}{e.path} is listed twice (first at {where[e.path]})")
            continue
        where[e.path] = f"line {line}" if line is not None else "an earlier entry"
        kept.append(e)
    if problems:
        raise DatasetError(f"{source}: {len(problems)} bad row(s)", problems)
    if not kept:
        raise DatasetError(f"{source}: the dataset is empty (no labelled audio files)")
    missing = [e.path for e in kept if not os.path.isfile(e.path)]
    if missing:
        raise DatasetError(f"{source}: {len(missing)} of {len(kept)} audio files do not exist", missing)
    if labels is None:
        labels = sorted({label for e in kept for label in e.labels})
    if not multilabel and len(labels) < 2:
        raise DatasetError(f"{source}: only one label ({', '.join(labels)}); a classifier needs at least two")
    return LabelledSet(name, tuple(kept), tuple(labels), multilabel)


# -------------------------------------------------------------------------------------------- splitting


def _groups(ds: LabelledSet) -> np.ndarray | None:
    """Artist per example (case-folded), or None when no artist is known. A clip without an artist in an
    otherwise artist-labelled set is its own group: it can go anywhere without leaking."""
    if not any(e.artist for e in ds.examples):
        return None
    return np.array([e.artist.casefold() if e.artist else f"\0clip {i}" for i, e in enumerate(ds.examples)])


def _strata(ds: LabelledSet, n_splits: int) -> np.ndarray | None:
    """What to stratify on: the class for single-label sets; for multi-label sets each clip's rarest tag
    (the rare tags are the ones a bad split loses), with strata too small for ``n_splits`` folds merged.
    None when stratifying is impossible (then folds are plain (Group)KFold)."""
    y = ds.targets()
    if not ds.multilabel:
        return y
    counts = y.sum(axis=0)
    # rarest tag per clip; clips without tags get their own stratum (index C)
    rank = np.where(y > 0, counts[None, :], np.iinfo(np.int64).max)
    keys = np.where(y.any(axis=1), rank.argmin(axis=1), y.shape[1])
    sizes = Counter(keys.tolist())
    small = [k for k, n in sizes.items() if n < n_splits]
    if small:
        keys = np.where(np.isin(keys, small), -1, keys)
        if 0 < np.sum(keys == -1) < n_splits:  # the merged leftovers are still too few: join the biggest
            biggest = max((k for k in sizes if k not in small), key=lambda k: sizes[k], default=None)
            if biggest is None:
                return None
            keys = np.where(keys == -1, biggest, keys)
    return keys if len(set(keys.tolist())) > 1 else None


def _check_class_sizes(ds: LabelledSet, needed: int, purpose: str) -> None:
    if ds.multilabel:
        return
    few = [(label, n) for label, n in ds.label_counts().items() if n < needed]
    if few:
        problems = [f"class {label!r} has only {n} example(s)" for label, n in few]
        raise DatasetError(f"{ds.name}: {purpose} needs at least {needed} examples per class", problems)


def _splitter(strata: np.ndarray | None, groups: np.ndarray | None, n_splits: int, seed: int):
    if groups is not None:
        if strata is not None:
            return StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed)
        return GroupKFold(n_splits, shuffle=True, random_state=seed)
    if strata is not None:
        return StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    return KFold(n_splits, shuffle=True, random_state=seed)


def _folds(ds: LabelledSet, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    groups = _groups(ds)
    if groups is not None and len(set(groups.tolist())) < n_splits:
        raise DatasetError(
            f"{ds.name}: only {len(set(groups.tolist()))} artists; an artist-disjoint split into "
            f"{n_splits} parts needs at least {n_splits}"
        )
    if len(ds) < n_splits:
        raise DatasetError(f"{ds.name}: only {len(ds)} examples; {n_splits} parts need at least {n_splits}")
    strata = _strata(ds, n_splits)
    splitter = _splitter(strata, groups, n_splits, seed)
    with warnings.catch_warnings():
        # sklearn warns when a class has fewer members than folds; the callers checked what they need.
        warnings.filterwarnings("ignore", message=".*least populated class.*", category=UserWarning)
        pairs = splitter.split(np.zeros((len(ds), 1)), strata, groups)
        return [(np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)) for tr, te in pairs]


def cross_validation_folds(ds: LabelledSet, k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train_idx, test_idx) folds: every example is tested once; stratified; artist-disjoint when
    artists are known. A class with fewer than ``k`` examples is an error (it could not be in every fold)."""
    if k < 2:
        raise DatasetError(f"cross-validation needs k >= 2, not {k}")
    _check_class_sizes(ds, k, f"{k}-fold cross-validation")
    folds = _folds(ds, k, seed)
    _warn_missing_classes(ds, [te for _, te in folds], "test fold")
    return folds


def train_val_test_split(
    ds: LabelledSet, val: float = 0.15, test: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train_idx, val_idx, test_idx): the official split when every example has one, otherwise a
    stratified split, artist-disjoint when artists are known. Fractions are approximate with artists (whole
    artists move) and rounded to ``1/round(1/fraction)`` (0.15 -> 1/7) since each part is one fold."""
    if ds.has_official_split:
        parts = np.array([e.split for e in ds.examples])
        idx = [np.flatnonzero(parts == name).astype(np.int64) for name in ("train", "validation", "test")]
        if len(idx[0]) == 0:
            raise DatasetError(f"{ds.name}: the official split has no training examples")
        return idx[0], idx[1], idx[2]
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise DatasetError(f"val ({val}) and test ({test}) must be fractions that leave a training part")
    parts_needed = 1 + (val > 0) + (test > 0)
    _check_class_sizes(ds, parts_needed, "a train/validation/test split")
    everything = np.arange(len(ds), dtype=np.int64)
    rest, test_idx = _carve(ds, everything, test, seed)
    inner, val_idx = _carve(ds, rest, val / (1 - test) if test else val, seed + 1)
    _warn_missing_classes(ds, [p for p in (val_idx, test_idx) if len(p)], "split part")
    return inner, val_idx, test_idx


def _carve(ds: LabelledSet, idx: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, held) with ``held`` about ``fraction`` of it: the first of
    ``round(1 / fraction)`` stratified (group) folds."""
    if fraction <= 0:
        return idx, np.zeros(0, dtype=np.int64)
    n_splits = max(2, round(1 / fraction))
    rest, held = _folds(ds.subset(idx), n_splits, seed)[0]
    return idx[rest], idx[held]


def _warn_missing_classes(ds: LabelledSet, parts: list[np.ndarray], what: str) -> None:
    if ds.multilabel:
        return
    y = ds.targets()
    for i, part in enumerate(parts):
        absent = sorted(set(range(len(ds.labels))) - set(y[part].tolist()))
        if absent:
            names = ", ".join(ds.labels[a] for a in absent)
            log.warning(
                "%s: %s %d has no example of %s (too few artists for that class)", ds.name, what, i, names
            )


def describe_split(
    ds: LabelledSet,
    split: tuple[np.ndarray, np.ndarray, np.ndarray] | Sequence[tuple[np.ndarray, np.ndarray]],
    seed: int | None = None,
) -> str:
    """One line saying how ``split`` (from :func:`train_val_test_split` or :func:`cross_validation_folds`)
    divides ``ds``, for reports, e.g. "stratified 5-fold cross-validation, artist-disjoint (155 artists),
    seed 0". Artist-disjointness is stated only when it is checked to hold."""
    groups = _groups(ds)
    is_folds = isinstance(split, list) and all(len(p) == 2 for p in split)
    if is_folds:
        pairs = [(train, test) for train, test in split]
    else:  # no artist may be in two of the three parts
        pairs = [(np.concatenate(split[:2]), split[2]), (split[0], split[1])]
    n_artists = 0 if groups is None else len({g for g in groups.tolist() if not g.startswith("\0")})
    disjoint = groups is not None and all(
        not set(groups[tr].tolist()) & set(groups[te].tolist()) for tr, te in pairs if len(te)
    )
    how = "stratified" if not ds.multilabel else "stratified by each clip's rarest tag"
    if ds.multilabel and _strata(ds, len(split) if is_folds else 2) is None:
        how = "unstratified"
    artists = f", artist-disjoint ({n_artists} artists)" if disjoint else ""
    if groups is not None and not disjoint:
        artists = f", NOT artist-disjoint ({n_artists} artists)"
    if not is_folds:
        train, val, test = split
        sizes = f"train {len(train)} / validation {len(val)} / test {len(test)}"
        if ds.has_official_split and _is_official(ds, split):
            return f"official split of {ds.name}{artists}: {sizes}"
    seeded = f", seed {seed}" if seed is not None else ""
    if is_folds:
        return f"{how} {len(split)}-fold cross-validation{artists}{seeded} ({len(ds)} examples)"
    return f"{how} train/validation/test split{artists}{seeded}: {sizes}"


def _is_official(ds: LabelledSet, split: Sequence[np.ndarray]) -> bool:
    return all(
        all(ds.examples[int(i)].split == name for i in part)
        for part, name in zip(split, ("train", "validation", "test"), strict=True)
    )
