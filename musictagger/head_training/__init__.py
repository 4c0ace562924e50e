"""Learning heads: where the labelled tracks come from (``sources``: a dataset, or the library's tags and
reviews), fitting and nested cross-validation (``training``), cross-validate → report → fit → card
(``build``), and the numbers as a person reads them (``report``).

Apart from ``heads`` (the runtime: a head's net, card, loading, prediction) because learning needs the
analysis pipeline, and the analysis pipeline runs heads: one package each keeps the imports acyclic.
"""
