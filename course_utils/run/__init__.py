"""run: training the model, decoding with it, and the shipped reference model (lessons 09-10).

    train, decoding -> reference

Imports from base, transformer and corpus.
"""
