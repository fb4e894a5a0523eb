"""The requests session that vk_api's calls go through.

Imported with vk_api by the first VK account (``VkConnector.api``), so a hub without one loads
neither vk_api nor requests.
"""

from __future__ import annotations

from typing import Any

import requests

VK_HOST = "https://api.vk.ru"
HTTP_TIMEOUT_S = 30.0


class ApiSession(requests.Session):
    """A requests session that sends vk_api's calls to our base URL, with a timeout.

    vk_api posts without any timeout, which could hold a thread forever on a dead connection.
    """

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Rewrite the host and default the timeout."""
        verb = method.decode() if isinstance(method, bytes) else method
        target = url.decode() if isinstance(url, bytes) else url
        if self.base != VK_HOST and target.startswith(VK_HOST):
            target = self.base + target[len(VK_HOST) :]
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return super().request(verb, target, *args, **kwargs)
