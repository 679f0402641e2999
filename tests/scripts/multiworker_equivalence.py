"""One worker of a two-process ``MultiWorkerMirroredStrategy`` run on loopback, compared with one device.

Usage: ``multiworker_equivalence.py METHODS`` (comma-separated method names) with ``TF_CONFIG`` naming two local
workers and this one's index. Each worker creates the strategy first (:func:`kspectral.distribute.make_strategy`),
builds the models of ``replica_equivalence.py`` (BatchNorm in the encoder and the heads, ``sync_batchnorm="all"``,
online probe, L2 regularizer) under its scope, and fits them on the same seeded dataset of global batches, sharded by
data (:func:`kspectral.distribute.shard_by_data`: worker ``w`` takes the ``w``-th half of each global batch). Then
it fits the same model on one device, without a strategy, and prints one JSON line per method:
``{"method", "worker", "replicas", "weight_diff", "moved", "loss_1", "loss_2"}``.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from kspectral.distribute import is_chief, make_strategy, replicas, shard_by_data  # noqa: E402

import keras  # noqa: E402
keras.config.disable_traceback_filtering()
strategy = make_strategy("multiworker")  # first: MultiWorkerMirroredStrategy must exist before other TF ops

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replica_equivalence import dataset, make_model  # noqa: E402


def main():
    worker = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    for method in sys.argv[1].split(","):
        with strategy.scope():
            distributed = make_model(method, "all")
        h2 = distributed.fit(shard_by_data(dataset()), epochs=2, verbose=0, shuffle=False).history
        single = make_model(method, "all")
        fresh = make_model(method, "all")
        fresh.build((None, 12))
        h1 = single.fit(dataset(), epochs=2, verbose=0, shuffle=False).history
        w1, w2 = single.get_weights(), distributed.get_weights()
        print(json.dumps({
            "method": method,
            "worker": worker,
            "chief": is_chief(strategy),
            "replicas": replicas(strategy),
            "weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2)),
            "moved": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, fresh.get_weights())),
            "loss_1": [float(v) for v in h1["loss"]],
            "loss_2": [float(v) for v in h2["loss"]],
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
