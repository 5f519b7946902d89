"""Put by the grader into a candidate's environment (site-packages, loaded by a ``.pth`` line); it runs only
inside the sandbox, in the candidate's own Python. Standard library only, and it does nothing until the
candidate's code imports ``mlflow.sklearn``.

Why: MLflow 3 saves scikit-learn models with skops by default (``save_model``/``log_model`` default to skops;
from 3.17 through ``_get_default_serialization_format``, cloudpickle only on Databricks), and after saving it
loads the file back with skops' *default* trusted types. Which types skops trusts by default changes between
skops releases: the same RandomForest that MLflow 3.15 with skops 0.14 saved on the candidate's machine is refused
by a newer skops ("references untrusted types ... sklearn.tree._tree.Tree"). When the candidate's code chose
neither ``serialization_format`` nor ``skops_trusted_types``, and skops would refuse the model, the model is saved
with cloudpickle instead: MLflow's own default before skops and still its default on Databricks, which every
MLflow version loads. A candidate who chose a format gets exactly what they chose; a model skops accepts is saved
with skops, as MLflow would.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import inspect
import sys

TARGET = "mlflow.sklearn"
CHOICES = ("serialization_format", "skops_trusted_types")


def _skops_refuses(model: object) -> bool:
    try:
        import skops.io as skops_io
    except ImportError:
        return False
    try:
        return bool(skops_io.get_untrusted_types(data=skops_io.dumps(model)))
    except Exception:  # skops cannot write it at all (e.g. a custom function): MLflow would refuse it too
        return True


def _with_default_format(save):
    signature = inspect.signature(save)

    @functools.wraps(save)
    def saving(*args, **kwargs):
        try:
            bound = signature.bind_partial(*args, **kwargs).arguments
        except TypeError:
            return save(*args, **kwargs)  # let MLflow say what is wrong with the call
        model = bound.get("sk_model")
        if not any(bound.get(name) is not None for name in CHOICES) and model is not None and _skops_refuses(model):
            kwargs["serialization_format"] = "cloudpickle"
        return save(*args, **kwargs)

    return saving


def _patch(flavor: object) -> None:
    if getattr(flavor, "SERIALIZATION_FORMAT_SKOPS", None) is None:
        return  # an MLflow without skops: its default (cloudpickle) is left alone
    for name in ("save_model", "log_model"):
        function = getattr(flavor, name, None)
        if function is not None and "serialization_format" in inspect.signature(function).parameters:
            setattr(flavor, name, _with_default_format(function))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the real loader of ``mlflow.sklearn`` so the module is patched once loaded."""

    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AfterImport())
