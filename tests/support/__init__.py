"""What the tests of every app share; tests of one app keep their own helpers beside them.

factories.py       every factory of the suite, one per model, and the row builders
"""
