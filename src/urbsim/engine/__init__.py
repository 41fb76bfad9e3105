"""Fast engine: compiles a Vensim .mdl (through PySD's parser) into vectorised numpy/JAX code.

>>> from urbsim.engine import compile_model
>>> cm = compile_model("model/urbsim.mdl")          # doctest: +SKIP
>>> out = cm.simulate({"plan switch": [0, 1]}, n=2)  # doctest: +SKIP
"""

from .compile import CompiledModel, compile_model

__all__ = ["CompiledModel", "compile_model"]
