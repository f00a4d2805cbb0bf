"""manage.py benchmark_search: recall, latency and throughput of tenant-scoped vector search."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import CommandError, CommandParser

from agencies.audit.bypass import PlatformCommand
from search.bench import benchmark_search
from search.engine.vector_index import EF_SEARCH_MAX


class Command(PlatformCommand):
    help = ("Load synthetic agencies of several sizes into the shared face table and measure "
            "recall@10, p50/p95 latency and QPS of the production query, against NumPy and FAISS.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--faces", type=int, default=200_000,
                            help="Total faces; split as 1k, 10k, 100k and the rest unless --sizes")
        parser.add_argument("--sizes", help="Comma-separated agency sizes (overrides --faces)")
        parser.add_argument("--queries", type=int, default=200, help="Queries per agency")
        parser.add_argument("--index-min", type=int, default=20_000,
                            help="An agency gets its own HNSW graph from this many faces")
        parser.add_argument("--ef-search", default="",
                            help="Comma-separated hnsw.ef_search values to measure as well")
        parser.add_argument("--keep", action="store_true", help="Keep the synthetic rows")

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = [int(s) for s in options["sizes"].split(",")] if options["sizes"] else _split(
            options["faces"])
        sweep = tuple(int(v) for v in options["ef_search"].split(",") if v)
        if not all(1 <= v <= EF_SEARCH_MAX for v in sweep):
            raise CommandError(f"--ef-search values must be 1 to {EF_SEARCH_MAX} (pgvector's limit)")
        benchmark_search.cleanup()
        try:
            result = benchmark_search.run(sizes, options["queries"], options["index_min"],
                                          log=lambda line: self.stderr.write(line), ef_sweep=sweep)
        finally:
            if not options["keep"]:
                benchmark_search.cleanup()
        header = f"{'faces':>9} {'path':>17} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7} " \
                 f"{'QPS':>7} {'cold p95':>8} {'NumPy QPS':>9} {'FAISS flat':>10} " \
                 f"{'FAISS HNSW':>10} {'its recall':>10}"
        self.stdout.write(header)
        for row in result.agencies:
            self.stdout.write(f"{row['faces']:>9} {row['path']:>17} {row['recall_at_10']:>9} "
                              f"{row['p50_ms']:>7} {row['p95_ms']:>7} {row['qps']:>7} "
                              f"{row['first_pass_p95_ms']:>8} {row['numpy_qps']:>9} "
                              f"{row['faiss_flat_qps']:>10} "
                              f"{row['faiss_hnsw_qps']:>10} {row['faiss_hnsw_recall_at_10']:>10}")
            for point in row["ef_sweep"]:
                self.stdout.write(f"{'':>9} {'ef_search ' + str(point['ef_search']):>17} "
                                  f"{point['recall_at_10']:>9} {point['p50_ms']:>7} "
                                  f"{point['p95_ms']:>7} {point['qps']:>7}")
        self.stdout.write(f"loaded in {result.load_seconds} s; HNSW graphs built in "
                          f"{result.index_build_seconds} s")
        self.stdout.write(json.dumps(asdict(result)))


def _split(total: int) -> list[int]:
    sizes = [s for s in (1_000, 10_000, 100_000) if s < total]
    rest = total - sum(sizes)
    return [*sizes, rest] if rest > 0 else sizes
