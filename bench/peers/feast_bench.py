"""Feast's side of bench/peers/feast.ts: one feature repo, and one command per benchmark case.

Run by the driver with the interpreter of .tools/feast; every command prints one JSON object on the
last line of stdout. Times measured here cover only the Feast call named (the driver times the whole
process from outside for "with process start").

  feast_bench.py apply --repo DIR --data DIR --redis HOST:PORT
  feast_bench.py train --repo DIR --data DIR [--out FILE]
  feast_bench.py materialize --repo DIR --view NAME --start ISO --end ISO [--slices K]
  feast_bench.py online --repo DIR --view NAME --features N --ids 1,2,3

The definitions mirror the Flywheel project of bench/peers/feast-data.ts: entities user, merchant
and item (int64 join keys); views user_spend (7 d), user_activity (7 d), merchant_risk (30 d) over
one Parquet file each; item_features and item_features_small (30 d, f0..f49 float64, online) over
items.parquet and items_small.parquet; feature service ranking = item_features.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta

PROJECT = "feastbench"


def repo_yaml(repo: str, redis: str) -> str:
    return (
        f"project: {PROJECT}\n"
        f"registry: {os.path.join(repo, 'registry.db')}\n"
        "provider: local\n"
        "offline_store:\n  type: duckdb\n"
        f"online_store:\n  type: redis\n  connection_string: \"{redis}\"\n"
        "entity_key_serialization_version: 3\n"
    )


def definitions(data: str, features: int):
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    merchant = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.INT64)
    item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.INT64)

    def view(name, entity, key, ttl_days, fields, file, online):
        source = FileSource(name=f"{name}_src", path=os.path.join(data, file), timestamp_field="ts")
        schema = [Field(name=key, dtype=Int64)] + [Field(name=n, dtype=t) for n, t in fields]
        return FeatureView(name=name, entities=[entity], ttl=timedelta(days=ttl_days), schema=schema, source=source, online=online)

    spend = view("user_spend", user, "user_id", 7, [("amount_sum_1d", Float64), ("txn_count_1d", Int64)], "user_spend.parquet", False)
    activity = view("user_activity", user, "user_id", 7, [("night_share", Float64), ("distinct_merchants", Int64)], "user_activity.parquet", False)
    risk = view("merchant_risk", merchant, "merchant_id", 30, [("chargeback_rate", Float64), ("txn_count_30d", Int64)], "merchant_risk.parquet", False)
    item_fields = [(f"f{i}", Float64) for i in range(features)]
    items = view("item_features", item, "item_id", 30, item_fields, "items.parquet", True)
    items_small = view("item_features_small", item, "item_id", 30, item_fields, "items_small.parquet", True)
    ranking = FeatureService(name="ranking", features=[items])
    return [user, merchant, item, spend, activity, risk, items, items_small, ranking]


TRAINING_FEATURES = [
    "user_spend:amount_sum_1d", "user_spend:txn_count_1d",
    "user_activity:night_share", "user_activity:distinct_merchants",
    "merchant_risk:chargeback_rate", "merchant_risk:txn_count_30d",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["apply", "train", "materialize", "online"])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--data")
    parser.add_argument("--redis")
    parser.add_argument("--out")
    parser.add_argument("--view")
    parser.add_argument("--start")
    parser.add_argument("--end")
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--ids")
    parser.add_argument("--slices", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    from feast import FeatureStore

    imported = time.perf_counter()
    if args.command == "apply":
        os.makedirs(args.repo, exist_ok=True)
        with open(os.path.join(args.repo, "feature_store.yaml"), "w") as f:
            f.write(repo_yaml(args.repo, args.redis))
        store = FeatureStore(repo_path=args.repo)
        store.apply(definitions(args.data, args.features))
        result = {"applied": True}
    elif args.command == "train":
        import pandas as pd

        store = FeatureStore(repo_path=args.repo)
        entity_df = pd.read_parquet(os.path.join(args.data, "spine.parquet")).rename(columns={"ts": "event_timestamp"})
        ready = time.perf_counter()
        table = store.get_historical_features(entity_df=entity_df, features=TRAINING_FEATURES).to_arrow()
        seconds = time.perf_counter() - ready
        if args.out:
            import pyarrow.parquet as pq

            pq.write_table(table, args.out)
        result = {"seconds": seconds, "rows": table.num_rows, "columns": table.column_names, "import_seconds": imported - started, "setup_seconds": ready - imported}
    elif args.command == "materialize":
        store = FeatureStore(repo_path=args.repo)
        start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
        step = (end - start) / args.slices
        ready = time.perf_counter()
        # In time slices, one after another: one materialize() of 1M entities x 50 features grew past
        # 21 GB of memory on a 23 GB machine (the whole interval is read into pandas, then protobuf).
        for k in range(args.slices):
            store.materialize(start_date=start + k * step, end_date=end if k == args.slices - 1 else start + (k + 1) * step, feature_views=[args.view])
        result = {"seconds": time.perf_counter() - ready}
    else:
        store = FeatureStore(repo_path=args.repo)
        ids = [int(x) for x in args.ids.split(",")]
        names = [f"f{i}" for i in range(args.features)]
        found = store.get_online_features(features=[f"{args.view}:{n}" for n in names], entity_rows=[{"item_id": i} for i in ids]).to_dict()
        result = {"values": {str(i): [found[n][k] for n in names] for k, i in enumerate(ids)}}
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
