"""An offline, deterministic description judge: event keywords plus ROUGE-L (`--judge keyword_rouge`)."""
from pebench.errors import UserError
from pebench.judges import JUDGES
from pebench.metrics.rouge_l import rouge_l_f, tokenize


def keyword_recall(prediction, keywords):
    """Share of `keywords` found in `prediction` as whole Porter-stemmed words ("jogging" matches the
    keyword "jogs": both stem to "jog"); a multi-word keyword must appear as a contiguous phrase.
    0 when there are no keywords."""
    words = tokenize(prediction)
    found = 0
    for keyword in keywords:
        target = tokenize(keyword)
        found += bool(target) and any(words[i:i + len(target)] == target
                                      for i in range(len(words) - len(target) + 1))
    return found / len(keywords) if keywords else 0.0


@JUDGES.register("keyword_rouge")
class KeywordRougeJudge:
    """score = 0.5 * keyword recall + 0.5 * ROUGE-L F(prediction, reference description), in [0, 1].

    Keyword recall follows PEBench's use of ten evaluation keywords per event (does the description name
    what the scene is about: "runner", "trail", "sneakers"...); ROUGE-L F (stemmed, `rouge_score`)
    rewards the reference's wording and order and penalises rambling, which recall alone would not.
    Deterministic and offline, so the leaderboard can re-score every prediction.
    """

    deterministic = True

    def __init__(self, arg=None):
        if arg:
            raise UserError(f"judge 'keyword_rouge' takes no argument (got {arg!r})")
        self.name = "keyword_rouge"

    def score(self, predictions, references):
        rouge = rouge_l_f(predictions, [r["description"] for r in references])
        return [0.5 * keyword_recall(p, r["keywords"]) + 0.5 * f
                for p, r, f in zip(predictions, references, rouge)]
