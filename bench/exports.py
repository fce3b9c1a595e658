"""Spreadsheet exports: does memory stay flat as rows grow, and how fast are they written?

Each size runs in a child process that writes that many delivery-log-like rows (13
columns: text ids and phone numbers, a time, Chinese names and districts, numbers,
one formula-looking detail in 50) with ``dispatcher.exports.write_xlsx`` (or
``write_csv``) to a temporary file; the parent reads the child's peak RSS (``wait4``)
and its wall time. Rows are generated, never held in a list: what grows with the rows
is the writer's.

Usage: .venv/bin/python bench/exports.py [--rows 0,20000,200000] [--format xlsx,csv]
Prints the machine and one Markdown table row per size and format, for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from common import run_child  # bench/common.py: the script's folder is on the path

from dispatcher.files.exports import Column, write_csv, write_xlsx

COLUMNS = [Column("编号"), Column("时间", "datetime"), Column("活动"), Column("活动名称"),
           Column("渠道"), Column("投放", "number"), Column("号码/地址"), Column("姓名"),
           Column("区"), Column("状态"), Column("错误代码"), Column("说明"),
           Column("尝试次数", "number")]
DISTRICTS = ("高新区", "锦江区", "青羊区", "金牛区", "武侯区")
START = datetime(2019, 6, 3, 1, 0, tzinfo=UTC)


def rows(count: int) -> Iterator[Sequence[object]]:
    for i in range(count):
        failed = i % 50 == 0
        yield (str(i + 1), START + timedelta(seconds=i), "pingan-ding", "平安高新 扫黑除恶专项宣传",
               "短信", 1, f"+86138{i % 100_000_000:08d}", f"王小明{i % 1000}",
               DISTRICTS[i % len(DISTRICTS)], "发送失败" if failed else "已送达",
               "30007" if failed else None, "=carrier said no" if failed else None,
               1 + (i % 3))


def child(count: int, fmt: str) -> None:
    with tempfile.TemporaryFile() as out:
        if fmt == "xlsx":
            write_xlsx(out, COLUMNS, rows(count), ZoneInfo("Asia/Shanghai"), "投放记录")
        else:
            with open(out.fileno(), "w", encoding="utf-8", newline="", closefd=False) as text:
                write_csv(text, COLUMNS, rows(count), ZoneInfo("Asia/Shanghai"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="0,20000,200000")
    parser.add_argument("--format", default="xlsx,csv")
    parser.add_argument("--child", nargs=2, metavar=("ROWS", "FORMAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1])
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print("| format | rows | wall s | rows/s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for fmt in args.format.split(","):
        for count in (int(n) for n in args.rows.split(",")):
            wall, rss = run_child([sys.executable, __file__, "--child", str(count), fmt],
                                  dict(os.environ))
            rate = f"{count / wall:,.0f}" if count else "-"
            print(f"| {fmt} | {count:,} | {wall:.1f} | {rate} | {rss / 2**20:.1f} |")


if __name__ == "__main__":
    main()
