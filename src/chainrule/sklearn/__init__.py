"""chainrule.sklearn: scikit-learn estimators backed by chainrule networks.

:class:`MLPClassifier` and :class:`MLPRegressor` take the parameter names of
``sklearn.neural_network`` (code ports by changing the import) and add what it lacks:
more optimisers and schedules, dropout, batch normalisation, initialisers, an L1 penalty,
``class_weight``, float32 training and safe model files (:meth:`MLPClassifier.save`,
:meth:`MLPClassifier.load`). They work in ``Pipeline``, ``GridSearchCV``,
``cross_validate`` and under ``joblib.parallel_backend("dask")``.

Importing this module imports scikit-learn.

>>> from sklearn.datasets import load_iris
>>> from chainrule.sklearn import MLPClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=200,
...                     random_state=0).fit(X, y)
>>> clf.score(X, y) > 0.9
True
"""

from ._mlp import MLPClassifier, MLPRegressor, load

__all__ = ["MLPClassifier", "MLPRegressor", "load"]
