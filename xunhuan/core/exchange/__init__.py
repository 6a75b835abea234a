"""By-product exchange model (Django-free): network building, transport pricing and solvers.

See ``docs/adr/0030-exchange-optimizer-model.md`` for the model.
"""
