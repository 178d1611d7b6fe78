"""LLM judges end to end: the "openai" judge against a real local OpenAI-compatible HTTP server, and the
"hf" judge on a tiny model built in memory (no download, no network)."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pebench import tiny
from pebench.errors import UserError
from pebench.judges import make_judge
from pebench.judges.llm import PROMPT, LocalModelJudge

REFERENCE = {"description": "A runner jogs through a green park.", "keywords": ["runner", "park", "bench"]}
# prediction -> what the server's "model" answers for it, and the score that answer maps to: (rating - 1) / 9
RATED = {
    "A runner in a park.": ("Rating: 10", 1.0),
    "A person walking a dog.": ("7", 6 / 9),
    "An empty kitchen.": ("I would say 1 out of 10.", 0.0),
    "A cyclist near a bench.": ("4/10 - partly right", 3 / 9),
    "zzz": ("I cannot rate this.", 0.0),  # no usable rating
}


# ----------------------------------------------------------------------------- the local server
class ChatHandler(BaseHTTPRequestHandler):
    """`POST /v1/chat/completions` as an OpenAI-compatible server answers it; every request is recorded."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": self.headers, "body": body})
        status, payload = self.server.reply(self.path, body)
        if status is None:  # not HTTP at all: what a non-HTTP service on that port would send
            self.wfile.write(payload)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass  # keep pytest's output clean


def completion(path, body):
    """A chat completion whose text is the rating `RATED` gives the prediction found in the prompt."""
    if path != "/v1/chat/completions":
        return 404, json.dumps({"error": {"message": f"no route {path}"}}).encode()
    request = json.loads(body)
    prompt = request["messages"][-1]["content"]
    text = next(answer for prediction, (answer, _) in RATED.items() if f"grade: {prediction}\n" in prompt)
    return 200, json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "model": request["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }).encode()


@pytest.fixture
def server(monkeypatch):
    """A `ThreadingHTTPServer` on 127.0.0.1 (free port) in a thread; PEBENCH_JUDGE_URL points at it."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    httpd.requests, httpd.reply = [], completion
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_port}/v1"
    monkeypatch.setenv("PEBENCH_JUDGE_URL", httpd.url)
    monkeypatch.delenv("PEBENCH_JUDGE_KEY", raising=False)
    monkeypatch.setenv("no_proxy", "*")  # urllib would send even 127.0.0.1 through an http_proxy
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


# ----------------------------------------------------------------------------- the endpoint judge
def test_endpoint_scores_follow_the_ratings_in_input_order(server):
    predictions = list(RATED)[::-1] + ["A runner in a park."]
    scores = make_judge("openai:judge-model").score(predictions, [REFERENCE] * len(predictions))
    assert scores == pytest.approx([RATED[p][1] for p in predictions], abs=1e-12)
    assert len(server.requests) == len(predictions)  # one request per description


def test_endpoint_request_is_an_openai_chat_completion(server):
    make_judge("openai:judge-model").score(["A person walking a dog."], [REFERENCE])
    (request,) = server.requests
    body = json.loads(request["body"])
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Content-Type"] == "application/json"
    assert body["model"] == "judge-model" and body["temperature"] == 0 and body["max_tokens"] > 0
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert message["content"] == PROMPT.format(reference=REFERENCE["description"], keywords="runner, park, bench",
                                               prediction="A person walking a dog.")
    assert request["headers"].get("Authorization") is None  # no key, no header


def test_endpoint_sends_the_key_as_a_bearer_token(server, monkeypatch):
    monkeypatch.setenv("PEBENCH_JUDGE_KEY", "sk-test-123")
    monkeypatch.setenv("PEBENCH_JUDGE_URL", server.url + "/")  # a trailing slash is dropped
    assert make_judge("openai:judge-model").score(["A runner in a park."], [REFERENCE]) == [1.0]
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-123"


FAILURES = {
    "http_500": (500, b'{"error": {"message": "model overloaded"}}', r"HTTP Error 500.*model overloaded"),
    "http_404_plain_text": (404, b"Not Found\n", r"HTTP Error 404.*Not Found"),
    "not_json": (200, b"<html>hello</html>", r"failed: the reply is not JSON"),
    "no_choices": (200, b'{"object": "chat.completion"}', r"unexpected reply"),
    "empty_choices": (200, b'{"choices": []}', r"unexpected reply"),
    "not_http": (None, b"garbage\r\n", r"failed: garbage"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_endpoint_failures_are_one_line_user_errors_naming_the_url(server, case):
    status, payload, message = FAILURES[case]
    server.reply = lambda path, body: (status, payload)
    with pytest.raises(UserError, match=message) as err:
        make_judge("openai:judge-model").score(["A runner in a park."], [REFERENCE])
    assert f"judge endpoint {server.url} " in str(err.value) and "\n" not in str(err.value)


def test_endpoint_with_nothing_listening_is_a_user_error(monkeypatch):
    with socket.socket() as sock:  # a port that was free a moment ago and is closed now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    monkeypatch.setenv("PEBENCH_JUDGE_URL", url)
    monkeypatch.setenv("no_proxy", "*")
    with pytest.raises(UserError, match="Connection refused") as err:
        make_judge("openai:judge-model").score(["A runner in a park."], [REFERENCE])
    assert f"judge endpoint {url} failed" in str(err.value) and "\n" not in str(err.value)


# -------------------------------------------------------------------------------- the local judge
def test_local_model_judge_scores_with_a_tiny_model(tmp_path):
    """A random tiny model rates nonsense, but the path runs: prompt, greedy generation, rating parser."""
    texts = [PROMPT, REFERENCE["description"], *REFERENCE["keywords"], *RATED, *map(str, range(1, 11))]
    model, processor = tiny.build(texts, "tiny", seed=0)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    judge = make_judge(f"hf:{tmp_path}")
    assert isinstance(judge, LocalModelJudge) and not judge.deterministic

    predictions = list(RATED)
    scores = judge.score(predictions, [REFERENCE] * len(predictions))
    vlm = judge._vlm
    assert len(scores) == len(predictions)
    assert all(s in {(r - 1) / 9 for r in range(1, 11)} for s in scores)
    assert judge.score(predictions, [REFERENCE] * len(predictions)) == scores  # greedy: same again
    assert judge._vlm is vlm  # loaded once

    with pytest.raises(UserError, match="hf:PATH"):
        make_judge("hf")
    with pytest.raises(UserError, match="does not exist"):
        make_judge(f"hf:{tmp_path / 'missing'}").score(["x"], [REFERENCE])
