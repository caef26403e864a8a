"""The ``http`` connector: any product API declared in a pack (see docs/http-connector.md)."""

from connectors.http.cursors import cursor_name, load_cursor, save_cursor
from connectors.http.paging import PAGERS
from connectors.http.product import HttpProduct
from connectors.http.retry import RetryPolicy

__all__ = ["PAGERS", "HttpProduct", "RetryPolicy", "cursor_name", "load_cursor", "save_cursor"]
