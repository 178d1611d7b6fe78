"""LLM description judges (G-Eval style, as in PEBench): a local Hugging Face model or an OpenAI-compatible
endpoint rates each description 1-10 against the reference; the score is (rating - 1) / 9 in [0, 1].

Neither is deterministic across servers and versions, so result files keep each record's judge score
and `results.recompute` uses the stored scores for these judges. The endpoint client uses only the
standard library; it has not been tested against a real server (tests never call it).
"""
import json
import os
import re
import urllib.error
import urllib.request

from pebench.errors import UserError
from pebench.judges import JUDGES

PROMPT = (
    "You grade how well a scene description matches a reference description of the same image.\n"
    "Reference: {reference}\nKey points: {keywords}\nDescription to grade: {prediction}\n"
    "Answer with one integer from 1 (unrelated) to 10 (same scene, all key points)."
)


def rating_to_score(text):
    """The first integer 1-10 in `text` mapped to [0, 1]; 0 when the judge gave no usable rating."""
    match = re.search(r"\b(10|[1-9])\b", str(text))
    return (int(match.group(1)) - 1) / 9 if match else 0.0


def _prompts(predictions, references):
    return [PROMPT.format(reference=r["description"], keywords=", ".join(r["keywords"]), prediction=p)
            for p, r in zip(predictions, references)]


@JUDGES.register("hf")
class LocalModelJudge:
    """A local image-text-to-text checkpoint (any model the adapter loads), asked in text: "hf:PATH"."""

    deterministic = False

    def __init__(self, path):
        if not path:
            raise UserError("judge 'hf' needs a model folder: --judge hf:PATH")
        self.name, self.path, self._vlm = f"hf:{path}", path, None

    def score(self, predictions, references):
        from pebench.adapter import VLM

        self._vlm = self._vlm or VLM.from_pretrained(self.path)
        rows = [{"image": None, "question": q} for q in _prompts(predictions, references)]
        return [rating_to_score(t) for t in self._vlm.generate(rows, max_new_tokens=8)]


@JUDGES.register("openai")
class EndpointJudge:
    """An OpenAI-compatible chat endpoint: "openai:MODEL"; base URL from PEBENCH_JUDGE_URL (default
    http://localhost:8000/v1), bearer key from PEBENCH_JUDGE_KEY (optional). Temperature 0."""

    deterministic = False

    def __init__(self, model):
        if not model:
            raise UserError("judge 'openai' needs a model name: --judge openai:MODEL")
        self.name, self.model = f"openai:{model}", model
        self.url = os.environ.get("PEBENCH_JUDGE_URL", "http://localhost:8000/v1").rstrip("/")
        self.key = os.environ.get("PEBENCH_JUDGE_KEY", "")

    def score(self, predictions, references):
        return [rating_to_score(self._ask(p)) for p in _prompts(predictions, references)]

    def _ask(self, prompt):
        body = json.dumps({"model": self.model, "temperature": 0, "max_tokens": 8,
                           "messages": [{"role": "user", "content": prompt}]}).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(f"{self.url}/chat/completions", data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                reply = json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise UserError(f"judge endpoint {self.url} failed: {err}") from None
        try:
            return reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise UserError(f"judge endpoint {self.url} sent an unexpected reply") from None
