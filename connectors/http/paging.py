"""Pagination styles, by name (a registry): each reads a resource to exhaustion, one page at a time.

Without a page-size parameter the connector cannot know the API's page size, so ``page`` and ``offset``
stop only on an empty page; with one, a short page is the last. Every style stops on a repeated cursor or
link (an API that loops would otherwise never end) and after ``MAX_PAGES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlsplit

from connectors.http.errors import Where, fail
from connectors.http.spec import Paginate
from connectors.http.wire import MISSING, dig

__all__ = ["MAX_PAGES", "PAGERS", "Page", "paginate"]

MAX_PAGES = 100_000


@dataclass(frozen=True)
class Page:
    url: str
    body: Any
    records: list[Mapping[str, Any]]
    link_next: str | None = None  # the Link header's rel="next", if any


Fetch = Callable[[str, Mapping[str, Any]], Page]
Pager = Callable[[Fetch, str, Mapping[str, Any], Paginate, Where], Iterator[Page]]


def _sized(params: Mapping[str, Any], spec: Paginate) -> dict[str, Any]:
    return {**params, spec.size_param: spec.size} if spec.size_param else dict(params)


def _last(page: Page, spec: Paginate) -> bool:
    return not page.records or (spec.size_param is not None and len(page.records) < spec.size)


def _none(fetch: Fetch, url: str, params: Mapping[str, Any], spec: Paginate, where: Where) -> Iterator[Page]:
    yield fetch(url, params)


def _page(fetch: Fetch, url: str, params: Mapping[str, Any], spec: Paginate, where: Where) -> Iterator[Page]:
    base = _sized(params, spec)
    for number in range(1, MAX_PAGES + 1):
        page = fetch(url, {**base, spec.param or "page": number})
        yield page
        pages = dig(page.body, spec.pages) if spec.pages else MISSING
        if isinstance(pages, int | Decimal | str) and str(pages).isdigit():
            if number >= int(pages) or not page.records:
                return
        elif _last(page, spec):
            return
    raise fail("E904", where, f"more than {MAX_PAGES} pages", hint="check paginate.pages")


def _offset(fetch: Fetch, url: str, params: Mapping[str, Any], spec: Paginate, where: Where) -> Iterator[Page]:
    base = _sized(params, spec)
    offset = 0
    for _ in range(MAX_PAGES):
        page = fetch(url, {**base, spec.param or "offset": offset})
        yield page
        if _last(page, spec):
            return
        offset += len(page.records)
    raise fail("E904", where, f"more than {MAX_PAGES} pages")


def _cursor(fetch: Fetch, url: str, params: Mapping[str, Any], spec: Paginate, where: Where) -> Iterator[Page]:
    if not spec.next:
        raise fail("E903", where, "cursor pagination needs `next`: the dotted path of the next cursor in the body")
    base = _sized(params, spec)
    token: Any = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        page = fetch(url, base if token is None else {**base, spec.param or "cursor": token})
        yield page
        token = dig(page.body, spec.next)
        if token is MISSING or token in (None, "") or not page.records:
            return
        if str(token) in seen:
            raise fail("E904", where, f"the API returned the cursor {str(token)[:40]!r} twice",
                       hint="check paginate.next: it must point at the next page's cursor")
        seen.add(str(token))
    raise fail("E904", where, f"more than {MAX_PAGES} pages")


def _link(fetch: Fetch, url: str, params: Mapping[str, Any], spec: Paginate, where: Where) -> Iterator[Page]:
    origin = urlsplit(url)[:2]
    current, current_params = url, _sized(params, spec)
    seen = {url}
    for _ in range(MAX_PAGES):
        page = fetch(current, current_params)
        yield page
        found = dig(page.body, spec.next) if spec.next else page.link_next
        if found is MISSING or not found or not page.records:
            return
        following = urljoin(page.url, str(found))
        if urlsplit(following)[:2] != origin:  # credentials go to the declared API only
            raise fail("E904", where, f"the next link leaves the API ({urlsplit(following).netloc})",
                       hint="a next link must stay on base_url's scheme and host")
        if following in seen:
            raise fail("E904", where, "the API returned the same next link twice")
        seen.add(following)
        current, current_params = following, {}
    raise fail("E904", where, f"more than {MAX_PAGES} pages")


PAGERS: Mapping[str, Pager] = {"none": _none, "page": _page, "offset": _offset, "cursor": _cursor, "link": _link}


def paginate(fetch: Fetch, url: str, params: Mapping[str, Any], spec: Paginate, where: Where) -> Iterator[Page]:
    pager = PAGERS.get(spec.style)
    if pager is None:
        raise fail("E903", where, f"unknown pagination style {spec.style!r}", hint=f"one of {', '.join(PAGERS)}")
    return pager(fetch, url, params, spec, where)
