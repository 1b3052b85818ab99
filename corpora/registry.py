"""Corpus recipes by name: ``prepare(source, target) -> list of written files``."""

from emobench.registry import Registry

RECIPES = Registry("recipe")
RECIPES.register("emodb", "corpora.emodb:prepare")
