"""The closed-form spectral counterpart of a registered method: :class:`SpectralCounterparts`, a base of
:class:`kspectral.methods.SSLModel` (Balestriero & LeCun 2022, arXiv:2205.11508; ``spec/theory.md``)."""

from __future__ import annotations


class SpectralCounterparts:
    """``spectral_baseline`` and ``spectral_counterpart`` of a method class (by its registry name)."""

    @classmethod
    def spectral_baseline(cls, graph, dim, features=None, **options):
        """Fit the closed-form spectral counterpart of this method's loss on ``graph``.

        Delegates to :func:`kspectral.spectral.baselines.spectral_baseline` with the class's canonical registry
        name: the table there says which estimator computes the counterpart and how firmly (theorem, derived or
        analogy).

        Args:
            graph: positive-pair graph ``G``, shape ``(N, N)``.
            dim: K, the embedding dimension.
            features: ``X`` of shape ``(N, D)`` for the linear regime; ``None`` for the nonparametric one.
            **options: hyper-parameters of the chosen estimator.

        Returns:
            The fitted estimator, of class :meth:`spectral_counterpart`.

        Raises:
            TypeError: a class that is not a registered method (e.g. a plain ``SSLModel``).
        """
        from kspectral.spectral import baselines

        return baselines.spectral_baseline(cls._canonical_name(), graph, dim, features=features, **options)

    @classmethod
    def spectral_counterpart(cls, regime="nonparametric", graph=None, dim=None):
        """Class name of the estimator :meth:`spectral_baseline` returns, in ``regime`` (``"nonparametric"`` or
        ``"linear"``); with ``graph`` (and ``dim``), the one for that graph. See
        :func:`kspectral.spectral.baselines.counterpart`.

        Raises:
            TypeError: a class that is not a registered method (e.g. a plain ``SSLModel``).
        """
        from kspectral.spectral import baselines

        return baselines.counterpart(cls._canonical_name(), regime, graph=graph, dim=dim)

    @classmethod
    def _canonical_name(cls):
        if cls.registry_name is None:
            raise TypeError(
                f"{cls.__name__} is not a registered method, so it has no closed-form spectral counterpart; use one "
                "of the method classes (kspectral.methods.canonical_names())"
            )
        return cls.registry_name
