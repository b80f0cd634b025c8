"""vnetsec controller core: model, store, compilers, reconciler, REST API.

Nothing here imports ``ryu`` except :mod:`controller.ryu_facade`.
"""
