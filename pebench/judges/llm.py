"""LLM description judges (G-Eval style, as in PEBench): a local Hugging Face model or an OpenAI-compatible
endpoint rates each description 1-10 against the reference; the score is (rating - 1) / 9 in [0, 1].

Neither is deterministic across servers and versions, so result files keep each record's judge score
and `results.recompute` uses the stored scores for these judges. The endpoint client uses only the
standard library; tests/test_judges.py runs it against a local OpenAI-compatible HTTP server.
"""
import http.client
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
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
            raise UserError(f"judge endpoint {self.url} failed: {_reason(err)}") from None
        try:
            return reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise UserError(f"judge endpoint {self.url} sent an unexpected reply") from None


def _reason(err):
    """Why a request failed, on one line (the CLI prints a `UserError` as one line).

    For an HTTP error it adds the server's own message: OpenAI-compatible servers explain a 4xx/5xx in
    the body (e.g. 404 "The model `x` does not exist."), which says far more than the status line.
    """
    text = str(err) or type(err).__name__  # http.client.BadStatusLine("") has an empty message
    if isinstance(err, json.JSONDecodeError):
        text = f"the reply is not JSON ({err})"
    if isinstance(err, urllib.error.HTTPError):
        detail = _error_message(err)
        text = f"{text}: {detail}" if detail else text
    return " ".join(text.split())[:300]


def _error_message(err):
    """`error.message` (OpenAI) or `message` (older vLLM) of an HTTP error's body, else the body's text."""
    try:
        body = err.read(2000).decode("utf-8", "replace")
        reply = json.loads(body)
        error = reply.get("error", reply)
        return str(error.get("message", error) if isinstance(error, dict) else error)
    except (OSError, http.client.HTTPException):
        return ""
    except (ValueError, AttributeError):
        return body
