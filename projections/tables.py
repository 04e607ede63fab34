"""A read-model table as data: its columns, how many leading ones are its
primary key and which hold JSON (stored as TEXT), with the statements the
projections write over it: select rows, load by key or by a list of values,
and upsert. A projection states its rows; the SQL is written here once."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from projections.store import Tx, chunks

Row = dict[str, Any]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    #: How many leading columns make the primary key.
    key: int = 1
    json_columns: frozenset[str] = frozenset()

    @property
    def key_columns(self) -> tuple[str, ...]:
        return self.columns[: self.key]

    def select(self, columns: Sequence[str] | None = None) -> str:
        return f"SELECT {', '.join(columns or self.columns)} FROM {self.name}"

    def encode(self, row: Row) -> list[Any]:
        return [
            json.dumps(row[c], sort_keys=True) if c in self.json_columns else row[c]
            for c in self.columns
        ]

    def decode(self, raw: Sequence[Any], columns: Sequence[str] | None = None) -> Row:
        row = dict(zip(columns or self.columns, raw, strict=True))
        for key in self.json_columns & row.keys():
            row[key] = None if row[key] is None else json.loads(row[key])
        return row

    def rows(
        self,
        tx: Tx,
        clause: str = "",
        params: Sequence[Any] = (),
        columns: Sequence[str] | None = None,
    ) -> list[Row]:
        """`SELECT ... FROM table {clause}` (a WHERE and ORDER BY), decoded."""
        statement = f"{self.select(columns)} {clause}".rstrip()
        return [self.decode(raw, columns) for raw in tx.all(statement, params)]

    def row(
        self,
        tx: Tx,
        clause: str,
        params: Sequence[Any],
        columns: Sequence[str] | None = None,
    ) -> Row | None:
        raw = tx.one(f"{self.select(columns)} {clause}", params)
        return None if raw is None else self.decode(raw, columns)

    def by_key(self, tx: Tx, key: Sequence[Any]) -> Row | None:
        where = " AND ".join(f"{c} = %s" for c in self.key_columns)
        return self.row(tx, f"WHERE {where}", key)

    def where_in(
        self,
        tx: Tx,
        column: str,
        values: Sequence[Any],
        *,
        also: str = "",
        params: Sequence[Any] = (),
    ) -> list[Row]:
        """The rows whose `column` is one of `values` (read in chunks), and
        that match `also` (a condition taking `params`) when given."""
        found: list[Row] = []
        for part in chunks(values):
            condition = f"{column} IN ({Tx.marks(len(part))})"
            if also:
                condition = f"{also} AND {condition}"
            found += self.rows(tx, f"WHERE {condition}", [*params, *part])
        return found

    def upsert(self, tx: Tx, rows: Iterable[Row]) -> None:
        """Inserts the rows, replacing every non-key column of one present."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns[self.key :])
        tx.executemany(
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) "
            f"VALUES ({Tx.marks(len(self.columns))}) "
            f"ON CONFLICT ({', '.join(self.key_columns)}) DO UPDATE SET {updates}",
            [self.encode(row) for row in rows],
        )
