"""run: training the model, decoding with it, and the shipped reference model (lessons 09-10).

    decoding (inference, the one evaluation) -> train -> reference

Imports from base, transformer and corpus.
"""
