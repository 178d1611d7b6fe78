"""Renderers turn (person, event, variant) into an image plus the scene record the QA is built from.

A renderer is `render(person, event, variant, size, seed) -> (PIL.Image, scene)`, registered by name in
`RENDERERS`; the scene lists what was drawn (`objects`, `clutter`, `tags`, `pose`). One file each: a
diffusion renderer can be added beside `procedural.py` without touching the rest.
"""
from pebench.registry import Registry

RENDERERS = Registry("renderer", "data_builders.renderers")
