"""scikit-learn's own estimator checks on MLPClassifier and MLPRegressor."""

from __future__ import annotations

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from chainrule.sklearn import MLPClassifier, MLPRegressor

# Small networks and few epochs keep the ~120 checks per estimator fast; the learning rate
# is raised so that 20 epochs still pass the accuracy and R² thresholds of the checks.
SMALL = {"hidden_layer_sizes": (16,), "max_iter": 20, "learning_rate_init": 0.01}
ESTIMATORS = [MLPClassifier(**SMALL), MLPRegressor(**SMALL)]

EXPECTED_FAILED: dict[str, dict[str, str]] = {"MLPClassifier": {}, "MLPRegressor": {}}


def _expected_failed(estimator):
    return EXPECTED_FAILED[type(estimator).__name__]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_sample_weight_equivalence_in_float64(cls):
    # the same check with the dtype named explicitly (not only followed from the data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(
            cls.__name__, cls(**SMALL, dtype="float64", random_state=0)
        )
