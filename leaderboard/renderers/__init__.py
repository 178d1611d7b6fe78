"""Board renderers: one file each, registered under the name of the file they write.

A renderer is `render(board) -> str`, where `board` is the dict `leaderboard.build.build_board` makes
(verified, ranked, JSON-serializable). Adding an output format touches one file in this folder.
"""
from pebench.registry import Registry

RENDERERS = Registry("renderer", "leaderboard.renderers")
