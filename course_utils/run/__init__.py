"""run: training the model, decoding with it, and the shipped reference model (lessons 09-10).

    decoding (inference, the one evaluation) -> train -> reference
    scripted (a stand-in model for lesson 10 and its checks; needs no training)

Imports from base, transformer and corpus.
"""
