"""`board.json`: the whole verified, ranked board as data (what the other renderers draw from)."""
import json

from leaderboard.renderers import RENDERERS


@RENDERERS.register("board.json")
def render(board):
    return json.dumps(board, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
