"""corpus: the toy English -> Chinese corpus the course generates itself (lesson 09),
and the metrics that score translations of it (lesson 10).

    grammar -> data, metrics

Imports only from base and transformer (for the masks a batch carries).
"""
