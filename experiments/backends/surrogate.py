"""A surrogate that answers any configuration of an objective's real search space with a whole
learning curve, fitted to its recorded table (objectives/tables/OBJECTIVE.csv).

Syne Tune's `add_surrogate` fits a regressor from hyperparameters to curves over a tabular
blackbox. Two choices differ from its defaults, both for measured reasons (leave-one-
configuration-out on the recorded tables; `held_out_quality` repeats the measurement):
- Encoding. Stock standardises learning rates on their linear scale and one-hot encodes every
  `choice`, so lr 0.01 and 0.05 look alike and l1 = 4 is as far from 8 as from 256. On the
  CIFAR table that made the surrogate rank configurations no better than chance (Spearman of
  final errors -0.24); here log-scaled domains are logged and numeric choices are numbers.
- Model. Validation-error curves come from the single nearest recorded configuration, so
  every served curve is a real recording: averaging neighbours would shrink the good tail
  (fewer configurations reaching a target) and make early epochs predict the last one better
  than they really do, which flatters early stopping. Epoch times are the distance-weighted
  mean of 4 neighbours measured without the learning rate, which does not set an epoch's cost.
`FastCurveBlackbox` serves the same curves with numpy alone (scikit-learn's pipeline costs ~2 ms
per trial start, most of a 256-worker simulation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from syne_tune import config_space as cs
from experiments.compat.syne_tune_blackbox import CurveBlackbox
from syne_tune.blackbox_repository.blackbox_surrogate import BlackboxSurrogate, Columns
from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular

from objectives.tables import ELAPSED, LEVEL

LEARNING_RATE_NAMES = ("learning_rate", "lr")


# -- the table as a tabular blackbox over the real hyperparameters ----------------------------------


def make_tabular(frame: pd.DataFrame, configs: dict[int, dict], search_space: dict, max_epochs: int,
                 metric: str = "validation_error", resource_attr: str = "epoch") -> BlackboxTabular:
    """`frame`: complete curves, sorted by configuration and level; `configs`: id ->
    hyperparameters (the table's metadata). The blackbox answers `metric` and the elapsed
    time at each level of `resource_attr` (the names the objective reports)."""
    frame = frame.sort_values(["config_id", LEVEL])
    ids = frame["config_id"].unique()
    names = [n for n, d in search_space.items() if isinstance(d, cs.Domain)]
    hyperparameters = pd.DataFrame([{n: configs[int(i)][n] for n in names} for i in ids])
    objectives = [metric, ELAPSED]
    curves = frame[objectives].to_numpy(float).reshape((len(ids), max_epochs, len(objectives)))
    return BlackboxTabular(
        hyperparameters=hyperparameters,
        configuration_space={n: search_space[n] for n in names},
        fidelity_space={resource_attr: cs.randint(1, max_epochs)},
        objectives_evaluations=curves[:, None, :, :],  # (configurations, seeds, levels, objectives)
        fidelity_values=np.arange(1, max_epochs + 1),
        objectives_names=objectives,
    )


# -- encoding -----------------------------------------------------------------------------------------


def numeric_choice(domain) -> bool:
    """A `choice` of numbers (l1, l2, batch size): ordered, so a number to a regressor."""
    return isinstance(domain, cs.Categorical) and all(
        isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool)
        for c in domain.categories)


def log_encoded(domain) -> bool:
    """Log-scaled for the regressor: log domains, and positive numeric choices spanning a
    factor of 8 or more (powers of two)."""
    if numeric_choice(domain):
        values = np.asarray(domain.categories, dtype=float)
        return bool(values.min() > 0 and values.max() / values.min() >= 8)
    return isinstance(domain, cs.Domain) and not isinstance(domain, cs.Categorical) and cs.is_log_space(domain)


class LogColumns(BaseEstimator, TransformerMixin):
    """np.log of the columns flagged in `mask`."""

    def __init__(self, mask=None):
        self.mask = mask

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.array(X, dtype=float, copy=True)
        X[:, self.mask] = np.log(X[:, self.mask])
        return X


class EncodedBlackboxSurrogate(BlackboxSurrogate):
    """Syne Tune's surrogate with the encoding above; only the public static
    `make_model_pipeline` (which `fit_surrogate` calls) is replaced, so the structure is
    stock's: features, a final scaler without centring, the model."""

    @staticmethod
    def make_model_pipeline(configuration_space, fidelity_space, model, predict_curves=False):
        if not predict_curves:
            raise ValueError("the surrogate predicts whole curves (predict_curves=True)")
        numeric = [n for n, d in configuration_space.items()
                   if isinstance(d, cs.Domain) and (not isinstance(d, cs.Categorical) or numeric_choice(d))]
        categorical = [n for n, d in configuration_space.items()
                       if isinstance(d, cs.Categorical) and not numeric_choice(d)]
        union = []
        if categorical:
            union.append(("categorical", make_pipeline(
                Columns(names=categorical), OneHotEncoder(sparse_output=False, handle_unknown="ignore"))))
        if numeric:
            mask = [log_encoded(configuration_space[n]) for n in numeric]
            union.append(("numeric", make_pipeline(Columns(names=numeric), LogColumns(mask=mask),
                                                   StandardScaler())))
        return Pipeline([("features", FeatureUnion(union)),
                         ("standard scaler", StandardScaler(with_mean=False)),
                         ("model", model)])


def encoded_columns(configuration_space: dict, names, hyperparameters: pd.DataFrame) -> list[int]:
    """Columns of hyperparameters `names` in the encoded features: one-hot blocks first (as
    many columns as distinct values in the table), then the numeric ones, in space order."""
    index, position = {}, 0
    onehot = [n for n, d in configuration_space.items() if isinstance(d, cs.Categorical) and not numeric_choice(d)]
    for name in onehot:
        width = hyperparameters[name].nunique()
        index[name] = list(range(position, position + width))
        position += width
    for name, domain in configuration_space.items():
        if isinstance(domain, cs.Domain) and name not in onehot:
            index[name] = [position]
            position += 1
    return [i for n in names for i in index[n]]


# -- the model -----------------------------------------------------------------------------------------


class StableKNN(BaseEstimator):
    """Nearest-neighbour regression (Euclidean, 1/d weights, or only exact matches at d = 0)
    whose ties are broken by training order: scikit-learn's choice among tied neighbours
    depends on its search algorithm, and a numpy fast path must give the same answer."""

    def __init__(self, n_neighbors=1):
        self.n_neighbors = n_neighbors

    def fit(self, X, y):
        self.X_ = np.asarray(X, dtype=float)
        self.y_ = np.asarray(y, dtype=float).reshape((len(self.X_), -1))
        return self

    def predict_row(self, x: np.ndarray) -> np.ndarray:
        distance = np.sqrt(((self.X_ - x) ** 2).sum(axis=1))
        nearest = np.argsort(distance, kind="stable")[: min(self.n_neighbors, len(distance))]
        d = distance[nearest]
        weights = (d == 0).astype(float) if np.any(d == 0) else 1.0 / d
        return (weights @ self.y_[nearest]) / weights.sum()

    def predict(self, X):
        return np.stack([self.predict_row(x) for x in np.asarray(X, dtype=float)])


class SplitTargets(BaseEstimator):
    """One model per objective of a curve target (laid out epoch-major: e1 error, e1 time, e2
    error, ...), each on its own feature columns."""

    def __init__(self, models=None, features=None):
        self.models = models
        self.features = features  # objective index -> encoded columns it may use (None: all)

    def _columns(self, j):
        return (self.features or {}).get(j)

    def fit(self, X, y):
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        n = len(self.models)
        self.fitted_ = [clone(m).fit(X if self._columns(j) is None else X[:, self._columns(j)], y[:, j::n])
                        for j, m in enumerate(self.models)]
        return self

    def predict_row(self, x: np.ndarray) -> np.ndarray:
        n = len(self.fitted_)
        out = np.empty(sum(m.y_.shape[1] for m in self.fitted_))
        for j, model in enumerate(self.fitted_):
            cols = self._columns(j)
            out[j::n] = model.predict_row(x if cols is None else x[cols])
        return out

    def predict(self, X):
        return np.stack([self.predict_row(x) for x in np.asarray(X, dtype=float)])


def default_model(tabular: BlackboxTabular) -> SplitTargets:
    """Error curves: the nearest recorded configuration; epoch times: 4 neighbours by
    everything but the learning rate (see the module docstring)."""
    space = tabular.configuration_space
    time_columns = encoded_columns(space, [n for n in space if n not in LEARNING_RATE_NAMES],
                                   tabular.hyperparameters)
    return SplitTargets(models=[StableKNN(n_neighbors=1), StableKNN(n_neighbors=4)],
                        features={1: time_columns})


def fit_surrogate(tabular: BlackboxTabular, model=None) -> EncodedBlackboxSurrogate:
    """The body of Syne Tune's `add_surrogate`, with the encoding above. No `fit_differences`:
    with pandas 3 it fails ("assignment destination is read-only"), and nearest neighbours
    average cumulative times exactly as they would per-epoch times."""
    X, y = tabular.hyperparameter_objectives_values(predict_curves=True)
    return EncodedBlackboxSurrogate(
        X=X, y=y, configuration_space=tabular.configuration_space,
        objectives_names=tabular.objectives_names, fidelity_space=tabular.fidelity_space,
        fidelity_values=tabular.fidelity_values, surrogate=model or default_model(tabular),
        predict_curves=True, num_seeds=1)


class FastCurveBlackbox(CurveBlackbox):
    """The fitted surrogate's curves, computed with numpy from its fitted pipeline (encoders'
    `mean_`, `scale_`, `categories_`; the model's `predict_row`): identical values, ~50x
    faster than a one-row DataFrame through scikit-learn per trial start."""

    def __init__(self, fitted: EncodedBlackboxSurrogate):
        super().__init__(configuration_space=fitted.configuration_space,
                         fidelity_space=fitted.fidelity_space, objectives_names=fitted.objectives_names)
        self.num_seeds = 1
        pipeline = fitted.surrogate_pipeline[0]
        self._predict_row = pipeline.named_steps["model"].predict_row
        final = pipeline.named_steps["standard scaler"].scale_
        self._final_scale = np.where(final == 0, 1.0, final)
        self._encoders = [self._encoder(part) for _, part in pipeline.named_steps["features"].transformer_list]
        self._fidelities = np.asarray(fitted.fidelity_values)

    @staticmethod
    def _encoder(part):
        steps = [step for _, step in part.steps]
        names = list(steps[0].names)
        if isinstance(steps[1], OneHotEncoder):
            lookup = [{c: i for i, c in enumerate(values)} for values in steps[1].categories_]
            offsets = np.cumsum([0] + [len(values) for values in steps[1].categories_])

            def encode(config):
                out = np.zeros(offsets[-1])
                for name, positions, offset in zip(names, lookup, offsets):
                    if config[name] in positions:  # an unknown value: all zeros, as scikit-learn
                        out[offset + positions[config[name]]] = 1.0
                return out
            return encode
        log_mask, scaler = np.asarray(steps[1].mask, dtype=bool), steps[2]

        def encode(config):
            x = np.array([float(config[n]) for n in names])
            x[log_mask] = np.log(x[log_mask])
            return (x - scaler.mean_) / scaler.scale_
        return encode

    @property
    def fidelity_values(self):
        return self._fidelities

    def features(self, config) -> np.ndarray:
        return np.concatenate([encode(config) for encode in self._encoders]) / self._final_scale

    def curve(self, configuration) -> np.ndarray:
        return self._predict_row(self.features(configuration)).reshape((len(self._fidelities), -1))


def surrogate_blackbox(frame: pd.DataFrame, configs: dict[int, dict], search_space: dict, max_epochs: int,
                       metric: str = "validation_error", resource_attr: str = "epoch") -> FastCurveBlackbox:
    return FastCurveBlackbox(fit_surrogate(make_tabular(frame, configs, search_space, max_epochs,
                                                        metric, resource_attr)))


def held_out_quality(frame: pd.DataFrame, configs: dict[int, dict], search_space: dict,
                     max_epochs: int) -> dict:
    """Leave one recorded configuration out, fit the surrogate to the rest, predict the one
    left out: how well the surrogate serves configurations it has not seen."""
    from scipy.stats import spearmanr

    tabular = make_tabular(frame, configs, search_space, max_epochs)
    X, y = tabular.hyperparameter_objectives_values(predict_curves=True)
    y = y.to_numpy(dtype=float)
    final_true, final_predicted, time_errors = [], [], []
    for i in range(len(X)):
        rest = np.arange(len(X)) != i
        fitted = EncodedBlackboxSurrogate(
            X=X[rest].reset_index(drop=True), y=pd.DataFrame(y[rest]),
            configuration_space=tabular.configuration_space, objectives_names=tabular.objectives_names,
            fidelity_space=tabular.fidelity_space, fidelity_values=tabular.fidelity_values,
            surrogate=default_model(tabular), predict_curves=True, num_seeds=1)
        predicted = FastCurveBlackbox(fitted).objective_function(X.iloc[i].to_dict())
        true = y[i].reshape((max_epochs, -1))
        final_true.append(true[-1, 0])
        final_predicted.append(predicted[-1, 0])
        time_errors.append(abs(predicted[-1, 1] - true[-1, 1]) / true[-1, 1])
    final_true, final_predicted = np.array(final_true), np.array(final_predicted)
    return {
        "configurations": len(X),
        "final_error_mae": round(float(np.abs(final_true - final_predicted).mean()), 4),
        "final_error_spearman": round(float(spearmanr(final_true, final_predicted).statistic), 3),
        "relative_training_time_error": round(float(np.median(time_errors)), 3),
    }
