"""Similar products in stock for one that is out of stock: the encoder the action server
embeds product texts with, and the line the stock answer ends with.

The first question after a start embeds the whole catalogue (seconds, more while the model
loads) unless :func:`warm_up` did; a question that cannot wait that long
(ALTERNATIVES_BUDGET_MS) is answered without alternatives while the embedding carries on, so
the next one has them.

Example:
    >>> await alternatives_line("WID-1090")
    'Similar products in stock: Grey Aluminium Widget XL (WID-1156), 773 available in ...'
"""

from __future__ import annotations

import asyncio
import logging
import threading

from actions.erp_calls import erp_call
from actions.settings import current_settings
from erp.alternatives import Alternative, Alternatives, alternatives_for, catalogue_products
from erp.product_vectors import TextEncoder, product_vectors
from i18n.formatting import listing
from i18n.texts import current_language, say

logger = logging.getLogger(__name__)

MAX_OFFERS = 3

_encoder: TextEncoder | None = None
_encoder_lock = threading.Lock()


def product_encoder() -> TextEncoder:
    """The process's encoder for product texts (all-MiniLM-L6-v2 from its PyPI package, never
    a download), created on first use; vectors already kept in var/vectors (`python -m bot
    setup` embeds the catalogue) are read from there, and the model loads only for new texts."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            from retrieval.vector_cache import product_embedder

            _encoder = product_embedder()
        return _encoder


def use_encoder(encoder: TextEncoder | None) -> None:
    """Replace the process's encoder (tests; None: create the real one again on first use)."""
    global _encoder
    with _encoder_lock:
        _encoder = encoder


def warm_up() -> None:
    """Load the encoder and embed the catalogue now, outside any question (the action
    server may run this in a background thread at start), so that the first out-of-stock
    question has alternatives too. The database session is closed before embedding."""
    from erp.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        products = catalogue_products(session=session)
    product_vectors(products, product_encoder())


def budget_seconds() -> float:
    """How long a stock answer waits for alternatives, in seconds (ALTERNATIVES_BUDGET_MS,
    read at start: `actions.settings`)."""
    return current_settings().alternatives_budget


async def alternatives_line(sku: str) -> str:
    """What to offer instead of ``sku``: up to three similar products in stock, or that none
    is; empty when they could not be found (in time), which is logged, never raised."""
    try:
        found = await asyncio.wait_for(
            erp_call(alternatives_for, sku=sku, limit=MAX_OFFERS, encoder=product_encoder()),
            timeout=budget_seconds(),
        )
    except TimeoutError:
        logger.warning("alternatives for %s not ready within the budget; answered without", sku)
        return ""
    except Exception:  # the stock answer must not fail for want of alternatives
        logger.exception("could not find alternatives for %s", sku)
        return ""
    return describe_alternatives(found)


def describe_alternatives(found: Alternatives) -> str:
    """One sentence offering the products of ``found`` in stock, or saying there are none,
    in this turn's language."""
    offers = found.in_stock[:MAX_OFFERS]
    if not offers:
        return say("alternatives.none_in_stock")
    separator = "；" if current_language() == "zh" else "; "
    listed = separator.join(_offer(a) for a in offers)
    return say("alternatives.one" if len(offers) == 1 else "alternatives.many", offers=listed)


def _offer(product: Alternative) -> str:
    facts = {"name": product.name, "sku": product.sku, "available": product.available}
    if not product.cities:
        return say("alternatives.offer", **facts)
    cities = listing(list(product.cities), current_language())
    return say("alternatives.offer_in", cities=cities, **facts)
