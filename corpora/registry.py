"""Corpus recipes by name: ``prepare(source, target, **options) -> list of written files``.

Options are keyword arguments of the recipe, given on the command line as ``-o key=value``.
"""

from emobench.core.registry import Registry

RECIPES = Registry("recipe")
RECIPES.register("emodb", "emobench.corpora.emodb:prepare")
RECIPES.register("crema_d", "emobench.corpora.crema_d:prepare")
RECIPES.register("emogator", "emobench.corpora.emogator:prepare")
RECIPES.register("exvo_support", "emobench.corpora.exvo_support:prepare",
                 description="few-shot support sets (Subject_ID,File_ID) from a data_info.csv")
RECIPES.register("msp_podcast", "emobench.corpora.msp_podcast:prepare",
                 description="MSP-Podcast as IS25 releases it: checks it, writes is25_<test>.csv")
for _corpus in ("aesdd", "cafe", "crema_d", "emodb", "emovo", "iemocap4", "ravdess", "savee",
                "shemo"):  # SERAB's nine corpora: docs/serab_corpora.md
    RECIPES.register(f"serab_{_corpus}", f"emobench.corpora.serab_corpora:{_corpus}",
                     description=f"SERAB: {_corpus} with Table 1 count checks and SERAB's "
                                 "seeded speaker split")
