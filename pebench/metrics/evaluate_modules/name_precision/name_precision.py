"""pebench name precision as an offline `evaluate` module: `evaluate.load("<this folder>")`.

PEBench's person-task score: the percentage of answers that contain the person's full name
(case-insensitive), from `pebench.metrics.name_precision`.
"""
import datasets
import evaluate

from pebench.metrics.name_precision import name_precision

_CITATION = "Xu et al. (2025). PEBench: a fictitious dataset to benchmark machine unlearning for MLLMs."
_INPUTS = """
Args:
    predictions: list of generated answers.
    references: list of full names (one per prediction).
Returns:
    name_precision: percentage of predictions containing the name, in [0, 100].
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _INPUTS)
class NamePrecision(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation=_CITATION, inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        hits = name_precision(predictions, references)
        return {"name_precision": 100.0 * sum(hits) / len(hits)}
