"""pebench ROUGE-L as an offline `evaluate` module: `evaluate.load("<this folder>")`.

The stemmed ROUGE-L recall (TOFU) and F-measure of `pebench.metrics.rouge_l`, averaged over samples.
Unlike `evaluate.load("rouge")`, loading a local folder needs no network.
"""
import datasets
import evaluate

from pebench.metrics.rouge_l import rouge_l_f, rouge_l_recall

_CITATION = "Lin, C.-Y. (2004). ROUGE: a package for automatic evaluation of summaries."
_INPUTS = """
Args:
    predictions: list of generated texts.
    references: list of reference texts (one per prediction).
Returns:
    rougeL_recall: mean LCS / |reference| (stemmed tokens), in [0, 1].
    rougeL_f: mean ROUGE-L F-measure, in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _INPUTS)
class RougeL(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation=_CITATION, inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references):
        recall, f = rouge_l_recall(predictions, references), rouge_l_f(predictions, references)
        return {"rougeL_recall": sum(recall) / len(recall), "rougeL_f": sum(f) / len(f)}
