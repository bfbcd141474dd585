"""Which inputs mattered, and what that says about a network's predictions.

- :mod:`biograd.explain.attributions`: saliency, gradient x input, integrated gradients and in-silico
  mutagenesis, the numbers per input (``explain.integrated_gradients(model, x)``);
- :mod:`biograd.explain.predictions`: those numbers turned into an :class:`Explanation` of a model's
  predictions: features ranked with the direction of their effect (tables), each sequence's most
  important site grouped by class (sequences), towards the class a biologist calls positive.

>>> from biograd import explain                                          # doctest: +SKIP
>>> attr = explain.integrated_gradients(model, data.x[:10])
>>> table = explain.feature_ranking(model, data.x, data.feature_names)
"""

from biograd.explain.attributions import (
    METHODS,
    attributions,
    feature_ranking,
    gradient_x_input,
    in_silico_mutagenesis,
    integrated_gradients,
    outputs,
    position_importance,
    rank_features,
    saliency,
    score,
)
from biograd.explain.attributions import (
    _outputs as _outputs,  # used by the tests
)
from biograd.explain.predictions import (
    MAX_EXPLAIN_ROWS,
    Explanation,
    SiteGroup,
    attributions_towards_classes,
    class_index,
    class_order,
    common_sites,
    explain_sequences,
    explain_table,
    positive_class,
)

__all__ = [
    "MAX_EXPLAIN_ROWS",
    "METHODS",
    "Explanation",
    "SiteGroup",
    "attributions",
    "attributions_towards_classes",
    "class_index",
    "class_order",
    "common_sites",
    "explain_sequences",
    "explain_table",
    "feature_ranking",
    "gradient_x_input",
    "in_silico_mutagenesis",
    "integrated_gradients",
    "outputs",
    "position_importance",
    "positive_class",
    "rank_features",
    "saliency",
    "score",
]
