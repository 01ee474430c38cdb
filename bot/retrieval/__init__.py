"""Reading the knowledge folder and searching it: ingest, chunking, analysis, index, search.

Import the modules themselves (`bot.retrieval.knowledge` and so on): this package imports
nothing on its own, so a light module of it (the confidence constants the settings use)
does not pull in the index and the store.
"""
