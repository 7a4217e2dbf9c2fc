"""The Quant variant: the in-context learner in fixed point. ``fixed_point``: the arithmetic;
``model.QuantLearner``: the model, trained with quantisation in the loop, whose arithmetic is
``numerics.FakeQuant``; ``integer.IntegerNumerics``: its integer-only inference. (Nothing is
imported here: the modules sit on different layers, ``tests/test_layering.py``.)"""
